package training

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/preprocess"
	"github.com/e2hil/e2hil/models/safetensors"
	"github.com/e2hil/e2hil/training/features"
	"github.com/e2hil/e2hil/training/replay"
	"github.com/e2hil/e2hil/training/reward"
	"github.com/e2hil/e2hil/training/sac"
)

// cameraPath is the in-process trainer's image path: the frozen ResNet-10,
// the writers that put transitions with images into the buffers (features
// once per observation when policy.image_feature_cache, else the images),
// and the policy's per-step features.
type cameraPath struct {
	keys            []string // env feature keys, in input_features order
	cams            []features.Camera
	backbone        features.Backbone // small batches: the policy, the writers
	batchBackbone   features.Backbone // the uncached sampler's batches
	online, offline *features.Writer
	img             []float32
	feat            [][]float32
	// net and params: the frozen ResNet-10, saved with checkpoints for the
	// ONNX export.
	net    models.ResNet10
	params *models.Params
}

// backbonePrefix names the frozen ResNet-10's parameters in its own store.
const backbonePrefix = "backbone"

// newCameraPath returns nil without camera inputs. It adds the cameras to
// spec and checks them against the environment's.
func newCameraPath(cfg configs.TrainConfig, es env.Spec, spec *models.SACSpec) (*cameraPath, error) {
	images := cfg.Policy.InputFeatures.Images()
	if len(images) == 0 {
		return nil, nil
	}
	if cfg.Dataset != nil {
		return nil, fmt.Errorf("training: demonstrations with cameras are not loaded yet (dataset.root with policy.input_features cameras)")
	}
	r := models.ResNet10{Prefix: backbonePrefix}
	p := models.NewParams()
	if name := cfg.Policy.VisionEncoderName; name != nil && isClassifierCheckpoint(*name) {
		var err error
		if r, err = loadClassifierBackbone(*name, p); err != nil {
			return nil, fmt.Errorf("training: policy.vision_encoder_name: %w", err)
		}
	} else if name != nil {
		r.Variant = models.ResNetHILSERL
		if err := models.LoadPretrainedResNet10(*name, r, p); err != nil {
			return nil, fmt.Errorf("training: policy.vision_encoder_name: %w", err)
		}
	} else if err := r.AddParams(p, rand.New(rand.NewPCG(uint64(cfg.Seed), 0xbb))); err != nil {
		return nil, err // a frozen random backbone: no pretrained weights named
	}
	cp := &cameraPath{net: r, params: p}
	norm := func(e features.Extractor) *features.Normalized {
		n := &features.Normalized{Net: e}
		copy(n.Mean[:], preprocess.ImageNetMean)
		copy(n.Std[:], preprocess.ImageNetStd)
		return n
	}
	for _, f := range images {
		var cam *env.CameraSpec
		for i := range es.Cameras {
			if es.Cameras[i].Key == f.Name {
				cam = &es.Cameras[i]
			}
		}
		if cam == nil {
			return nil, fmt.Errorf("training: policy.input_features.%s: the environment has no such camera", f.Name)
		}
		if f.Shape[1] != cam.H || f.Shape[2] != cam.W {
			return nil, fmt.Errorf("training: policy.input_features.%s: shape %v, the camera gives 3×%d×%d", f.Name, f.Shape, cam.H, cam.W)
		}
		if len(cp.cams) > 0 && (cam.H != cp.cams[0].Height || cam.W != cp.cams[0].Width) {
			return nil, fmt.Errorf("training: cameras of different sizes (%s)", f.Name)
		}
		c, h, w := r.OutShape(cam.H, cam.W)
		cp.keys = append(cp.keys, f.Name)
		cp.cams = append(cp.cams, features.Camera{Height: cam.H, Width: cam.W, FeatureSize: c * h * w})
		spec.Cameras = append(spec.Cameras, models.CameraSpec{Name: f.Name, Channels: c, Height: h, Width: w})
		cp.feat = append(cp.feat, make([]float32, c*h*w))
	}
	spec.ImagePoolingDim, spec.ImageDropout = cfg.Policy.ImageEmbeddingPoolingDim, configs.ImageDropout
	h, w := cp.cams[0].Height, cp.cams[0].Width
	small, err := r.NewFeatureExtractor(p, max(1, cfg.Policy.DrQCachedCopies), h, w)
	if err != nil {
		return nil, err
	}
	cp.backbone, cp.batchBackbone = norm(small), norm(small)
	if !cfg.Policy.ImageFeatureCache {
		big, err := r.NewFeatureExtractor(p, min(cfg.BatchSize, 64), h, w)
		if err != nil {
			return nil, err
		}
		cp.batchBackbone = norm(big)
	}
	cp.img = make([]float32, 3*h*w)
	return cp, nil
}

// isClassifierCheckpoint tells a reward-classifier checkpoint directory
// (e2hil reward train) from a helper2424/resnet10 one.
func isClassifierCheckpoint(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, reward.CheckpointSpec))
	return err == nil
}

