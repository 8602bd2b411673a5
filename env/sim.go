package env

import (
	"context"
	"fmt"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/drivers/sim"
)

// SimRobotType is the robot_type the simulated SO-101 records.
const SimRobotType = "so101_sim"

// NewSim builds the built-in simulated SO-101 env from cfg (env.type "sim"):
// the task (touch_cube or pick_cube), the cube placed inside the
// end-effector bounds, 2 cm from their edges, and the configured cameras
// rendered at env.image_size.
func NewSim(ctx context.Context, cfg configs.EnvConfig) (*Manipulator, error) {
	if cfg.Type != configs.EnvSim {
		return nil, fmt.Errorf("env: NewSim with env.type %q", cfg.Type)
	}
	world, err := sim.New(SimWorldConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("env: %w", err)
	}
	var cams []NamedCamera
	if len(cfg.Cameras) > 0 {
		h, w := cfg.ImageHW()
		for _, name := range cfg.Cameras {
			c, err := world.NewCamera(name, h, w, max(1, cfg.Sim.Supersample))
			if err != nil {
				return nil, fmt.Errorf("env: env.cameras: %w", err)
			}
			cams = append(cams, NamedCamera{Name: name, Camera: c})
		}
	}
	return NewManipulator(ctx, cfg, world, world, SimRobotType, cams...)
}

// SimWorldConfig is the simulator's world for an env config.
func SimWorldConfig(cfg configs.EnvConfig) sim.Config {
	b := cfg.Processor.InverseKinematics.EndEffectorBounds
	const margin = 0.02
	sc := sim.DefaultConfig()
	sc.Task = cfg.Task
	sc.RewardType = cfg.RewardType
	if len(b.Min) == 3 && len(b.Max) == 3 {
		sc.CubeMin = [2]float64{b.Min[0] + margin, b.Min[1] + margin}
		sc.CubeMax = [2]float64{b.Max[0] - margin, b.Max[1] - margin}
		sc.TipMin = [3]float64{b.Min[0], b.Min[1], b.Min[2]}
		sc.TipMax = [3]float64{b.Max[0], b.Max[1], b.Max[2]}
	}
	if s := cfg.Sim; s.CubeSize > 0 {
		sc.CubeSize = s.CubeSize
	}
	if s := cfg.Sim; s.GraspRadius > 0 {
		sc.GraspRadius = s.GraspRadius
	}
	if s := cfg.Sim; s.LiftHeight > 0 {
		sc.LiftHeight = s.LiftHeight
	}
	return sc
}

// SimExpert returns the simulator's scripted expert for e (an env from
// NewSim), configured by cfg.Sim.Expert and seeded with seed: an actor for
// `e2hil act --scripted`.
func SimExpert(e Env, cfg configs.EnvConfig, seed uint64) (*sim.Expert, error) {
	m, ok := e.(*Manipulator)
	if !ok {
		return nil, fmt.Errorf("env: the scripted expert needs the simulator (env.type %q), got %T", configs.EnvSim, e)
	}
	w, ok := m.Scene().(*sim.World)
	if !ok {
		return nil, fmt.Errorf("env: the scripted expert needs the simulator (env.type %q)", configs.EnvSim)
	}
	s := cfg.Processor.InverseKinematics.EndEffectorStepSizes
	return sim.NewExpert(w, sim.ExpertConfig{
		StepSizes:   [3]float64{s.X, s.Y, s.Z},
		Noise:       cfg.Sim.Expert.Noise,
		FailureProb: cfg.Sim.Expert.FailureProb,
		Seed:        seed,
	})
}
