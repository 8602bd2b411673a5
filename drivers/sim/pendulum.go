package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Pendulum-v1's constants, as in Gymnasium's
// gymnasium/envs/classic_control/pendulum.py (PendulumEnv.__init__ with the
// default g) and its registration (max_episode_steps=200).
const (
	PendulumGravity   = 10.0 // g, m/s²
	PendulumMass      = 1.0  // m, kg
	PendulumLength    = 1.0  // l, m
	PendulumDt        = 0.05 // s per step
	PendulumMaxSpeed  = 8.0  // |θ̇| bound, rad/s
	PendulumMaxTorque = 2.0  // |u| bound, N·m
	// PendulumMaxSteps is Gymnasium's TimeLimit: the episode is truncated
	// (never terminated) after this many steps.
	PendulumMaxSteps = 200
)

// ErrEpisodeOver is returned by Pendulum.Step after the time limit, until
// the next Reset.
var ErrEpisodeOver = errors.New("sim: pendulum episode is over (200-step time limit); Reset first")

// PendulumState is the pendulum's true state: θ in radians (0 upright,
// counter-clockwise positive, not wrapped — as in Gymnasium, it accumulates
// whole turns) and θ̇ in rad/s.
type PendulumState struct {
	Theta, ThetaDot float64
}

// Observation is Pendulum-v1's observation [cos θ, sin θ, θ̇].
func (s PendulumState) Observation() [3]float64 {
	return [3]float64{math.Cos(s.Theta), math.Sin(s.Theta), s.ThetaDot}
}

// AngleNormalize wraps x into [−π, π) exactly as Gymnasium's
// angle_normalize, ((x + π) mod 2π) − π with Python's floored modulo.
func AngleNormalize(x float64) float64 {
	r := math.Mod(x+math.Pi, 2*math.Pi) // sign of the dividend, like C fmod
	if r < 0 {
		r += 2 * math.Pi // Python's % takes the sign of the divisor
	}
	return r - math.Pi
}

// PendulumStep is one step of Pendulum-v1's dynamics (PendulumEnv.step):
// the torque is clipped to ±max_torque; the reward is −cost of the state
// before the update; θ̇ is integrated (semi-implicit Euler) and clipped to
// ±max_speed before θ is integrated with the new θ̇. torque must not be NaN
// (±Inf clips to ±max_torque, as np.clip does).
func PendulumStep(s PendulumState, torque float64) (next PendulumState, reward float64) {
	const (
		g, m, l, dt = PendulumGravity, PendulumMass, PendulumLength, PendulumDt
	)
	u := math.Max(-PendulumMaxTorque, math.Min(PendulumMaxTorque, torque))
	th := AngleNormalize(s.Theta)
	cost := th*th + 0.1*s.ThetaDot*s.ThetaDot + 0.001*(u*u)
	// Explicit float64 conversions keep the compiler from fusing a
	// multiply-add, so the arithmetic is numpy's operation by operation.
	acc := float64(3*g/(2*l)*math.Sin(s.Theta)) + float64(3.0/(m*l*l)*u)
	newThDot := s.ThetaDot + float64(acc*dt)
	newThDot = math.Max(-PendulumMaxSpeed, math.Min(PendulumMaxSpeed, newThDot))
	newTh := s.Theta + float64(newThDot*dt)
	return PendulumState{Theta: newTh, ThetaDot: newThDot}, -cost
}

// Pendulum is Gymnasium's Pendulum-v1 with its 200-step time limit: the
// inverted-pendulum swing-up, e2hil's sanity benchmark for the SAC learner.
// Everything random (the initial state) comes from Reset's seed. It is not
// safe for concurrent use.
type Pendulum struct {
	state PendulumState
	steps int
	ready bool
}

// NewPendulum returns a pendulum awaiting Reset.
func NewPendulum() *Pendulum { return &Pendulum{} }

// Reset starts an episode at θ ~ U[−π, π], θ̇ ~ U[−1, 1] drawn from a PCG
// stream seeded by seed alone, and returns the state.
func (p *Pendulum) Reset(seed int64) PendulumState {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e4d_7115))
	// np_random.uniform(low, high) = low + (high − low)·U[0, 1).
	th := -math.Pi + 2*math.Pi*rng.Float64()
	thDot := -1 + 2*rng.Float64()
	p.SetState(PendulumState{Theta: th, ThetaDot: thDot})
	return p.state
}

// SetState starts an episode from s (tests, reference trajectories).
func (p *Pendulum) SetState(s PendulumState) {
	p.state, p.steps, p.ready = s, 0, true
}

// State is the current state.
func (p *Pendulum) State() PendulumState { return p.state }

// Steps is the number of steps taken since the last Reset.
func (p *Pendulum) Steps() int { return p.steps }

// Step applies torque (N·m, clipped to ±2) for one dt and returns the new
// state, the reward (−cost of the state before the step) and whether the
// time limit truncated the episode. Pendulum-v1 never terminates.
func (p *Pendulum) Step(torque float64) (next PendulumState, reward float64, truncated bool, err error) {
	if !p.ready {
		return PendulumState{}, 0, false, errors.New("sim: pendulum Step before Reset")
	}
	if p.steps >= PendulumMaxSteps {
		return PendulumState{}, 0, false, ErrEpisodeOver
	}
	if math.IsNaN(torque) {
		return PendulumState{}, 0, false, fmt.Errorf("sim: pendulum torque %g is not a number", torque)
	}
	p.state, reward = PendulumStep(p.state, torque)
	p.steps++
	return p.state, reward, p.steps >= PendulumMaxSteps, nil
}