// loadClassifierBackbone copies the ResNet-10 of a reward-classifier
// checkpoint (the user's own frames trained it) into p under
// backbonePrefix, as the policy's frozen encoder.
func loadClassifierBackbone(dir string, p *models.Params) (models.ResNet10, error) {
	raw, err := os.ReadFile(filepath.Join(dir, reward.CheckpointSpec))
	if err != nil {
		return models.ResNet10{}, err
	}
	var cs models.ClassifierSpec
	if err := json.Unmarshal(raw, &cs); err != nil {
		return models.ResNet10{}, fmt.Errorf("%s: %w", filepath.Join(dir, reward.CheckpointSpec), err)
	}
	for k := range 3 {
		if cs.ImageMean[k] != preprocess.ImageNetMean[k] || cs.ImageStd[k] != preprocess.ImageNetStd[k] {
			return models.ResNet10{}, fmt.Errorf("%s: image_mean %v / image_std %v: the policy's encoder normalises with ImageNet's", dir, cs.ImageMean, cs.ImageStd)
		}
	}
	src := cs.ResNet()
	r := models.ResNet10{Prefix: backbonePrefix, Variant: src.Variant}
	if err := r.AddParams(p, nil); err != nil { // filled below
		return r, err
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, reward.CheckpointModel))
	if err != nil {
		return r, err
	}
	names := models.NewParams() // the classifier's backbone names, in walk order
	if err := src.AddParams(names, nil); err != nil {
		return r, err
	}
	srcNames := src.ParamNames(names, false)
	dstNames := r.ParamNames(p, false)
	if len(srcNames) != len(dstNames) {
		return r, fmt.Errorf("%s: %d backbone tensors, want %d", dir, len(srcNames), len(dstNames))
	}
	for i, sn := range srcNames {
		t, ok := f.Tensors[sn]
		if !ok {
			return r, fmt.Errorf("%s: %s lacks %s", dir, reward.CheckpointModel, sn)
		}
		dst := p.Get(dstNames[i])
		if !slices.Equal(t.Shape, []int(dst.Shape())) {
			return r, fmt.Errorf("%s: %s has shape %v, want %v", dir, sn, t.Shape, dst.Shape())
		}
		copy(p.Data(dstNames[i]), t.Data)
	}
	return r, nil
}

// observations is the buffers' camera storage.
func (cp *cameraPath) observations(cfg configs.SACConfig) replay.ObservationConfig {
	oc := replay.ObservationConfig{Format: replay.Features, Copies: max(1, cfg.DrQCachedCopies)}
	for _, c := range cp.cams {
		if cfg.ImageFeatureCache {
			oc.Sizes = append(oc.Sizes, c.FeatureSize)
		} else {
			oc.Sizes = append(oc.Sizes, c.ImageSize())
		}
	}
	if !cfg.ImageFeatureCache {
		oc.Format, oc.Copies = replay.Images, 1
	}
	return oc
}

// attach makes the writers of both buffers and returns the learner's
// sampler (the uncached mode shifts and encodes each batch).
func (cp *cameraPath) attach(cfg configs.TrainConfig, online, offline *replay.Buffer, mix replay.Mix) (sac.Sampler, error) {
	shift := cfg.Policy.DrQCachedCopies > 0
	var err error
	if cp.online, err = features.NewWriter(online, cp.backbone, cp.cams, shift, uint64(cfg.Seed)+1); err != nil {
		return nil, err
	}
	if cp.offline, err = features.NewWriter(offline, cp.backbone, cp.cams, shift, uint64(cfg.Seed)+2); err != nil {
		return nil, err
	}
	if !cfg.Policy.ImageFeatureCache {
		return features.NewSampler(mix, cp.batchBackbone, cp.cams, true), nil
	}
	return mix, nil
}

// images returns obs's frames in camera order.
func (cp *cameraPath) images(obs env.Observation) ([][]uint8, error) {
	out := make([][]uint8, len(cp.keys))
	for i, k := range cp.keys {
		im, ok := obs.Images[k]
		if !ok || len(im.Pix) != cp.cams[i].ImageSize() {
			return nil, fmt.Errorf("training: observation lacks a %d×%d %s frame", cp.cams[i].Height, cp.cams[i].Width, k)
		}
		out[i] = im.Pix
	}
	return out, nil
}

// setPolicyFeatures runs the backbone on obs's frames for the policy.
func (cp *cameraPath) setPolicyFeatures(p *sac.Policy, obs env.Observation) error {
	ims, err := cp.images(obs)
	if err != nil {
		return err
	}
	for i, c := range cp.cams {
		if err := features.ToCHW(cp.img, ims[i], c.Height, c.Width, features.Shift{}); err != nil {
			return err
		}
		if err := cp.backbone.Features(cp.feat[i], cp.img, 1); err != nil {
			return err
		}
		if err := p.SetFeatures(i, cp.feat[i]); err != nil {
			return err
		}
	}
	return nil
}

// add stores a transition with its frames (human ones in both buffers).
func (cp *cameraPath) add(tr replay.Transition, obs, next env.Observation) error {
	oi, err := cp.images(obs)
	if err != nil {
		return err
	}
	ni, err := cp.images(next)
	if err != nil {
		return err
	}
	if tr.Human {
		if err := cp.offline.Add(tr, oi, ni); err != nil {
			return err
		}
	}
	return cp.online.Add(tr, oi, ni)
}
