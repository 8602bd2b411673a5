package env

import (
	"context"
	"fmt"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/drivers/sim"
)

// SimRobotType is the robot_type the simulated SO-101 records.
const SimRobotType = "so101_sim"

// NewSim builds the built-in simulated SO-101 env from cfg (env.type "sim").
// The cube is placed inside the end-effector bounds, 2 cm from their edges.
func NewSim(ctx context.Context, cfg configs.EnvConfig) (*Manipulator, error) {
	if cfg.Type != configs.EnvSim {
		return nil, fmt.Errorf("env: NewSim with env.type %q", cfg.Type)
	}
	b := cfg.Processor.InverseKinematics.EndEffectorBounds
	const margin = 0.02
	sc := sim.DefaultConfig()
	sc.Task = cfg.Task
	sc.RewardType = cfg.RewardType
	sc.CubeMin = [2]float64{b.Min[0] + margin, b.Min[1] + margin}
	sc.CubeMax = [2]float64{b.Max[0] - margin, b.Max[1] - margin}
	world, err := sim.New(sc)
	if err != nil {
		return nil, fmt.Errorf("env: %w", err)
	}
	return NewManipulator(ctx, cfg, world, world, SimRobotType)
}
