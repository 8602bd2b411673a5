package commands

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/internal/testtool"
	"github.com/e2hil/e2hil/models/preprocess"
	"github.com/e2hil/e2hil/training/checkpoint"
	"github.com/e2hil/e2hil/training/features"
	"github.com/e2hil/e2hil/training/sac"
)

// `e2hil train` with camera inputs writes a checkpoint with its frozen
// backbone and exports policy.onnx with one input per camera; the ONNX
// actor on a sim observation gives the action of the trainer's own pipeline
// (backbone features normalised as in training → Gorgonia policy), and
// e2hil export-onnx of the checkpoint gives the same file.
func TestTrainExportImagePolicy(t *testing.T) {
	testtool.RequireORT(t)
	dir := t.TempDir()
	sets := []string{
		"output_dir=" + dir, "policy.online_steps=40", "policy.online_step_before_learning=30",
		"batch_size=8", "save_freq=20", "log_freq=10", "policy.online_buffer_capacity=200", "policy.offline_buffer_capacity=100",
		"policy.critic_network_kwargs.hidden_dims=[16]", "policy.actor_network_kwargs.hidden_dims=[16]", "policy.latent_dim=8",
		`env.cameras=["front", "wrist"]`, "env.image_size=[32, 32]",
		`policy.input_features={"observation.images.front": {"type": "VISUAL", "shape": [3, 32, 32]}, "observation.images.wrist": {"type": "VISUAL", "shape": [3, 32, 32]}}`,
	}
	args := []string{"train"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	stdout, err := runApp(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"input  observation.images.front", "input  observation.images.wrist", "output action"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("train output lacks %q:\n%s", want, stdout)
		}
	}
	path := filepath.Join(dir, "policy.onnx")
	testtool.CheckONNX(t, path)

	ckpt := filepath.Join(dir, "checkpoints", "last")
	c, err := checkpoint.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if c.Backbone == nil || len(c.BackboneParams.Names()) == 0 {
		t.Fatal("checkpoint without its backbone")
	}
	p, err := inference.LoadPolicy(path, inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if cams := p.Cameras(); len(cams) != 2 || cams[0].Height != 32 || cams[1].Key != "observation.images.wrist" {
		t.Fatalf("policy cameras %+v", cams)
	}

	// The trainer's pipeline on a sim observation.
	l, err := configs.LoadTrain("", sets)
	if err != nil {
		t.Fatal(err)
	}
	e, err := env.NewSim(t.Context(), l.Config.Env)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(t.Context())
	gp, err := sac.NewPolicy(c.Spec, c.Params, 1)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := c.Backbone.NewFeatureExtractor(c.BackboneParams, 1, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	bb := &features.Normalized{Net: ext}
	copy(bb.Mean[:], preprocess.ImageNetMean)
	copy(bb.Std[:], preprocess.ImageNetStd)
	for seed := range int64(3) {
		obs, err := e.Reset(t.Context(), seed)
		if err != nil {
			t.Fatal(err)
		}
		images := make([][]float32, 2)
		for i, k := range []string{"observation.images.front", "observation.images.wrist"} {
			images[i] = make([]float32, 3*32*32)
			if err := features.ToCHW(images[i], obs.Images[k].Pix, 32, 32, features.Shift{}); err != nil {
				t.Fatal(err)
			}
			feat := make([]float32, c.Spec.Cameras[i].Channels*c.Spec.Cameras[i].Height*c.Spec.Cameras[i].Width)
			if err := bb.Features(feat, images[i], 1); err != nil {
				t.Fatal(err)
			}
			if err := gp.SetFeatures(i, feat); err != nil {
				t.Fatal(err)
			}
		}
		want, err := gp.Deterministic(obs.State)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.ActImages(obs.State, images)
		if err != nil {
			t.Fatal(err)
		}
		for j, w := range want {
			if d := math.Abs(float64(got[j] - w)); d > 1e-4 {
				t.Errorf("seed %d: action[%d] ONNX %v, Gorgonia %v (diff %.2g)", seed, j, got[j], w, d)
			}
		}
	}

	// export-onnx of the same checkpoint.
	out := filepath.Join(t.TempDir(), "again.onnx")
	if _, err := runApp(t, "export-onnx", "--checkpoint", ckpt, "--out", out); err != nil {
		t.Fatal(err)
	}
	testtool.CheckONNX(t, out)
}
