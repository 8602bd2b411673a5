package commands

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/dataset/video"
	"github.com/e2hil/e2hil/internal/testtool"
)

// TestRewardTrainOnScriptedDataset records a few scripted pick_cube
// episodes with both cameras at 64×64 (libsvtav1's minimum), then trains
// the classifier on them resized to 32×32 for a few steps with a frozen
// backbone: progress, evals, checkpoints and
// classifier.onnx.
func TestRewardTrainOnScriptedDataset(t *testing.T) {
	if err := video.Available(); err != nil || !video.HasEncoder("libsvtav1") {
		testtool.Missing(t, "recording cameras needs ffmpeg with libsvtav1 (Debian's ffmpeg)")
	}
	tmp := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "sim_pick_cube_cameras.json"))
	if err != nil {
		t.Fatal(err)
	}
	small := bytes.Replace(b, []byte(`"image_size": [128, 128]`), []byte(`"image_size": [64, 64]`), 1)
	envCfg := filepath.Join(tmp, "pick.json")
	if err := os.WriteFile(envCfg, small, 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "pick")
	if out, err := runApp(t, "act", "--scripted", "--config_path", envCfg, "--episodes", "4", "--seed", "5", "--fast",
		"--dataset", data, "--set", "env.sim.expert.failure_prob=0.5", "--set", "env.processor.reset.control_time_s=2"); err != nil {
		t.Fatalf("act: %v\n%s", err, out)
	}

	rc, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "reward_classifier", "sim_pick_cube_cameras.json"))
	if err != nil {
		t.Fatal(err)
	}
	rc = bytes.Replace(rc, []byte(`"image_size": [128, 128]`), []byte(`"image_size": [32, 32]`), 1)
	rcPath := filepath.Join(tmp, "rc.json")
	if err := os.WriteFile(rcPath, rc, 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(tmp, "rc")
	app := NewApp("e2hil", "test", Reward())
	var stdout, stderr bytes.Buffer
	app.Writer, app.ErrWriter = &stdout, &stderr
	err = app.Run([]string{"e2hil", "reward", "train", "--config_path", rcPath, "--output_dir", outDir,
		"--set", "dataset.root=" + data, "--set", "steps=4", "--set", "batch_size=4", "--set", "eval_freq=2",
		"--set", "log_freq=2", "--set", "save_freq=2", "--set", "policy.freeze_backbone=true", "--set", "validation_fraction=0.25"})
	if err != nil {
		t.Fatalf("reward train: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"step 2/4", "eval step 4: validation accuracy", "exported"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr.String())
		}
	}
	if !strings.Contains(stdout.String(), "validation accuracy") {
		t.Errorf("stdout: %s", stdout.String())
	}
	for _, f := range []string{"classifier.onnx", "logs/reward_train.jsonl", "checkpoints/last/model.safetensors", "checkpoints/000002/classifier_spec.json"} {
		if _, err := os.Stat(filepath.Join(outDir, f)); err != nil {
			t.Error(err)
		}
	}
	model := filepath.Join(outDir, "classifier.onnx")
	testtool.CheckONNX(t, model)

	// An unknown key and a missing dataset are one-line errors.
	if err := app.Run([]string{"e2hil", "reward", "train", "--config_path", rcPath, "--set", "polcy.hidden_dim=3"}); err == nil || !strings.Contains(err.Error(), "polcy") {
		t.Errorf("unknown key: %v", err)
	}
	if err := app.Run([]string{"e2hil", "reward", "train", "--config_path", rcPath, "--set", "dataset.root=" + filepath.Join(tmp, "none")}); err == nil {
		t.Error("missing dataset: no error")
	}
}
