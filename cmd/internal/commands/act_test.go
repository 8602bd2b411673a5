package commands

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/dataset"
	"github.com/e2hil/e2hil/dataset/video"
	"github.com/e2hil/e2hil/internal/testtool"
)

// TestActScriptedRecordsCameras records scripted pick_cube episodes with
// both cameras and checks the dataset: valid, two video features, reward 1
// on success frames, successes and failures.
func TestActScriptedRecordsCameras(t *testing.T) {
	if err := video.Available(); err != nil || !video.HasEncoder("libsvtav1") {
		testtool.Missing(t, "recording cameras needs ffmpeg with libsvtav1 (Debian's ffmpeg)")
	}
	dir := filepath.Join(t.TempDir(), "pick")
	// The shipped config at 64×64 (--set splits values at commas).
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "sim_pick_cube_cameras.json"))
	if err != nil {
		t.Fatal(err)
	}
	small := bytes.Replace(b, []byte(`"image_size": [128, 128]`), []byte(`"image_size": [64, 64]`), 1)
	if bytes.Equal(small, b) {
		t.Fatal("sim_pick_cube_cameras.json has no image_size [128, 128]")
	}
	cfgPath := filepath.Join(t.TempDir(), "pick.json")
	if err := os.WriteFile(cfgPath, small, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, err := runApp(t, "act", "--scripted", "--config_path", cfgPath,
		"--episodes", "6", "--seed", "3", "--fast", "--dataset", dir, "--set", "env.sim.expert.failure_prob=0.5")
	if err != nil {
		t.Fatalf("act: %v\n%s", err, stdout)
	}
	succ, fail := strings.Count(stdout, ": success "), strings.Count(stdout, ": fail ")
	if succ == 0 || fail == 0 || succ+fail != 6 {
		t.Errorf("want successes and failures over 6 episodes, got %d and %d:\n%s", succ, fail, stdout)
	}
	v, err := dataset.Validate(context.Background(), dir, dataset.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() {
		t.Fatalf("invalid dataset: %+v", v.Problems)
	}
	d, err := dataset.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if keys := strings.Join(d.Info.VideoKeys(), ","); keys != "observation.images.front,observation.images.wrist" {
		t.Errorf("video keys %q", keys)
	}
	rewards, _, err := d.Float32Column("next.reward")
	if err != nil {
		t.Fatal(err)
	}
	ones := 0
	for _, r := range rewards {
		if r == 1 {
			ones++
		} else if r != 0 {
			t.Fatalf("sparse reward %g", r)
		}
	}
	// terminate_on_success is off: a success holds the cube up for many frames.
	if ones < 5*succ || len(rewards) != 6*50 {
		t.Errorf("%d frames, %d with reward 1, for %d successes", len(rewards), ones, succ)
	}
}

func TestActSourceFlags(t *testing.T) {
	for _, args := range [][]string{
		{"act", "--random", "--scripted"},
		{"act"},
		{"act", "--scripted", "--config_path", filepath.Join("..", "..", "..", "configs", "pendulum.json"), "--episodes", "1"},
	} {
		if _, err := runApp(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
