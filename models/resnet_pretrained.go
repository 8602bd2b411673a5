package models

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/e2hil/e2hil/models/safetensors"
)

// Pretrained ResNet-10 weights: the Hugging Face model helper2424/resnet10
// (HILSERL.md §1.2: model.safetensors + config.json, custom code
// "resnet10"). Its tensor names come from its modeling code, read in
// github.com/helper2424/resnet10 (resnet_10/modeling_resnet.py and
// convert_jax_to_pytroch.py, the script that produced the checkpoint):
//
//	embedder.0.weight                               stem conv [64,3,7,7]
//	embedder.1.group_norm.{weight,bias}             stem GroupNorm(4)
//	encoder.stages.{i}.conv{1,2}.conv.weight        Conv2dJax wraps nn.Conv2d as .conv
//	encoder.stages.{i}.norm{1,2}.group_norm.{weight,bias}
//	encoder.stages.{i}.shortcut.0.conv.weight       (i = 1…3)
//	encoder.stages.{i}.shortcut.1.group_norm.{weight,bias}
//
// These names are read from that code, not from the published
// model.safetensors itself (not reachable from here); a file whose names
// differ is refused with the list of what is missing and unexpected.

// HFName maps one of the network's parameter names to helper2424/resnet10's
// tensor name; ok is false for names it does not hold (running statistics).
func (r ResNet10) HFName(name string) (hf string, ok bool) {
	pre := r.name("")
	if !strings.HasPrefix(name, pre) {
		return "", false
	}
	n := strings.TrimPrefix(name, pre)
	switch {
	case n == "embedder.conv.weight":
		return "embedder.0.weight", true
	case n == "embedder.norm.weight" || n == "embedder.norm.bias":
		return "embedder.1.group_norm." + strings.TrimPrefix(n, "embedder.norm."), true
	case strings.HasPrefix(n, "stages."):
		rest := n // stages.i.<layer>.<leaf>
		parts := strings.Split(rest, ".")
		if len(parts) < 4 {
			return "", false
		}
		stage, leaf := parts[1], parts[len(parts)-1]
		layer := strings.Join(parts[2:len(parts)-1], ".")
		base := "encoder.stages." + stage + "."
		switch layer {
		case "conv1", "conv2":
			return base + layer + ".conv.weight", leaf == "weight"
		case "norm1", "norm2":
			return base + layer + ".group_norm." + leaf, leaf == "weight" || leaf == "bias"
		case "shortcut.conv":
			return base + "shortcut.0.conv.weight", leaf == "weight"
		case "shortcut.norm":
			return base + "shortcut.1.group_norm." + leaf, leaf == "weight" || leaf == "bias"
		}
	}
	return "", false
}

// hfConfig is the part of helper2424/resnet10's config.json the loader checks.
type hfConfig struct {
	ModelType     string `json:"model_type"`
	NumChannels   int    `json:"num_channels"`
	EmbeddingSize int    `json:"embedding_size"`
	HiddenSizes   []int  `json:"hidden_sizes"`
	Depths        []int  `json:"depths"`
	HiddenAct     string `json:"hidden_act"`
}

// LoadPretrainedResNet10 copies helper2424/resnet10 weights from dir
// (config.json and model.safetensors, as downloaded from the Hub) into the
// ResNetHILSERL network r of p, after checking that the config describes
// that network. Every tensor of the network must be in the file, with its
// shape; tensors of the file outside it are an error too.
func LoadPretrainedResNet10(dir string, r ResNet10, p *Params) error {
	if r.variant() != ResNetHILSERL {
		return fmt.Errorf("models: pretrained ResNet-10 weights need the %q variant (GroupNorm, SAME padding), got %q", ResNetHILSERL, r.variant())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return fmt.Errorf("models: pretrained ResNet-10: %w", err)
	}
	var cfg hfConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("models: pretrained ResNet-10: %s: %w", filepath.Join(dir, "config.json"), err)
	}
	want := hfConfig{ModelType: "resnet10", NumChannels: resNetInputCh, EmbeddingSize: resNetStem, HiddenSizes: ResNetStages[:], Depths: []int{1, 1, 1, 1}, HiddenAct: "relu"}
	if !reflect.DeepEqual(cfg, want) {
		return fmt.Errorf("models: pretrained ResNet-10: config.json describes %+v, want %+v", cfg, want)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return fmt.Errorf("models: pretrained ResNet-10: %w", err)
	}
	used := map[string]bool{}
	var missing []string
	for _, name := range r.ParamNames(p, true) {
		hf, ok := r.HFName(name)
		if !ok {
			return fmt.Errorf("models: pretrained ResNet-10: no helper2424 name for %s", name)
		}
		t, ok := f.Tensors[hf]
		if !ok {
			missing = append(missing, hf)
			continue
		}
		used[hf] = true
		dst := p.Get(name)
		if !reflect.DeepEqual(t.Shape, []int(dst.Shape())) {
			return fmt.Errorf("models: pretrained ResNet-10: %s has shape %v, want %v", hf, t.Shape, dst.Shape())
		}
		copy(p.Data(name), t.Data)
	}
	var extra []string
	for _, n := range f.Names() {
		if !used[n] {
			extra = append(extra, n)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		return fmt.Errorf("models: pretrained ResNet-10 %s: missing %v, unexpected %v", dir, missing, extra)
	}
	return nil
}

