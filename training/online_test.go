package training

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/training/checkpoint"
)

func shortConfig(t *testing.T) configs.TrainConfig {
	t.Helper()
	l, err := configs.LoadTrain("", []string{
		"output_dir=" + t.TempDir(), "policy.online_steps=160", "policy.online_step_before_learning=40",
		"batch_size=16", "save_freq=50", "log_freq=10",
		"policy.critic_network_kwargs.hidden_dims=[16]", "policy.actor_network_kwargs.hidden_dims=[16]", "policy.latent_dim=8",
	})
	if err != nil {
		t.Fatal(err)
	}
	return l.Config
}

func TestRunCheckpointsAndIsDeterministic(t *testing.T) {
	ctx := context.Background()
	var runs []*checkpoint.Checkpoint
	for i := 0; i < 2; i++ {
		cfg := shortConfig(t)
		e, err := env.NewSim(ctx, cfg.Env)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(ctx, e, cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.EnvSteps != 160 || res.Updates != 160-40+1 || res.Episodes < 3 {
			t.Errorf("result %+v", res)
		}
		if res.CheckpointDir != filepath.Join(cfg.OutputDir, "checkpoints", "last") {
			t.Errorf("checkpoint dir %s", res.CheckpointDir)
		}
		c, err := checkpoint.Load(res.CheckpointDir)
		if err != nil {
			t.Fatal(err)
		}
		if c.State.EnvSteps != 160 || c.State.Updates != res.Updates || c.Config.Policy.OnlineSteps != 160 {
			t.Errorf("checkpoint state %+v", c.State)
		}
		if b, err := os.ReadFile(filepath.Join(cfg.OutputDir, "logs", "train.jsonl")); err != nil || len(b) == 0 {
			t.Errorf("metrics log: %v (%d bytes)", err, len(b))
		}
		runs = append(runs, c)
	}
	// Same seed, same config: bit-identical weights.
	for _, name := range runs[0].Params.Names() {
		a, b := runs[0].Params.Data(name), runs[1].Params.Data(name)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d] differs between two runs with the same seed: %g vs %g", name, i, a[i], b[i])
			}
		}
	}
	if runs[0].LogAlpha != runs[1].LogAlpha {
		t.Error("temperature differs between runs")
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	cfg := shortConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	e, _ := env.NewSim(ctx, cfg.Env)
	cancel()
	if _, err := Run(ctx, e, cfg, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
