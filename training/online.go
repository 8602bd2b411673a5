package training

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/checkpoint"
	"github.com/e2hil/e2hil/training/replay"
	"github.com/e2hil/e2hil/training/sac"
)

// gripperStay is the gripper command that leaves the gripper as it is.
const gripperStay = 1

// SpecFromEnv derives the SAC network shape from the environment and config:
// the policy's continuous action is the env's action without its discrete
// gripper command.
func SpecFromEnv(sp env.Spec, p configs.SACConfig) models.SACSpec {
	n := sp.ContinuousDim()
	discrete := 0
	if sp.HasGripper {
		discrete = p.Discrete()
	}
	return models.SACSpec{
		NumDiscrete: discrete,
		StateDim:    len(sp.StateNames), ActionDim: n,
		StateLow: sp.StateLow, StateHigh: sp.StateHigh,
		StateNames: sp.StateNames, ActionNames: sp.ActionNames[:n],
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
	// Offline holds demonstrations (tag 1) for RLPD's half-offline batches;
	// interventions are added to it as they happen. nil: online only.
	Offline []replay.Transition
	// SkipBuffers leaves the replay buffers out of checkpoints; a resumed
	// run then refills them and does not continue exactly.
	SkipBuffers bool
}

// Result summarises a run.
type Result struct {
	EnvSteps, Episodes, Updates int
	// RecentSuccessRate is the success rate of the last 20 training episodes.
	RecentSuccessRate float64
	// RecentReturn is the mean return of the last 10 training episodes.
	RecentReturn  float64
	Duration      time.Duration
	CheckpointDir string
	// Resumed: the run continued from a checkpoint.
	Resumed bool
}

// Run trains a SAC policy online against e for cfg.Policy.OnlineSteps
// environment steps, one learner iteration per step once the buffer holds
// online_step_before_learning transitions. Episode i is reset with seed
// cfg.Seed+i. Every save_freq updates a checkpoint is written at the end of
// the episode under way (and at the end of the run), so that with
// cfg.Resume a run continues from it exactly as if never interrupted.
func Run(ctx context.Context, e env.Env, cfg configs.TrainConfig, opts Options) (*Result, error) {
	return run(ctx, e, cfg, opts, hooks{})
}

// hooks observe a run (tests).
type hooks struct {
	onUpdate func(sac.Metrics)
	onSave   func(checkpoint.State)
}

func run(ctx context.Context, e env.Env, cfg configs.TrainConfig, opts Options, h hooks) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sac.UseBLAS()
	es := e.Spec()
	ls, err := newLearnerSetup(cfg, es, opts.Offline, opts.Progress)
	if err != nil {
		return nil, err
	}
	spec, learner, online, offline, sampler := ls.spec, ls.learner, ls.online, ls.offline, ls.sampler
	policy, err := sac.NewPolicy(spec, learner.Param, 1)
	if err != nil {
		return nil, err
	}
	nCont, nStored := spec.ActionDim, spec.ActionDim+min(spec.NumDiscrete, 1)
	if opts.CheckpointDir == "" {
		opts.CheckpointDir = filepath.Join(cfg.OutputDir, "checkpoints", "last")
	}

	pcg := rand.NewPCG(uint64(cfg.Seed), 0xac7)
	rng := rand.New(pcg)
	res := &Result{CheckpointDir: opts.CheckpointDir}
	if cfg.Resume {
		if err := resume(opts.CheckpointDir, spec, learner, pcg, online, offline, res); err != nil {
			return nil, err
		}
	}

	logPath := filepath.Join(cfg.OutputDir, "logs", "train.jsonl")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if res.Resumed {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	logFile, err := os.OpenFile(logPath, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	defer logFile.Close()
	logEnc := json.NewEncoder(logFile)

	prog := newProgress(opts.Progress, cfg.Policy.OnlineSteps)
	start := time.Now()
	save := func() error {
		st := checkpoint.State{Updates: res.Updates, EnvSteps: res.EnvSteps, Episodes: res.Episodes}
		var err error
		if st.LoopRNG, err = pcg.MarshalBinary(); err != nil {
			return err
		}
		if st.Learner, err = learner.Snapshot(); err != nil {
			return err
		}
		if !opts.SkipBuffers {
			st.Buffers = map[string]replay.Snapshot{"online": online.Snapshot(), "offline": offline.Snapshot()}
		}
		c := &checkpoint.Checkpoint{Spec: spec, Params: learner.Param, LogAlpha: learner.LogAlpha, Config: cfg, State: st}
		if ls.cameras != nil {
			c.Backbone, c.BackboneParams = &ls.cameras.net, ls.cameras.params
		}
		if err := checkpoint.Save(opts.CheckpointDir, c); err != nil {
			return err
		}
		if h.onSave != nil {
			h.onSave(st)
		}
		return nil
	}

	obs, err := e.Reset(ctx, cfg.Seed+int64(res.Episodes))
	if err != nil {
		return nil, err
	}
	var recent []bool     // outcomes of recent episodes
	var returns []float64 // returns of recent episodes
	var episodeReturn float64
	var m sac.Metrics
	saveDue := false
	action := make([]float32, len(es.ActionNames))
	lastLog := time.Now()
	for res.EnvSteps < cfg.Policy.OnlineSteps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if ls.cameras != nil {
			if err := ls.cameras.setPolicyFeatures(policy, obs); err != nil {
				return nil, err
			}
		}
		a, err := policy.Sample(obs.State, rng)
		if err != nil {
			return nil, err
		}
		copy(action, a)
		if es.HasGripper {
			action[nCont] = gripperStay
			if g := policy.Gripper(0); g >= 0 {
				action[nCont] = float32(g)
			}
		}
		step, err := e.Step(ctx, action)
		if err != nil {
			return nil, err
		}
		res.EnvSteps++
		episodeReturn += step.Reward
		tr := replay.Transition{
			State: obs.State, Action: action[:nStored], Reward: float32(step.Reward),
			NextState: step.Observation.State, Done: step.Terminated,
		}
		if step.Intervention {
			// The human's executed action is what was done; it goes to both
			// buffers (HIL-SERL's RLPD with interventions), tagged human.
			if len(step.ExecutedAction) != len(action) {
				return nil, fmt.Errorf("training: intervention with %d action values, want %d", len(step.ExecutedAction), len(action))
			}
			tr.Action, tr.Human = step.ExecutedAction[:nStored], true
			if ls.cameras == nil {
				if err := offline.Add(tr); err != nil {
					return nil, err
				}
			}
		}
		if ls.cameras != nil {
			if err := ls.cameras.add(tr, obs, step.Observation); err != nil {
				return nil, err
			}
		} else if err := online.Add(tr); err != nil {
			return nil, err
		}
		obs = step.Observation
		episodeEnded := step.Terminated || step.Truncated
		if episodeEnded {
			res.Episodes++
			recent = appendCapped(recent, step.Success, 20)
			returns = appendCapped(returns, episodeReturn, 10)
			episodeReturn = 0
			if obs, err = e.Reset(ctx, cfg.Seed+int64(res.Episodes)); err != nil {
				return nil, err
			}
		}
		if online.Len() >= cfg.Policy.OnlineStepBeforeLearning {
			if m, err = learner.Update(sampler); err != nil {
				return nil, err
			}
			res.Updates++
			now := time.Now()
			rec := logRecord(res, m, rate(recent), mean(returns), time.Since(start), now.Sub(lastLog))
			lastLog = now
			if err := logEnc.Encode(rec); err != nil {
				return nil, fmt.Errorf("training: %s: %w", logPath, err)
			}
			if h.onUpdate != nil {
				h.onUpdate(m)
			}
			if cfg.SaveCheckpoint && res.Updates%cfg.SaveFreq == 0 {
				saveDue = true
			}
		}
		// Checkpoints land between episodes, where a resumed run restarts.
		if saveDue && episodeEnded {
			if err := save(); err != nil {
				return nil, err
			}
			saveDue = false
		}
		prog.update(res, m, rate(recent), mean(returns))
	}
	res.RecentSuccessRate = rate(recent)
	res.RecentReturn = mean(returns)
	res.Duration = time.Since(start)
	prog.done(res, m)
	if err := save(); err != nil {
		return nil, err
	}
	return res, nil
}

// resume loads the checkpoint in dir into the learner, loop RNG, buffers
// and counters.
func resume(dir string, spec models.SACSpec, l *sac.Learner, pcg *rand.PCG, online, offline *replay.Buffer, res *Result) error {
	c, err := checkpoint.Load(dir)
	if err != nil {
		return fmt.Errorf("training: resume: %w", err)
	}
	if !reflect.DeepEqual(c.Spec, spec) {
		return fmt.Errorf("training: resume from %s: its network (%s) differs from this config's", dir, checkpoint.SpecFile)
	}
	if c.State.Learner == nil || c.State.LoopRNG == nil {
		return fmt.Errorf("training: resume from %s: the checkpoint has no learner state (written by an older e2hil?)", dir)
	}
	for _, name := range l.Param.Names() {
		copy(l.Param.Data(name), c.Params.Data(name))
	}
	if err := l.Restore(c.State.Learner); err != nil {
		return fmt.Errorf("training: resume from %s: %w", dir, err)
	}
	if err := pcg.UnmarshalBinary(c.State.LoopRNG); err != nil {
		return fmt.Errorf("training: resume from %s: loop rng: %w", dir, err)
	}
	for name, b := range map[string]*replay.Buffer{"online": online, "offline": offline} {
		snap, ok := c.State.Buffers[name]
		if !ok {
			continue // saved without buffers: they refill (not an exact resume)
		}
		if err := b.Restore(snap); err != nil {
			return fmt.Errorf("training: resume from %s: %s buffer: %w", dir, name, err)
		}
	}
	res.Updates, res.EnvSteps, res.Episodes = c.State.Updates, c.State.EnvSteps, c.State.Episodes
	res.Resumed = true
	return nil
}

func appendCapped[T any](s []T, v T, n int) []T {
	s = append(s, v)
	if len(s) > n {
		s = s[1:]
	}
	return s
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
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

func logRecord(r *Result, m sac.Metrics, success, ret float64, elapsed, sinceLast time.Duration) map[string]any {
	rec := map[string]any{
		"optimization_step": r.Updates, "interaction_step": r.EnvSteps, "episodes": r.Episodes,
		"loss_critic": m.CriticLoss, "loss_actor": m.ActorLoss, "loss_temperature": m.TemperatureLoss,
		"critic_grad_norm": m.CriticGradNorm, "actor_grad_norm": m.ActorGradNorm,
		"temperature": m.Temperature, "policy_entropy": m.Entropy, "entropy_delta": m.EntropyDelta, "mean_q": m.MeanQ,
		"success_rate_recent": success, "episode_return_recent": ret, "elapsed_s": elapsed.Seconds(),
	}
	if m.DiscreteCriticLoss != 0 {
		rec["loss_discrete_critic"], rec["discrete_critic_grad_norm"] = m.DiscreteCriticLoss, m.DiscreteCriticGradNorm
	}
	if sinceLast > 0 {
		rec["updates_per_s"] = 1 / sinceLast.Seconds()
	}
	if m.Selection {
		rec["keep_ratio"], rec["c_lower"], rec["c_upper"], rec["cov_batch_mean"] = m.KeepRatio, m.CLower, m.CUpper, m.CovMean
		for t, st := range m.ByTag {
			if st.Count > 0 {
				rec[fmt.Sprintf("c_abs_mean_tag%d", t)] = st.MeanAbsC
				rec[fmt.Sprintf("keep_ratio_tag%d", t)] = float64(st.Kept) / float64(st.Count)
			}
		}
	}
	return rec
}
