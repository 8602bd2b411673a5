package inference_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/training"
	"github.com/e2hil/e2hil/transport"
)

func learnerConfig(t *testing.T, pushEvery string) configs.TrainConfig {
	t.Helper()
	l, err := configs.LoadTrain("", []string{
		"output_dir=" + t.TempDir(), "policy.online_steps=1000000", "policy.online_step_before_learning=64",
		"batch_size=16", "save_freq=500", "log_freq=50",
		"policy.critic_network_kwargs.hidden_dims=[16]", "policy.actor_network_kwargs.hidden_dims=[16]", "policy.latent_dim=8",
		"policy.actor_learner_config.policy_parameters_push_frequency=" + pushEvery,
	})
	if err != nil {
		t.Fatal(err)
	}
	return l.Config
}

// actorResult is what one actor did.
type actorResult struct {
	steps, applied, swaps int
	stats                 transport.ClientStats
	err                   error
}

// runActor connects to addr, starts from the learner's first policy and
// steps the sim (as fast as it goes) until it has made minSteps steps and
// swapped in minPolicies pushed policies.
func runActor(ctx context.Context, cfg configs.TrainConfig, addr, id, token string, minSteps, minPolicies int) (res actorResult) {
	ccfg := transport.DefaultClientConfig()
	ccfg.Addr, ccfg.ActorID, ccfg.Token, ccfg.FlushInterval = addr, id, token, 20*time.Millisecond
	client, err := transport.NewClient(ccfg)
	if err != nil {
		return actorResult{err: err}
	}
	defer client.Close()
	e, err := env.NewSim(ctx, cfg.Env)
	if err != nil {
		return actorResult{err: err}
	}
	defer e.Close(context.Background())
	remote := inference.NewRemoteEnv(e, client)
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); client.Run(cctx, remote.Offer) }()
	defer func() { stop(); wg.Wait() }()

	model, err := remote.FirstPolicy(ctx)
	if err != nil {
		return actorResult{err: err}
	}
	p, err := inference.NewPolicy(model, inference.SessionOptions{})
	if err != nil {
		return actorResult{err: err}
	}
	defer p.Close()
	remote.SetPolicy(p)
	for ep := int64(0); res.steps < minSteps || remote.Applied < minPolicies; ep++ {
		rep, err := inference.Run(ctx, remote, p, inference.RunOptions{Episodes: 1, Seed: ep, Fast: true, GripperCommand: 1})
		if err != nil {
			return actorResult{err: fmt.Errorf("%s: %w (%d steps, %d policies)", id, err, res.steps, remote.Applied)}
		}
		res.steps += rep.Episodes[0].Steps
	}
	if err := client.Flush(ctx); err != nil {
		return actorResult{err: err}
	}
	res.applied, res.swaps, res.stats = remote.Applied, p.Swaps, client.Stats()
	return res
}

