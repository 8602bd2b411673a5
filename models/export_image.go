package models

import (
	"fmt"
	"strconv"

	"github.com/e2hil/e2hil/models/onnx"
)

// ImagePolicyModelVersion versions the layout of a policy with cameras.
const ImagePolicyModelVersion = "sac-image-v1"

// PolicyCamera describes one camera input of an exported image policy.
type PolicyCamera struct {
	// Key is the feature name and the ONNX input ("observation.images.front").
	Key string
	// Height, Width: the image the model takes, [N, 3, Height, Width] float32
	// in [0, 1] (after the ROI crop and resize of models/preprocess).
	Height, Width int
	// Mean, Std: the VISUAL MEAN_STD normalisation applied in the graph
	// (ImageNet's statistics for a pretrained backbone).
	Mean, Std [3]float32
	// Crop is the ROI [top, left, height, width] in source pixels the actor
	// applies before resizing, recorded in the metadata (nil: none).
	Crop []int
}

// ExportImagePolicy writes the deterministic actor of a policy with
// cameras: inputs observation.state [N, S] (raw) and one [N, 3, H, W] image
// per camera (s.Cameras order; values in [0, 1]); the frozen backbone bb
// (weights in bp, BatchNorm folded) runs once over all cameras stacked on
// the batch axis, then per camera the spatial-embedding encoder, then the
// state encoder and the actor and gripper heads as ExportPolicy. The result
// is the Gorgonia pipeline backbone → SACSpec.EncodeObservation → Actor in
// eval mode (no dropout).
func (s SACSpec) ExportImagePolicy(p *Params, bb ResNet10, bp *Params, cams []PolicyCamera, info PolicyExportInfo) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(s.Cameras) == 0 {
		return nil, fmt.Errorf("models: export: the policy has no cameras (ExportPolicy)")
	}
	if len(cams) != len(s.Cameras) {
		return nil, fmt.Errorf("models: export: %d camera descriptions for a policy with %d cameras", len(cams), len(s.Cameras))
	}
	for i, c := range cams {
		sc := s.Cameras[i]
		if c.Key != sc.Name {
			return nil, fmt.Errorf("models: export: camera %d is %q, the policy's is %q", i, c.Key, sc.Name)
		}
		if c.Height != cams[0].Height || c.Width != cams[0].Width || c.Mean != cams[0].Mean || c.Std != cams[0].Std {
			return nil, fmt.Errorf("models: export: cameras %q and %q differ in size or normalisation; they share one backbone pass", cams[0].Key, c.Key)
		}
		ch, oh, ow := bb.OutShape(c.Height, c.Width)
		if ch != sc.Channels || oh != sc.Height || ow != sc.Width {
			return nil, fmt.Errorf("models: export: camera %q: the backbone maps %dx%d images to %dx%dx%d, the policy reads %dx%dx%d",
				c.Key, c.Height, c.Width, ch, oh, ow, sc.Channels, sc.Height, sc.Width)
		}
		for k := range 3 {
			if !(c.Std[k] > 0) {
				return nil, fmt.Errorf("models: export: camera %q: std[%d] = %v must be > 0", c.Key, k, c.Std[k])
			}
		}
	}
	// One store for the emitters: the backbone's and the policy's weights
	// (disjoint names), copied for the export only.
	all := NewParams()
	for _, src := range []*Params{bp, p} {
		for _, n := range src.Names() {
			if all.Get(n) != nil {
				return nil, fmt.Errorf("models: export: parameter %q is both in the backbone and in the policy", n)
			}
			copy(all.Add(n, src.Get(n).Shape()...).Data().([]float32), src.Data(n))
		}
	}
	g := onnx.NewGraph("e2hil_sac_image_policy")
	v := NewONNXVision(g, all)
	keys := make([]string, len(cams))
	for i, c := range cams {
		g.Input(c.Key, -1, 3, int64(c.Height), int64(c.Width))
		keys[i] = c.Key
	}
	x := keys[0]
	if len(keys) > 1 {
		x = v.op("Concat", keys, onnx.AttrInt("axis", 0))
	}
	x = v.Normalize(x, cams[0].Mean, cams[0].Std)
	feat := v.ResNet(bb, x, cams[0].Height, cams[0].Width)
	parts := []string{feat}
	if len(keys) > 1 { // equal parts along the batch axis, camera order
		parts = make([]string, len(keys))
		for i := range parts {
			parts[i] = g.UniqueName("Split")
		}
		g.Node("Split", []string{feat}, parts, onnx.AttrInt("axis", 0))
	}
	latents := make([]string, len(cams))
	for i, sc := range s.Cameras {
		latents[i] = v.SpatialEncoder(ImagePrefix(i), parts[i], sc.Channels, sc.Height*sc.Width, s.ImagePoolingDim)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	crops := map[string][]int{}
	for _, c := range cams {
		if c.Crop != nil {
			crops[c.Key] = c.Crop
		}
	}
	extra := []onnx.KV{
		{Key: "image_features", Value: jsonString(keys)},
		{Key: "image_size", Value: jsonString([]int{cams[0].Height, cams[0].Width})},
		{Key: "image_range", Value: "[0, 1]"},
		{Key: "image_mean", Value: jsonString(cams[0].Mean)},
		{Key: "image_std", Value: jsonString(cams[0].Std)},
		{Key: "crop_params_dict", Value: jsonString(crops)},
		{Key: "backbone", Value: bb.Variant},
	}
	e := &exporter{g: g, p: all}
	params := p.Count(p.WithPrefix(PrefixEncoder, PrefixActor, PrefixDiscrete)...) + bp.Count(bp.Names()...)
	return s.exportPolicy(g, e, latents, info, ImagePolicyModelVersion, params,
		"e2hil SAC image policy: frozen ResNet-10 → spatial embeddings per camera + state encoder → deterministic action tanh(mean)"+
			" (backbone parameters "+strconv.Itoa(bp.Count(bp.Names()...))+")", extra)
}
