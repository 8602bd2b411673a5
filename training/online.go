package training

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/checkpoint"
	"github.com/e2hil/e2hil/training/replay"
	"github.com/e2hil/e2hil/training/sac"
)

// ContinuousActionDim is the policy's continuous action: the end-effector
// delta (x, y, z); the gripper command is held at "stay" (1).
const ContinuousActionDim = 3

// gripperStay is the gripper command that leaves the gripper as it is.
const gripperStay = 1

// SpecFromEnv derives the SAC network shape from the environment and config.
func SpecFromEnv(sp env.Spec, p configs.SACConfig) models.SACSpec {
	return models.SACSpec{
		StateDim: len(sp.StateNames), ActionDim: ContinuousActionDim,
		StateLow: sp.StateLow, StateHigh: sp.StateHigh,
		StateNames: sp.StateNames, ActionNames: sp.ActionNames[:ContinuousActionDim],
		LatentDim:   p.LatentDim,
		ActorHidden: p.ActorNetworkKwargs.HiddenDims, ActorActivateFinal: p.ActorNetworkKwargs.ActivateFinal,
		CriticHidden: p.CriticNetworkKwargs.HiddenDims, CriticActivateFinal: p.CriticNetworkKwargs.ActivateFinal,
		NumCritics: p.NumCritics, StdMin: p.PolicyKwargs.StdMin, StdMax: p.PolicyKwargs.StdMax, InitFinal: p.PolicyKwargs.InitFinal,
	}
}

// Options configure Run beyond the train config.
type Options struct {
	// CheckpointDir receives the checkpoint (default output_dir/checkpoints/last).
	CheckpointDir string
	// Progress receives the live progress line (nil: silent).
	Progress io.Writer
}

// Result summarises a run.
type Result struct {
	EnvSteps, Episodes, Updates int
	// RecentSuccessRate is the success rate of the last 20 training episodes.
	RecentSuccessRate float64
	Duration          time.Duration
	CheckpointDir     string
}

// Run trains a SAC policy online against e for cfg.Policy.OnlineSteps
// environment steps, one learner iteration per step once the buffer holds
// online_step_before_learning transitions, checkpointing every save_freq
// iterations and at the end. Episode i is reset with seed cfg.Seed+i.
func Run(ctx context.Context, e env.Env, cfg configs.TrainConfig, opts Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sac.UseBLAS()
	spec := SpecFromEnv(e.Spec(), cfg.Policy)
	learner, err := sac.New(cfg.Policy, spec, cfg.BatchSize, uint64(cfg.Seed))
	if err != nil {
		return nil, err
	}
	policy, err := sac.NewPolicy(spec, learner.Param, 1)
	if err != nil {
		return nil, err
	}
	buf, err := replay.New(cfg.Policy.OnlineBufferCapacity, spec.StateDim, spec.ActionDim)
	if err != nil {
		return nil, err
	}
	if opts.CheckpointDir == "" {
		opts.CheckpointDir = filepath.Join(cfg.OutputDir, "checkpoints", "last")
	}
	logPath := filepath.Join(cfg.OutputDir, "logs", "train.jsonl")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	defer logFile.Close()
	logEnc := json.NewEncoder(logFile)

	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xac7))
	res := &Result{CheckpointDir: opts.CheckpointDir}
	prog := newProgress(opts.Progress, cfg.Policy.OnlineSteps)
	start := time.Now()
	save := func() error {
		return checkpoint.Save(opts.CheckpointDir, &checkpoint.Checkpoint{
			Spec: spec, Params: learner.Param, LogAlpha: learner.LogAlpha, Config: cfg,
			State: checkpoint.State{Updates: res.Updates, EnvSteps: res.EnvSteps, Episodes: res.Episodes},
		})
	}

	obs, err := e.Reset(ctx, cfg.Seed)
	if err != nil {
		return nil, err
	}
	var recent []bool // outcomes of recent episodes
	var m sac.Metrics
	action := make([]float32, 4)
	for res.EnvSteps < cfg.Policy.OnlineSteps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a, err := policy.Sample(obs.State, rng)
		if err != nil {
			return nil, err
		}
		copy(action, a)
		action[3] = gripperStay
		step, err := e.Step(ctx, action)
		if err != nil {
			return nil, err
		}
		res.EnvSteps++
		if err := buf.Add(replay.Transition{
			State: obs.State, Action: action[:ContinuousActionDim], Reward: float32(step.Reward),
			NextState: step.Observation.State, Done: step.Terminated,
		}); err != nil {
			return nil, err
		}
		obs = step.Observation
		if step.Terminated || step.Truncated {
			res.Episodes++
			recent = append(recent, step.Success)
			if len(recent) > 20 {
				recent = recent[1:]
			}
			if obs, err = e.Reset(ctx, cfg.Seed+int64(res.Episodes)); err != nil {
				return nil, err
			}
		}
		if buf.Len() >= cfg.Policy.OnlineStepBeforeLearning {
			if m, err = learner.Update(buf); err != nil {
				return nil, err
			}
			res.Updates++
			if res.Updates%cfg.LogFreq == 0 {
				logEnc.Encode(logRecord(res, m, rate(recent), time.Since(start)))
			}
			if cfg.SaveCheckpoint && res.Updates%cfg.SaveFreq == 0 {
				if err := save(); err != nil {
					return nil, err
				}
			}
		}
		prog.update(res, m, rate(recent))
	}
	res.RecentSuccessRate = rate(recent)
	res.Duration = time.Since(start)
	prog.done(res, m)
	if err := save(); err != nil {
		return nil, err
	}
	return res, nil
}

func rate(outcomes []bool) float64 {
	if len(outcomes) == 0 {
		return 0
	}
	n := 0
	for _, o := range outcomes {
		if o {
			n++
		}
	}
	return float64(n) / float64(len(outcomes))
}

func logRecord(r *Result, m sac.Metrics, success float64, elapsed time.Duration) map[string]any {
	return map[string]any{
		"optimization_step": r.Updates, "interaction_step": r.EnvSteps, "episodes": r.Episodes,
		"loss_critic": m.CriticLoss, "loss_actor": m.ActorLoss, "loss_temperature": m.TemperatureLoss,
		"critic_grad_norm": m.CriticGradNorm, "actor_grad_norm": m.ActorGradNorm,
		"temperature": m.Temperature, "policy_entropy": m.Entropy, "mean_q": m.MeanQ,
		"success_rate_recent": success, "elapsed_s": elapsed.Seconds(),
	}
}
