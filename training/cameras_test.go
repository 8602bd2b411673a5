package training

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/safetensors"
	"github.com/e2hil/e2hil/training/checkpoint"
	"github.com/e2hil/e2hil/training/reward"
	"github.com/e2hil/e2hil/training/sac"
)

// A config with cameras trains from pixels in-process: frames go through
// the frozen ResNet-10 (a random one: no pretrained weights named) into the
// feature cache or, uncached, into the buffers as images; the camera
// encoders train; checkpoints hold them.
func TestRunFromPixels(t *testing.T) {
	const feats = `{"observation.images.front": {"type": "VISUAL", "shape": [3, 32, 32]}, "observation.images.wrist": {"type": "VISUAL", "shape": [3, 32, 32]}}`
	for _, mode := range []string{"policy.drq_cached_copies=2", "policy.image_feature_cache=false"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			cfg := pixelConfig(t, mode)
			e, err := env.NewSim(ctx, cfg.Env)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(ctx, e, cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.EnvSteps != 40 || res.Updates != 11 {
				t.Errorf("result %+v", res)
			}
			c, err := checkpoint.Load(res.CheckpointDir)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Spec.Cameras) != 2 || c.Spec.Cameras[0].Name != "observation.images.front" || c.Spec.Cameras[1].Channels != 512 {
				t.Fatalf("checkpoint spec cameras %+v", c.Spec.Cameras)
			}
			fresh := c.Spec.NewParams(uint64(cfg.Seed))
			var image int
			for _, name := range c.Params.WithPrefix(models.PrefixImageEncoder) {
				image++
				if strings.HasSuffix(name, "spatial.kernel") && slices.Equal(c.Params.Data(name), fresh.Data(name)) {
					t.Errorf("%s did not train", name)
				}
			}
			if image != 10 {
				t.Errorf("%d camera-encoder parameters in the checkpoint, want 10", image)
			}
		})
	}
}

const pixelFeatures = `{"observation.images.front": {"type": "VISUAL", "shape": [3, 32, 32]}, "observation.images.wrist": {"type": "VISUAL", "shape": [3, 32, 32]}}`

func pixelConfig(t *testing.T, extra ...string) configs.TrainConfig {
	t.Helper()
	l, err := configs.LoadTrain("", append([]string{
		"output_dir=" + t.TempDir(), "policy.online_steps=40", "policy.online_step_before_learning=30",
		"batch_size=8", "save_freq=5", "log_freq=10", "policy.online_buffer_capacity=200", "policy.offline_buffer_capacity=100",
		"policy.critic_network_kwargs.hidden_dims=[16]", "policy.actor_network_kwargs.hidden_dims=[16]", "policy.latent_dim=8",
		`env.cameras=["front", "wrist"]`, "env.image_size=[32, 32]", "policy.input_features=" + pixelFeatures,
	}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return l.Config
}

// A run with cameras resumes exactly: the buffers' observation slots are in
// the checkpoint and the cached DrQ copies depend only on the frames.
func TestResumeFromPixels(t *testing.T) {
	ctx := context.Background()
	cfg := pixelConfig(t, "policy.drq_cached_copies=2", "policy.online_steps=120")
	var want []sac.Metrics
	e, _ := env.NewSim(ctx, cfg.Env)
	if _, err := run(ctx, e, cfg, Options{}, hooks{onUpdate: func(m sac.Metrics) { want = append(want, m) }}); err != nil {
		t.Fatal(err)
	}
	cfg.OutputDir = t.TempDir()
	stopCtx, stop := context.WithCancel(ctx)
	var saved checkpoint.State
	e, _ = env.NewSim(ctx, cfg.Env)
	_, err := run(stopCtx, e, cfg, Options{}, hooks{onSave: func(st checkpoint.State) {
		if saved.Updates == 0 {
			saved = st
			stop()
		}
	}})
	if !errors.Is(err, context.Canceled) || saved.Updates == 0 {
		t.Fatalf("interrupted run: %v, checkpoint %+v", err, saved)
	}
	cfg.Resume = true
	var got []sac.Metrics
	e, _ = env.NewSim(ctx, cfg.Env)
	if _, err := run(ctx, e, cfg, Options{}, hooks{onUpdate: func(m sac.Metrics) { got = append(got, m) }}); err != nil {
		t.Fatal(err)
	}
	if len(got) < 5 || len(want) < saved.Updates+5 {
		t.Fatalf("%d updates after resume, %d in the full run (checkpoint at %d)", len(got), len(want), saved.Updates)
	}
	for i := 0; i < 5; i++ {
		if w := want[saved.Updates+i]; got[i] != w {
			t.Fatalf("update %d after resume:\n got  %+v\n want %+v", i+1, got[i], w)
		}
	}
}

// policy.vision_encoder_name may name a reward-classifier checkpoint: its
// trained ResNet-10 (BatchNorm variant) becomes the policy's frozen encoder,
// saved with the policy's checkpoints for the export.
func TestClassifierBackboneAsEncoder(t *testing.T) {
	spec := models.DefaultClassifierSpec("observation.images.front", "observation.images.wrist")
	spec.ImageHeight, spec.ImageWidth = 32, 32
	cp, err := spec.NewParams(7)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var ts []safetensors.Tensor
	for _, n := range cp.Names() {
		ts = append(ts, safetensors.Tensor{Name: n, Shape: []int(cp.Get(n).Shape()), Data: cp.Data(n)})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, reward.CheckpointModel), ts, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(dir, reward.CheckpointSpec), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := pixelConfig(t, "policy.vision_encoder_name="+strconv.Quote(dir))
	e, err := env.NewSim(ctx, cfg.Env)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, e, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Load(res.CheckpointDir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Backbone.Variant != models.ResNetBatchNorm {
		t.Fatalf("backbone variant %q", c.Backbone.Variant)
	}
	src := spec.ResNet()
	srcNames, dstNames := src.ParamNames(cp, false), c.Backbone.ParamNames(c.BackboneParams, false)
	if len(srcNames) != len(dstNames) || len(dstNames) == 0 {
		t.Fatalf("%d classifier backbone tensors, %d in the checkpoint", len(srcNames), len(dstNames))
	}
	for i := range srcNames {
		if !slices.Equal(cp.Data(srcNames[i]), c.BackboneParams.Data(dstNames[i])) {
			t.Errorf("%s differs from the classifier's %s", dstNames[i], srcNames[i])
		}
	}

	// A classifier normalising otherwise is refused.
	spec.ImageMean = [3]float32{0.5, 0.5, 0.5}
	raw, _ = json.Marshal(spec)
	os.WriteFile(filepath.Join(dir, reward.CheckpointSpec), raw, 0o644)
	e, _ = env.NewSim(ctx, cfg.Env)
	cfg.OutputDir = t.TempDir()
	if _, err := Run(ctx, e, cfg, Options{}); err == nil || !strings.Contains(err.Error(), "image_mean") {
		t.Errorf("classifier with other image stats: %v", err)
	}
}