// TestActorsAndLearnerOverLoopback is issue 7's acceptance: one learner and
// two actors on loopback with the sim, ≥ 2,000 env steps in all; the
// learner receives exactly what the actors sent, each actor applies ≥ 3
// pushed policies; an actor without the token is refused and malformed
// transitions are rejected and counted while the run goes on.
func TestActorsAndLearnerOverLoopback(t *testing.T) {
	requireORT(t)
	const token = "s3cret"
	cfg := learnerConfig(t, "0.2")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	probe, err := env.NewSim(ctx, cfg.Env)
	if err != nil {
		t.Fatal(err)
	}
	spec := probe.Spec()
	probe.Close(ctx)

	lctx, stopLearner := context.WithCancel(ctx)
	defer stopLearner()
	listening := make(chan *transport.Server, 1)
	type served struct {
		res *training.ServeResult
		err error
	}
	learned := make(chan served, 1)
	go func() {
		res, err := training.Serve(lctx, cfg, training.ServeOptions{
			Spec: spec, Addr: "127.0.0.1:0", Token: token,
			OnListen: func(s *transport.Server) { listening <- s },
		})
		learned <- served{res, err}
	}()
	var srv *transport.Server
	select {
	case srv = <-listening:
	case s := <-learned:
		t.Fatalf("learner stopped before listening: %v", s.err)
	}

	// An actor without the token is refused.
	for _, tok := range []string{"", "wrong"} {
		ccfg := transport.DefaultClientConfig()
		ccfg.Addr, ccfg.Token, ccfg.CallTimeout = srv.Addr(), tok, 5*time.Second
		c, err := transport.NewClient(ccfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Ready(ctx); err == nil {
			t.Errorf("token %q: Ready succeeded, want Unauthenticated", tok)
		}
		c.Close()
	}

	results := make([]actorResult, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runActor(ctx, cfg, srv.Addr(), fmt.Sprintf("actor-%d", i), token, 1000, 3)
		}()
	}
	// Meanwhile a faulty actor sends NaN and wrongly shaped transitions.
	bad := sendMalformed(t, ctx, srv.Addr(), token, len(spec.StateNames), len(spec.ActionNames))
	wg.Wait()

	stopLearner()
	s := <-learned
	if s.err != nil {
		t.Fatal(s.err)
	}
	var sent int64
	steps := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("actor %d: %v", i, r.err)
		}
		t.Logf("actor %d: %d steps, %d sent, %d dropped, %d policies received, %d applied at episode ends (%d swaps)",
			i, r.steps, r.stats.Sent, r.stats.Dropped, r.stats.Policies, r.applied, r.swaps)
		if r.applied < 3 || r.swaps < 3 {
			t.Errorf("actor %d applied %d pushed policies (%d swaps), want ≥ 3", i, r.applied, r.swaps)
		}
		if r.stats.Sent != int64(r.steps) || r.stats.Dropped != 0 {
			t.Errorf("actor %d sent %d of %d steps, dropped %d", i, r.stats.Sent, r.steps, r.stats.Dropped)
		}
		sent += r.stats.Sent
		steps += r.steps
	}
	ts := s.res.Transport
	t.Logf("learner: received %d, %d updates, %d pushes, rejected %v", s.res.Received, s.res.Updates, s.res.Pushes, ts.Rejected)
	if steps < 2000 {
		t.Errorf("%d env steps in all, want ≥ 2000", steps)
	}
	if int64(s.res.Received) != sent || ts.Received != sent {
		t.Errorf("learner received %d (server %d), actors sent %d", s.res.Received, ts.Received, sent)
	}
	if s.res.Updates == 0 {
		t.Error("the learner made no update")
	}
	if got := ts.Rejected[transport.RejectNonFinite] + ts.Rejected[transport.RejectShape]; got != int64(bad) {
		t.Errorf("rejected %v, want %d malformed", ts.Rejected, bad)
	}
}

// sendMalformed sends transitions with NaN values and wrong shapes and
// returns how many.
func sendMalformed(t *testing.T, ctx context.Context, addr, token string, stateDim, actionDim int) int {
	t.Helper()
	ccfg := transport.DefaultClientConfig()
	ccfg.Addr, ccfg.ActorID, ccfg.Token = addr, "faulty", token
	c, err := transport.NewClient(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	good := func() transport.Transition {
		return transport.Transition{State: make([]float32, stateDim), NextState: make([]float32, stateDim), Action: make([]float32, actionDim)}
	}
	nan := float32(math.NaN())
	cases := []func(*transport.Transition){
		func(tr *transport.Transition) { tr.State[0] = nan },
		func(tr *transport.Transition) { tr.Reward = float32(math.Inf(1)) },
		func(tr *transport.Transition) { tr.Action[0] = nan },
		func(tr *transport.Transition) { tr.State = tr.State[1:] },
		func(tr *transport.Transition) { tr.Action = append(tr.Action, 0) },
	}
	for _, mutate := range cases {
		tr := good()
		mutate(&tr)
		c.Add(tr)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx, nil) }()
	if err := c.Flush(ctx); err != nil {
		t.Error(err)
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Error(err)
	}
	return len(cases)
}

