package inference

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/transport"
)

// TransitionSink takes an actor's transitions and episode statistics for
// the learner without blocking the control loop (a *transport.Client).
type TransitionSink interface {
	Add(transport.Transition)
	AddInteraction(transport.Interaction)
}

// Swapper takes a new ONNX policy (a *Policy).
type Swapper interface {
	Swap(model []byte) error
}

// RemoteEnv is the actor's side of the actor–learner split: it wraps the
// env that Run steps, so Run needs no change. Every step becomes a
// transition for the learner (the executed action: the human's during an
// intervention), every finished episode an interaction; a policy the
// learner pushes (Offer) is swapped in at the next Reset, because LeRobot's
// actor loads parameters at episode end only (HILSERL.md §2.6).
type RemoteEnv struct {
	env.Env
	sink TransitionSink

	mu      sync.Mutex
	pending []byte
	first   chan struct{}
	policy  Swapper
	offered int

	obs          []float32
	episode      int64
	steps, human int
	ret          float64
	began        time.Time
	// Applied counts pushed policies swapped in; Refused those the policy
	// refused (another shape): the running one stays.
	Applied, Refused int
	// LastSwapError is the reason of the last refusal.
	LastSwapError error
}

// NewRemoteEnv wraps e; transitions go to sink.
func NewRemoteEnv(e env.Env, sink TransitionSink) *RemoteEnv {
	return &RemoteEnv{Env: e, sink: sink, first: make(chan struct{})}
}

// Offer hands over a policy pushed by the learner; the newest offered
// before a Reset is the one swapped in. Safe from any goroutine (it is
// transport.Client.Run's callback).
func (r *RemoteEnv) Offer(model []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = model
	r.offered++
	if r.offered == 1 {
		close(r.first)
	}
	return nil
}

// FirstPolicy waits for the learner's first policy (the actor starts from
// it) and returns it; later ones are swapped in by Reset once SetPolicy
// names the running policy.
func (r *RemoteEnv) FirstPolicy(ctx context.Context) ([]byte, error) {
	select {
	case <-r.first:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the learner's first policy: %w", ctx.Err())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.pending
	r.pending = nil
	return m, nil
}

// SetPolicy names the policy pushed models are swapped into.
func (r *RemoteEnv) SetPolicy(p Swapper) {
	r.mu.Lock()
	r.policy = p
	r.mu.Unlock()
}

// Reset swaps in the newest pushed policy, then resets the env.
func (r *RemoteEnv) Reset(ctx context.Context, seed int64) (env.Observation, error) {
	r.mu.Lock()
	model, p := r.pending, r.policy
	if p != nil {
		r.pending = nil
	}
	r.mu.Unlock()
	if model != nil && p != nil {
		if err := p.Swap(model); err != nil {
			r.Refused++
			r.LastSwapError = err
		} else {
			r.Applied++
		}
	}
	obs, err := r.Env.Reset(ctx, seed)
	if err != nil {
		return obs, err
	}
	r.obs = append(r.obs[:0], obs.State...)
	r.steps, r.human, r.ret, r.began = 0, 0, 0, time.Now()
	return obs, nil
}

// Step steps the env and hands the transition to the sink.
func (r *RemoteEnv) Step(ctx context.Context, action []float32) (env.StepResult, error) {
	st, err := r.Env.Step(ctx, action)
	if err != nil {
		return st, err
	}
	executed := action
	if st.Intervention && len(st.ExecutedAction) == len(action) {
		executed = st.ExecutedAction
	}
	r.sink.Add(transport.Transition{
		State: append([]float32(nil), r.obs...), Action: append([]float32(nil), executed...),
		Reward: float32(st.Reward), NextState: append([]float32(nil), st.Observation.State...),
		Done: st.Terminated, Truncated: st.Truncated, Intervention: st.Intervention,
	})
	r.obs = append(r.obs[:0], st.Observation.State...)
	r.steps++
	r.ret += st.Reward
	if st.Intervention {
		r.human++
	}
	if st.Terminated || st.Truncated {
		hz := 0.0
		if d := time.Since(r.began).Seconds(); d > 0 {
			hz = float64(r.steps) / d
		}
		r.sink.AddInteraction(transport.Interaction{
			Episode: r.episode, Steps: r.steps, Reward: r.ret, InterventionSteps: r.human,
			Success: st.Success, PolicyHz: hz,
		})
		r.episode++
	}
	return st, nil
}
