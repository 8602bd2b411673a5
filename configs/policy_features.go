package configs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// PolicyFeature is one entry of LeRobot's input_features / output_features:
// a feature type ("VISUAL", "STATE", "ENV", "ACTION") and its shape.
type PolicyFeature struct {
	Type  string `json:"type"`
	Shape []int  `json:"shape"`
}

// Feature types (LeRobot's FeatureType).
const (
	FeatureVisual = "VISUAL"
	FeatureState  = "STATE"
	FeatureEnv    = "ENV"
	FeatureAction = "ACTION"
)

// NamedFeature is a PolicyFeature with its key.
type NamedFeature struct {
	Name string
	PolicyFeature
}

// Features is a JSON object of PolicyFeatures that keeps its keys' order:
// LeRobot concatenates the camera latents in input_features order.
type Features []NamedFeature

// UnmarshalJSON reads an object in key order (null: none).
func (f *Features) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		*f = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("features: want a JSON object of {type, shape}")
	}
	var out Features
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var v PolicyFeature
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("features: %s: %w", t, err)
		}
		out = append(out, NamedFeature{Name: t.(string), PolicyFeature: v})
	}
	*f = out
	return nil
}

// MarshalJSON writes an object in order.
func (f Features) MarshalJSON() ([]byte, error) {
	if f == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, nf := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(nf.Name)
		v, err := json.Marshal(nf.PolicyFeature)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Images lists the camera features (keys starting with observation.image,
// as LeRobot's SACObservationEncoder selects them) in order.
func (f Features) Images() []NamedFeature {
	var out []NamedFeature
	for _, nf := range f {
		if strings.HasPrefix(nf.Name, "observation.image") {
			out = append(out, nf)
		}
	}
	return out
}

// ResNet10FeatureShape is the feature map [C, h, w] of HIL-SERL's ResNet-10
// (the frozen image encoder, 7×7/2 stem, 3×3/2 max pool, stages of stride
// 1, 2, 2, 2, 512 channels) for an H×W image: 512×4×4 at 128×128.
func ResNet10FeatureShape(h, w int) (c, fh, fw int) {
	down := func(n int) int {
		n = (n+2*3-7)/2 + 1 // stem
		n = (n+2*1-3)/2 + 1 // max pool
		for i := 0; i < 3; i++ {
			n = (n+2*1-3)/2 + 1 // 3×3/2 convs of stages 2–4
		}
		return n
	}
	return 512, down(h), down(w)
}

// inputFeaturesInFileOrder reorders f (decoded through a key-sorting
// generic map) as policy.input_features lists its keys in the config file;
// keys the file does not list (overrides) keep their place after those.
func inputFeaturesInFileOrder(data []byte, f Features) Features {
	var file struct {
		Policy struct {
			InputFeatures Features `json:"input_features"`
		} `json:"policy"`
	}
	if json.Unmarshal(data, &file) != nil || len(file.Policy.InputFeatures) == 0 {
		return f
	}
	rank := map[string]int{}
	for i, nf := range file.Policy.InputFeatures {
		rank[nf.Name] = i
	}
	var listed, rest Features
	for _, nf := range f {
		if _, ok := rank[nf.Name]; ok {
			listed = append(listed, nf)
		} else {
			rest = append(rest, nf)
		}
	}
	slices.SortStableFunc(listed, func(a, b NamedFeature) int { return rank[a.Name] - rank[b.Name] })
	return append(listed, rest...)
}
