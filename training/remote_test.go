package training

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/training/checkpoint"
	"github.com/e2hil/e2hil/transport"
)

func serveConfig(t *testing.T) configs.TrainConfig {
	t.Helper()
	l, err := configs.LoadTrain("", []string{
		"output_dir=" + t.TempDir(), "policy.online_steps=1000000", "policy.online_step_before_learning=32",
		"batch_size=16", "save_freq=20", "log_freq=10",
		"policy.critic_network_kwargs.hidden_dims=[16]", "policy.actor_network_kwargs.hidden_dims=[16]", "policy.latent_dim=8",
		"policy.actor_learner_config.policy_parameters_push_frequency=0.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return l.Config
}

// learnerRun is one Serve in the background.
type learnerRun struct {
	srv  *transport.Server
	stop context.CancelFunc
	done chan struct{}
	res  *ServeResult
	err  error
}

func startLearner(t *testing.T, ctx context.Context, cfg configs.TrainConfig, spec env.Spec, addr string) *learnerRun {
	t.Helper()
	ctx, stop := context.WithCancel(ctx)
	r := &learnerRun{stop: stop, done: make(chan struct{})}
	listening := make(chan *transport.Server, 1)
	go func() {
		defer close(r.done)
		r.res, r.err = Serve(ctx, cfg, ServeOptions{Spec: spec, Addr: addr, OnListen: func(s *transport.Server) { listening <- s }})
	}()
	select {
	case r.srv = <-listening:
	case <-r.done:
		t.Fatalf("learner stopped before listening: %v", r.err)
	}
	return r
}

func (r *learnerRun) finish(t *testing.T) *ServeResult {
	t.Helper()
	r.stop()
	<-r.done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.res
}

// until polls cond (a counter owned by other goroutines) until it holds.
func until(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// TestServeSurvivesLearnerRestart: the learner is stopped mid-run and
// started again from its checkpoint; the actor keeps stepping meanwhile,
// buffers, reconnects with backoff, and the learner's counters and weights
// continue from the checkpoint.
func TestServeSurvivesLearnerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cfg := serveConfig(t)
	e, err := env.NewSim(ctx, cfg.Env)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	spec := e.Spec()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	learner := startLearner(t, ctx, cfg, spec, addr)

	a := startSimActor(t, ctx, e, addr)
	client, steps, policies := a.client, &a.steps, &a.policies

	until(t, ctx, "the first learner to receive 300 transitions", func() bool { return learner.srv.Stats().Received >= 300 })
	first := learner.finish(t)
	c, err := checkpoint.Load(first.CheckpointDir)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Updates != first.Updates || c.State.EnvSteps != first.EnvSteps || first.Updates == 0 {
		t.Fatalf("checkpoint at exit holds %+v; the learner made %d updates over %d transitions", c.State, first.Updates, first.EnvSteps)
	}

	// Learner down: the actor keeps stepping and its sends fail.
	down, failures := steps.Load(), client.Stats().Failures
	until(t, ctx, "the actor to step on and fail to send", func() bool {
		return steps.Load() >= down+200 && client.Stats().Failures > failures+1
	})
	if st := client.Stats(); st.Buffered == 0 {
		t.Errorf("nothing buffered while the learner was down: %+v", st)
	}

	cfg.Resume = true
	learner = startLearner(t, ctx, cfg, spec, addr)
	until(t, ctx, "the restarted learner to receive the backlog and more", func() bool {
		return learner.srv.Stats().Received >= down-int64(first.Received)+200
	})
	a.stop()
	// The remaining transitions, sent without the actor's loop.
	fctx, fstop := context.WithCancel(ctx)
	flushed := make(chan error, 1)
	go func() { flushed <- client.Run(fctx, nil) }()
	if err := client.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fstop()
	<-flushed
	second := learner.finish(t)

	st := client.Stats()
	t.Logf("first learner: %d transitions, %d updates; second: resumed=%v, +%d transitions, %d updates in all; actor: %d steps, %d sent, %d failures, %d policies",
		first.Received, first.Updates, second.Resumed, second.Received, second.Updates, steps.Load(), st.Sent, st.Failures, policies.Load())
	if !second.Resumed || second.EnvSteps != first.EnvSteps+second.Received || second.Updates <= first.Updates {
		t.Errorf("second learner did not continue from the checkpoint: resumed %v, env steps %d (first %d + %d), updates %d (first %d)",
			second.Resumed, second.EnvSteps, first.EnvSteps, second.Received, second.Updates, first.Updates)
	}
	if st.Dropped != 0 || st.Sent != steps.Load() {
		t.Errorf("actor sent %d of %d steps, dropped %d", st.Sent, steps.Load(), st.Dropped)
	}
	// Delivery is at least once: a batch the first learner took as it
	// stopped may be resent to the second.
	if got := int64(first.Received + second.Received); got < st.Sent || got > st.Sent+int64(8*transport.DefaultClientConfig().BatchSize) {
		t.Errorf("learners received %d, actor sent %d", got, st.Sent)
	}
	if policies.Load() < 2 {
		t.Errorf("actor received %d policies, want the first learner's and the second's", policies.Load())
	}
}

// simActor steps the sim with random actions, one step per ms, whatever
// the learner does, and sends every transition.
type simActor struct {
	client          *transport.Client
	steps, policies atomic.Int64
	stop            func()
}

func startSimActor(t *testing.T, ctx context.Context, e env.Env, addr string) *simActor {
	t.Helper()
	spec := e.Spec()
	a := &simActor{}
	ccfg := transport.DefaultClientConfig()
	ccfg.Addr, ccfg.FlushInterval = addr, 10*time.Millisecond
	ccfg.BackoffInitial, ccfg.BackoffMax, ccfg.CallTimeout = 20*time.Millisecond, 200*time.Millisecond, 2*time.Second
	client, err := transport.NewClient(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	a.client = client
	actx, stopActor := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		client.Run(actx, func([]byte) error { a.policies.Add(1); return nil })
	}()
	// The actor: random actions in the env's bounds, one step per ms,
	// whatever the learner does.
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		obs, err := e.Reset(actx, 0)
		act := make([]float32, len(spec.ActionNames))
		for ep := int64(1); err == nil; {
			for i := range act {
				act[i] = spec.ActionLow[i] + rng.Float32()*(spec.ActionHigh[i]-spec.ActionLow[i])
			}
			var st env.StepResult
			if st, err = e.Step(actx, act); err != nil {
				return
			}
			client.Add(transport.Transition{State: obs.State, Action: append([]float32(nil), act...), Reward: float32(st.Reward),
				NextState: st.Observation.State, Done: st.Terminated, Truncated: st.Truncated})
			a.steps.Add(1)
			obs = st.Observation
			if st.Terminated || st.Truncated {
				obs, err = e.Reset(actx, ep)
				ep++
			}
			select {
			case <-actx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	a.stop = func() { stopActor(); wg.Wait() }
	t.Cleanup(a.stop)
	return a
}

// Environment of the learner child process of TestServeSurvivesLearnerKill.
const (
	childEnv    = "E2HIL_TEST_SERVE_CHILD"
	childDirEnv = "E2HIL_TEST_SERVE_DIR"
)

// TestServeChild is the learner process TestServeSurvivesLearnerKill kills.
func TestServeChild(t *testing.T) {
	addr := os.Getenv(childEnv)
	if addr == "" {
		t.Skip("helper process of TestServeSurvivesLearnerKill")
	}
	cfg := serveConfig(t)
	cfg.OutputDir = os.Getenv(childDirEnv)
	e, err := env.NewSim(context.Background(), cfg.Env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Serve(context.Background(), cfg, ServeOptions{Spec: e.Spec(), Addr: addr}); err != nil {
		t.Fatal(err)
	}
}

// TestServeSurvivesLearnerKill: the learner process is killed (SIGKILL, no
// goodbye); the actor keeps stepping and reconnects with backoff, and a new
// learner continues from the last checkpoint the dead one wrote.
func TestServeSurvivesLearnerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a learner process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cfg := serveConfig(t)
	e, err := env.NewSim(ctx, cfg.Env)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServeChild$")
	child.Env = append(os.Environ(), childEnv+"="+addr, childDirEnv+"="+cfg.OutputDir)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	a := startSimActor(t, ctx, e, addr)
	ckpt := filepath.Join(cfg.OutputDir, "checkpoints", "last")
	var before *checkpoint.Checkpoint
	until(t, ctx, "the learner process to checkpoint 60 updates", func() bool {
		c, err := checkpoint.Load(ckpt)
		if err == nil && c.State.Updates >= 60 {
			before = c
			return true
		}
		return false
	})
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	killed, err := checkpoint.Load(ckpt) // the last one it wrote
	if err != nil {
		t.Fatalf("checkpoint after the kill: %v", err)
	}
	if killed.State.Updates < before.State.Updates {
		t.Fatalf("checkpoint went back from %d to %d updates", before.State.Updates, killed.State.Updates)
	}

	down, failures := a.steps.Load(), a.client.Stats().Failures
	until(t, ctx, "the actor to step on and fail to send", func() bool {
		return a.steps.Load() >= down+100 && a.client.Stats().Failures > failures+1
	})

	cfg.Resume = true
	learner := startLearner(t, ctx, cfg, e.Spec(), addr)
	sent := a.client.Stats().Sent
	until(t, ctx, "the actor to deliver its backlog to the new learner", func() bool {
		return a.client.Stats().Sent >= sent+200 && learner.srv.Stats().Received >= 200
	})
	a.stop()
	second := learner.finish(t)
	t.Logf("killed learner's last checkpoint: %d updates, %d transitions; new learner: resumed=%v, +%d transitions, %d updates in all; actor: %d steps, %d failures",
		killed.State.Updates, killed.State.EnvSteps, second.Resumed, second.Received, second.Updates, a.steps.Load(), a.client.Stats().Failures)
	if !second.Resumed || second.EnvSteps != killed.State.EnvSteps+second.Received || second.Updates <= killed.State.Updates {
		t.Errorf("new learner did not continue from the checkpoint: resumed %v, env steps %d (checkpoint %d + %d), updates %d (checkpoint %d)",
			second.Resumed, second.EnvSteps, killed.State.EnvSteps, second.Received, second.Updates, killed.State.Updates)
	}
	if a.client.Stats().Dropped != 0 {
		t.Errorf("actor dropped %d transitions", a.client.Stats().Dropped)
	}
}

// TestServeRefusesToOverwrite: a learner restarted without resume over an
// existing checkpoint stops instead of overwriting it.
func TestServeRefusesToOverwrite(t *testing.T) {
	cfg := serveConfig(t)
	e, err := env.NewSim(context.Background(), cfg.Env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve, checkpoint and stop at once
	if _, err := Serve(ctx, cfg, ServeOptions{Spec: e.Spec(), Addr: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	_, err = Serve(context.Background(), cfg, ServeOptions{Spec: e.Spec(), Addr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "set resume") {
		t.Errorf("err = %v, want a refusal", err)
	}
}
