package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewardClassifierConfigLoads(t *testing.T) {
	c, err := LoadRewardClassifierTrain("reward_classifier/sim_pick_cube_cameras.json", []string{"steps=7", "dataset.root=/tmp/x"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Steps != 7 || c.Dataset.Root != "/tmp/x" || c.Policy.NumCameras != 2 || !c.Policy.TrainBackbone() || c.Optimizer.GradClipNorm != 10 {
		t.Errorf("loaded %+v", c)
	}
}

func TestRewardClassifierConfigProblems(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ json, want string }{
		{`{"dataset": {"root": "d"}, "polcy": {}}`, "polcy: unknown key"},
		{`{"dataset": {"root": "d"}, "policy": {"num_classes": 3}}`, "policy.num_classes"},
		{`{"dataset": {"root": "d"}, "steps": 0}`, "steps: must be ≥ 1"},
		{`{}`, "dataset.root"},
		{`{"dataset": {"root": "d"}, "policy": {"model_name": "w", "freeze_backbone": false}}`, "policy.freeze_backbone"},
		{`{"dataset": {"root": "d"}, "policy": {"image_keys": ["a"]}}`, "policy.image_keys"},
	}
	for i, tc := range cases {
		path := filepath.Join(dir, "c.json")
		if err := os.WriteFile(path, []byte(tc.json), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadRewardClassifierTrain(path, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("case %d: error %v, want one naming %q", i, err, tc.want)
		}
	}
}

func TestRewardClassifierTrainBackboneDefault(t *testing.T) {
	f := false
	for _, tc := range []struct {
		q    RewardClassifierConfig
		want bool
	}{
		{RewardClassifierConfig{}, true},
		{RewardClassifierConfig{ModelName: "dir"}, false},
		{RewardClassifierConfig{FreezeBackbone: &f}, true},
	} {
		if got := tc.q.TrainBackbone(); got != tc.want {
			t.Errorf("%+v: TrainBackbone %v, want %v", tc.q, got, tc.want)
		}
	}
}
