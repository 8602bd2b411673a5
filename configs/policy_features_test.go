package configs

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPolicyImageKeys(t *testing.T) {
	const cams = `"input_features": {"observation.state": {"type": "STATE", "shape": [18]},
		"observation.images.wrist": {"type": "VISUAL", "shape": [3, 128, 128]},
		"observation.images.front": {"type": "VISUAL", "shape": [3, 128, 128]}}`
	cases := []struct {
		name, policy string
		wantErr      []string
	}{
		{name: "two cameras", policy: cams + `, "online_buffer_capacity": 20000, "offline_buffer_capacity": 10000`},
		{name: "defaults fit", policy: cams}, // 2 × 512×4×4 float16 × 9/8 = 36 KiB × 200000 = 6.9 GiB
		{name: "copies count", policy: cams + `, "drq_cached_copies": 4, "online_buffer_capacity": 60000, "offline_buffer_capacity": 10000`,
			wantErr: []string{"policy.online_buffer_capacity: with offline_buffer_capacity 10000 needs 9.6 GiB", "(144 KiB per transition)", "at most 58254 transitions"}},
		{name: "uncached stores bytes", policy: cams + `, "image_feature_cache": false`,
			wantErr: []string{"needs 20.6 GiB", "(108 KiB per transition)"}},
		{name: "uncached fits", policy: cams + `, "image_feature_cache": false, "online_buffer_capacity": 50000, "offline_buffer_capacity": 20000`},
		{name: "bad camera", policy: `"input_features": {"observation.images.front": {"type": "VISUAL", "shape": [128, 128, 3]}, "observation.image": {"type": "STATE", "shape": [3, 64, 64]}}`,
			wantErr: []string{"policy.input_features.observation.images.front.shape: must be [3, H, W]", "policy.input_features.observation.image.type: VISUAL goes with keys"}},
		{name: "encoder switches", policy: cams + `, "shared_encoder": false, "freeze_vision_encoder": false, "image_embedding_pooling_dim": 0, "online_buffer_capacity": 1000, "offline_buffer_capacity": 1000`,
			wantErr: []string{"policy.shared_encoder: must be true", "policy.freeze_vision_encoder: must be true", "policy.image_embedding_pooling_dim: must be ≥ 1"}},
		{name: "unknown field in a feature", policy: `"input_features": {"observation.images.front": {"type": "VISUAL", "shape": [3, 64, 64], "dtype": "image"}}`,
			wantErr: []string{"dtype"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := decodeTrain([]byte(`{"policy": {`+tc.policy+`}}`), nil)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				im := l.Config.Policy.InputFeatures.Images()
				if len(im) != 2 || im[0].Name != "observation.images.wrist" || im[1].Name != "observation.images.front" {
					t.Errorf("cameras %+v, want wrist then front (input_features order)", im)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestFeaturesJSONKeepsOrder(t *testing.T) {
	in := `{"observation.images.z":{"type":"VISUAL","shape":[3,64,64]},"observation.images.a":{"type":"VISUAL","shape":[3,32,48]}}`
	var f Features
	if err := json.Unmarshal([]byte(in), &f); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(f)
	if err != nil || string(out) != in {
		t.Fatalf("round trip %s (%v), want %s", out, err, in)
	}
	if c, h, w := ResNet10FeatureShape(128, 128); c != 512 || h != 4 || w != 4 {
		t.Errorf("ResNet-10 on 128×128: %d×%d×%d, want 512×4×4", c, h, w)
	}
	if _, h, w := ResNet10FeatureShape(96, 100); h != 3 || w != 4 {
		t.Errorf("ResNet-10 on 96×100: %d×%d, want 3×4", h, w)
	}
}