// scriptedEnv is a 2-step episode env whose second step is a human
// intervention.
type scriptedEnv struct{ t int }

func (e *scriptedEnv) Spec() env.Spec {
	return env.Spec{FPS: 10, StateNames: []string{"x"}, ActionNames: []string{"a"}, ActionLow: []float32{-1}, ActionHigh: []float32{1}}
}
func (e *scriptedEnv) Reset(context.Context, int64) (env.Observation, error) {
	e.t = 0
	return env.Observation{State: []float32{0}}, nil
}
func (e *scriptedEnv) Step(_ context.Context, a []float32) (env.StepResult, error) {
	e.t++
	st := env.StepResult{Observation: env.Observation{State: []float32{float32(e.t)}}, Reward: 1, Truncated: e.t == 2}
	if e.t == 2 {
		st.Intervention, st.ExecutedAction = true, []float32{-0.5}
	}
	return st, nil
}
func (e *scriptedEnv) Close(context.Context) error { return nil }

type sink struct {
	trs []transport.Transition
	ins []transport.Interaction
}

func (s *sink) Add(t transport.Transition)             { s.trs = append(s.trs, t) }
func (s *sink) AddInteraction(i transport.Interaction) { s.ins = append(s.ins, i) }

type swapper struct {
	got    [][]byte
	refuse bool
}

func (s *swapper) Swap(m []byte) error {
	if s.refuse {
		return errors.New("refused")
	}
	s.got = append(s.got, m)
	return nil
}

// TestRemoteEnv: transitions carry the previous observation, the executed
// (human) action and truncation apart from termination; pushed policies
// are swapped in at episode starts only, the newest one.
func TestRemoteEnv(t *testing.T) {
	ctx := context.Background()
	var s sink
	r := inference.NewRemoteEnv(&scriptedEnv{}, &s)
	if err := r.Offer([]byte("p1")); err != nil {
		t.Fatal(err)
	}
	first, err := r.FirstPolicy(ctx)
	if err != nil || string(first) != "p1" {
		t.Fatalf("first policy %q, %v", first, err)
	}
	sw := &swapper{}
	r.SetPolicy(sw)
	r.Offer([]byte("p2"))
	r.Offer([]byte("p3"))
	if _, err := inference.Run(ctx, r, inference.NewRandomPolicy(1, 1), inference.RunOptions{Episodes: 1, Fast: true}); err != nil {
		t.Fatal(err)
	}
	r.Offer([]byte("p4")) // mid-run offers wait for the next episode
	if len(sw.got) != 1 || string(sw.got[0]) != "p3" || r.Applied != 1 {
		t.Errorf("swapped %q (applied %d), want only the newest, p3", sw.got, r.Applied)
	}
	if len(s.trs) != 2 {
		t.Fatalf("%d transitions, want 2", len(s.trs))
	}
	a, b := s.trs[0], s.trs[1]
	if a.State[0] != 0 || a.NextState[0] != 1 || b.State[0] != 1 || b.NextState[0] != 2 {
		t.Errorf("states %v→%v, %v→%v", a.State, a.NextState, b.State, b.NextState)
	}
	if !b.Intervention || b.Action[0] != -0.5 || !b.Truncated || b.Done || a.Intervention {
		t.Errorf("second transition %+v: want the human's action, truncated, not done", b)
	}
	if len(s.ins) != 1 || s.ins[0].Steps != 2 || s.ins[0].InterventionSteps != 1 || s.ins[0].Reward != 2 {
		t.Errorf("interactions %+v", s.ins)
	}
	sw.refuse = true
	if _, err := r.Reset(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if r.Refused != 1 || r.Applied != 1 {
		t.Errorf("refused %d applied %d after a refused swap", r.Refused, r.Applied)
	}
}
