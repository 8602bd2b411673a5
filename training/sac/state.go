package sac

import (
	"fmt"

	"github.com/e2hil/e2hil/training/optim"
)

// State is everything besides the parameters that an exact resume needs:
// optimiser moments and step counts, the temperature, the learner's random
// stream and counters.
type State struct {
	LogAlpha    float64 `json:"log_alpha"`
	Steps       int     `json:"learner_steps"`
	RNG         []byte  `json:"rng"` // math/rand/v2 PCG, MarshalBinary
	PrevEntropy float64 `json:"prev_entropy"`
	HasPrev     bool    `json:"has_prev_entropy"`
	// AdamSteps per optimiser ("critic", "actor", "temperature").
	AdamSteps map[string]int `json:"adam_steps"`
	// Moments holds each optimiser's m and v, named
	// "<optimiser>.<m|v>.<parameter index>", in Tensors().
	Moments map[string][]float32 `json:"-"`
}

func (l *Learner) optimizers() map[string]*optim.Adam {
	o := map[string]*optim.Adam{"critic": l.criticOpt, "actor": l.actorOpt, "temperature": l.tempOpt}
	if l.discreteOpt != nil {
		o["discrete_critic"] = l.discreteOpt
	}
	return o
}

// Snapshot copies the learner's state (not the parameters, which live in
// l.Param).
func (l *Learner) Snapshot() (*State, error) {
	rng, err := l.pcg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("sac: snapshot rng: %w", err)
	}
	st := &State{LogAlpha: l.LogAlpha, Steps: l.Steps, RNG: rng, PrevEntropy: l.prevEntropy, HasPrev: l.hasPrevEntropy,
		AdamSteps: map[string]int{}, Moments: map[string][]float32{}}
	for name, o := range l.optimizers() {
		st.AdamSteps[name] = o.Step
		for i := range o.M {
			st.Moments[fmt.Sprintf("%s.m.%d", name, i)] = append([]float32(nil), o.M[i]...)
			st.Moments[fmt.Sprintf("%s.v.%d", name, i)] = append([]float32(nil), o.V[i]...)
		}
	}
	return st, nil
}

// Restore puts a snapshot back; the parameters must be loaded separately.
func (l *Learner) Restore(st *State) error {
	if err := l.pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("sac: restore rng: %w", err)
	}
	for name, o := range l.optimizers() {
		step, ok := st.AdamSteps[name]
		if !ok {
			return fmt.Errorf("sac: restore: no step count for the %s optimiser", name)
		}
		for i := range o.M {
			for _, mv := range []struct {
				kind string
				dst  []float32
			}{{"m", o.M[i]}, {"v", o.V[i]}} {
				key := fmt.Sprintf("%s.%s.%d", name, mv.kind, i)
				src, ok := st.Moments[key]
				if !ok || len(src) != len(mv.dst) {
					return fmt.Errorf("sac: restore: optimiser moment %s has %d values, want %d", key, len(src), len(mv.dst))
				}
				copy(mv.dst, src)
			}
		}
		o.Step = step
	}
	l.LogAlpha, l.Steps = st.LogAlpha, st.Steps
	l.logAlphaBuf[0] = float32(l.LogAlpha)
	l.prevEntropy, l.hasPrevEntropy = st.PrevEntropy, st.HasPrev
	return nil
}