// FeatureExtractor runs a frozen ResNet-10 outside any training graph:
// images [n, 3, H, W] (normalised) → feature maps [n, C·h·w] (NCHW per row,
// SpatialEmbeddings' input layout). It owns a forward-only graph for up to
// Batch images, reading the weights of p as they are when it is built.
// Not safe for concurrent use.
type FeatureExtractor struct {
	Batch, H, W   int
	C, OutH, OutW int
	in            *tensor.Dense
	out           *G.Node
	vm            G.VM
	plan          *Plan // nil: run vm
}

// NewFeatureExtractor builds the extractor for batches of up to batch
// images of h×w.
func (r ResNet10) NewFeatureExtractor(p *Params, batch, h, w int) (*FeatureExtractor, error) {
	if batch < 1 || h < 1 || w < 1 {
		return nil, fmt.Errorf("models: feature extractor batch %d, image %dx%d", batch, h, w)
	}
	b := NewGraph(p)
	in := tensor.New(tensor.WithShape(batch, resNetInputCh, h, w), tensor.WithBacking(make([]float32, batch*resNetInputCh*h*w)))
	x := G.NodeFromAny(b.G, in, G.WithName("images"))
	y, err := r.Forward(b, x, false)
	if err != nil {
		return nil, err
	}
	c, oh, ow := r.OutShape(h, w)
	if s := y.Shape(); s[1] != c || s[2] != oh || s[3] != ow {
		return nil, fmt.Errorf("models: ResNet-10 gives %v, expected [%d %d %d]", s, c, oh, ow)
	}
	e := &FeatureExtractor{Batch: batch, H: h, W: w, C: c, OutH: oh, OutW: ow, in: in, out: y}
	if e.plan = NewPlan(b.G); e.plan == nil {
		e.vm = G.NewTapeMachine(b.G)
	}
	return e, nil
}

// FeatureSize is C·h·w, the length of one image's features.
func (e *FeatureExtractor) FeatureSize() int { return e.C * e.OutH * e.OutW }

// Extract computes the features of n = len(images)/(3·H·W) images into out
// (n·FeatureSize values), in chunks of Batch (the norms are per image in
// eval mode, so the chunking does not change the result).
func (e *FeatureExtractor) Extract(images, out []float32) error {
	per := resNetInputCh * e.H * e.W
	if len(images)%per != 0 {
		return fmt.Errorf("models: feature extractor: %d values is not a whole number of 3x%dx%d images", len(images), e.H, e.W)
	}
	n, fs := len(images)/per, e.FeatureSize()
	if len(out) != n*fs {
		return fmt.Errorf("models: feature extractor: output of %d values, want %d", len(out), n*fs)
	}
	buf := e.in.Data().([]float32)
	for i := 0; i < n; i += e.Batch {
		k := min(e.Batch, n-i)
		copy(buf, images[i*per:(i+k)*per])
		clear(buf[k*per:])
		var res []float32
		if e.plan != nil {
			if err := e.plan.Run(); err != nil {
				return fmt.Errorf("models: feature extractor: %w", err)
			}
			res = e.plan.Value(e.out).Data().([]float32)
		} else {
			if err := runRewind(e.vm); err != nil {
				return fmt.Errorf("models: feature extractor: %w", err)
			}
			res = e.out.Value().Data().([]float32)
		}
		copy(out[i*fs:(i+k)*fs], res)
	}
	return nil
}

// Close releases the graph's machine.
func (e *FeatureExtractor) Close() error {
	if e.vm != nil {
		return e.vm.Close()
	}
	return nil
}
