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
	"github.com/e2hil/e2hil/training/sac"
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

// TestResumeContinuesExactly: a run interrupted after a periodic
// checkpoint and resumed with resume=true produces the same next 10 updates
// (every loss, bit for bit) as a run that was never interrupted.
func TestResumeContinuesExactly(t *testing.T) {
	three := 3
	for _, c := range []struct {
		name      string
		selection string
		discrete  *int
	}{{"hilserl", configs.SelectionNone, nil}, {"e2hil", configs.SelectionE2HiL, nil}, {"e2hil+gripper critic", configs.SelectionE2HiL, &three}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := shortConfig(t)
			cfg.Policy.SampleSelection = c.selection
			cfg.Policy.NumDiscreteActions = c.discrete
			cfg.Policy.OnlineSteps = 300

			var want []sac.Metrics // uninterrupted
			e, _ := env.NewSim(ctx, cfg.Env)
			if _, err := run(ctx, e, cfg, Options{}, hooks{onUpdate: func(m sac.Metrics) { want = append(want, m) }}); err != nil {
				t.Fatal(err)
			}

			// Interrupted right after the first periodic checkpoint.
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
			res, err := run(ctx, e, cfg, Options{}, hooks{onUpdate: func(m sac.Metrics) { got = append(got, m) }})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Resumed || res.EnvSteps != 300 {
				t.Fatalf("resumed run: %+v", res)
			}
			if (c.discrete != nil) != (got[0].DiscreteCriticLoss != 0) {
				t.Errorf("discrete critic loss %v with num_discrete_actions %v", got[0].DiscreteCriticLoss, c.discrete)
			}
			if len(got) < 10 || len(want) < saved.Updates+10 {
				t.Fatalf("%d updates after resume, %d in the full run (checkpoint at %d)", len(got), len(want), saved.Updates)
			}
			for i := 0; i < 10; i++ {
				if w := want[saved.Updates+i]; got[i] != w {
					t.Fatalf("update %d after resume:\n got  %+v\n want %+v", i+1, got[i], w)
				}
			}
		})
	}
}
