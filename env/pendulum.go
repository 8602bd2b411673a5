package env

import (
	"context"
	"fmt"
	"math"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/drivers/sim"
)

// PendulumRobotType is the robot_type Pendulum-v1 records.
const PendulumRobotType = "pendulum"

// Pendulum is Gymnasium's Pendulum-v1 (drivers/sim) as an Env, env.type
// "pendulum": the learner's sanity benchmark.
//
// observation.state is [cos θ, sin θ, θ̇]; the action is [torque/2] in
// [−1, 1] (torque = 2·action N·m, clipped to ±2 as Gymnasium does); the
// reward is −(angle_normalize(θ)² + 0.1·θ̇² + 0.001·u²) of the state before
// the step. An episode is 200 steps at 20 fps and ends by truncation only:
// there is no success and no termination. Deterministic for a seed.
type Pendulum struct {
	sim  *sim.Pendulum
	spec Spec
}

// NewPendulum builds the env from cfg (env.type "pendulum").
func NewPendulum(cfg configs.EnvConfig) (*Pendulum, error) {
	if cfg.Type != configs.EnvPendulum {
		return nil, fmt.Errorf("env: NewPendulum with env.type %q, want %q", cfg.Type, configs.EnvPendulum)
	}
	if cfg.Task != configs.PendulumTask {
		return nil, fmt.Errorf("env: env.task %q: Pendulum-v1's task is %q", cfg.Task, configs.PendulumTask)
	}
	if cfg.FPS != configs.PendulumFPS {
		return nil, fmt.Errorf("env: env.fps %d: Pendulum-v1 runs at %d fps (dt %g s)", cfg.FPS, configs.PendulumFPS, sim.PendulumDt)
	}
	return &Pendulum{
		sim: sim.NewPendulum(),
		spec: Spec{
			RobotType: PendulumRobotType, Task: configs.PendulumTask,
			FPS: configs.PendulumFPS, MaxEpisodeSteps: configs.PendulumMaxEpisodeSteps,
			StateNames:  []string{"cos_theta", "sin_theta", "theta_dot"},
			StateLow:    []float32{-1, -1, -sim.PendulumMaxSpeed},
			StateHigh:   []float32{1, 1, sim.PendulumMaxSpeed},
			ActionNames: []string{"torque"},
			ActionLow:   []float32{-1},
			ActionHigh:  []float32{1},
		},
	}, nil
}

// Spec describes the env.
func (p *Pendulum) Spec() Spec { return p.spec }

// Reset starts an episode at θ ~ U[−π, π], θ̇ ~ U[−1, 1] drawn from seed.
func (p *Pendulum) Reset(ctx context.Context, seed int64) (Observation, error) {
	if err := ctx.Err(); err != nil {
		return Observation{}, err
	}
	return pendulumObservation(p.sim.Reset(seed)), nil
}

// Step applies [torque/2]. Values outside [−1, 1] are clipped (as the
// torque is by Gymnasium); a wrong length or a non-finite value is an error.
func (p *Pendulum) Step(ctx context.Context, action []float32) (StepResult, error) {
	if err := ctx.Err(); err != nil {
		return StepResult{}, err
	}
	if len(action) != 1 {
		return StepResult{}, fmt.Errorf("env: pendulum action has %d values %v, want 1 (%s = torque/2 in [-1, 1])", len(action), action, p.spec.ActionNames[0])
	}
	a := float64(action[0])
	if math.IsNaN(a) || math.IsInf(a, 0) {
		return StepResult{}, fmt.Errorf("env: pendulum action %s = %g is not finite", p.spec.ActionNames[0], a)
	}
	s, reward, truncated, err := p.sim.Step(sim.PendulumMaxTorque * a)
	if err != nil {
		return StepResult{}, fmt.Errorf("env: %w", err)
	}
	return StepResult{Observation: pendulumObservation(s), Reward: reward, Truncated: truncated}, nil
}

// Close releases nothing: the pendulum holds no resources.
func (p *Pendulum) Close(context.Context) error { return nil }

func pendulumObservation(s sim.PendulumState) Observation {
	o := s.Observation()
	return Observation{State: []float32{float32(o[0]), float32(o[1]), float32(o[2])}}
}
