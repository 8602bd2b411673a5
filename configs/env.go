package configs

import "math"

// Environment types.
const (
	// EnvSim is e2hil's built-in simulated SO-101 (drivers/sim).
	EnvSim = "sim"
	// EnvPendulum is Gymnasium's Pendulum-v1 (drivers/sim), the learner's
	// sanity benchmark. It has no robot: robot, reward_type and processor do
	// not apply to it.
	EnvPendulum = "pendulum"
)

// Pendulum-v1's fixed task name and timing: dt is 0.05 s, and Gymnasium's
// TimeLimit truncates an episode after 200 steps.
const (
	PendulumTask            = "pendulum"
	PendulumFPS             = 20
	PendulumMaxEpisodeSteps = 200
)

// Reward types of the simulator.
const (
	RewardSparse = "sparse" // 1 on success, else 0 (what a reward classifier gives)
	RewardDense  = "dense"  // 1 on success, else −(tip–cube distance in metres)
)

// EnvConfig mirrors LeRobot's HILSerlRobotEnvConfig (env.type
// "gym_manipulator"), with e2hil's built-in simulator as type "sim" and
// Gymnasium's Pendulum-v1 as type "pendulum".
type EnvConfig struct {
	Type string `json:"type"`
	// Task names the sim task ("touch_cube"; "pendulum" for type
	// "pendulum"), or the task string recorded in datasets.
	Task string `json:"task"`
	FPS  int    `json:"fps"`
	// RewardType is "sparse" or "dense" (sim only).
	RewardType string          `json:"reward_type"`
	Robot      RobotConfig     `json:"robot"`
	Processor  ProcessorConfig `json:"processor"`
}

// RobotConfig selects the robot; "so101_sim" is the simulated SO-101.
type RobotConfig struct {
	Type string `json:"type"`
}

// ProcessorConfig mirrors LeRobot's HILSerlProcessorConfig.
type ProcessorConfig struct {
	Gripper           GripperConfig           `json:"gripper"`
	Reset             ResetConfig             `json:"reset"`
	InverseKinematics InverseKinematicsConfig `json:"inverse_kinematics"`
	// MaxGripperPos is how far (gripper units, 0–100) one gripper command of
	// 0 (close) or 2 (open) moves the gripper per step.
	MaxGripperPos float64 `json:"max_gripper_pos"`
}

// GripperConfig mirrors LeRobot's GripperConfig.
type GripperConfig struct {
	UseGripper     bool    `json:"use_gripper"`
	GripperPenalty float64 `json:"gripper_penalty"`
}

// ResetConfig mirrors LeRobot's ResetConfig.
type ResetConfig struct {
	// FixedResetJointPositions in motor order, degrees for the five body
	// joints and 0–100 for the gripper.
	FixedResetJointPositions []float64 `json:"fixed_reset_joint_positions"`
	ResetTimeS               float64   `json:"reset_time_s"`
	// ControlTimeS is the episode time limit; fps·control_time_s steps.
	ControlTimeS       float64 `json:"control_time_s"`
	TerminateOnSuccess bool    `json:"terminate_on_success"`
}

// InverseKinematicsConfig mirrors LeRobot's InverseKinematicsConfig.
type InverseKinematicsConfig struct {
	// URDFPath "" means the embedded SO-101 URDF (so101_new_calib.urdf).
	URDFPath             string    `json:"urdf_path"`
	TargetFrameName      string    `json:"target_frame_name"`
	EndEffectorBounds    Bounds    `json:"end_effector_bounds"`
	EndEffectorStepSizes StepSizes `json:"end_effector_step_sizes"`
}

// Bounds is an axis-aligned box in metres, in the robot base frame.
type Bounds struct {
	Min []float64 `json:"min"`
	Max []float64 `json:"max"`
}

// StepSizes scales the [-1, 1] end-effector delta action to metres per step.
type StepSizes struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

// DefaultEnvConfig is the built-in simulated SO-101 touching a cube.
func DefaultEnvConfig() EnvConfig {
	return EnvConfig{
		Type:       EnvSim,
		Task:       "touch_cube",
		FPS:        10,
		RewardType: RewardSparse,
		Robot:      RobotConfig{Type: "so101_sim"},
		Processor: ProcessorConfig{
			Gripper: GripperConfig{UseGripper: true},
			Reset: ResetConfig{
				// E2HiL's SO-101 reset pose: gripper above the table, pointing down.
				FixedResetJointPositions: []float64{0, -20, 20, 90, 0, 50},
				ResetTimeS:               0,
				ControlTimeS:             5,
				TerminateOnSuccess:       true,
			},
			InverseKinematics: InverseKinematicsConfig{
				TargetFrameName: "gripper_frame_link",
				EndEffectorBounds: Bounds{
					Min: []float64{0.16, -0.10, 0.02},
					Max: []float64{0.32, 0.10, 0.10},
				},
				EndEffectorStepSizes: StepSizes{X: 0.02, Y: 0.02, Z: 0.02},
			},
			MaxGripperPos: 10,
		},
	}
}

// MaxEpisodeSteps is the episode time limit in steps: fps·control_time_s,
// or Pendulum-v1's fixed 200.
func (c *EnvConfig) MaxEpisodeSteps() int {
	if c.Type == EnvPendulum {
		return PendulumMaxEpisodeSteps
	}
	return int(math.Round(c.Processor.Reset.ControlTimeS * float64(c.FPS)))
}

func (c *EnvConfig) validate() Problems {
	var p Problems
	switch c.Type {
	case EnvPendulum:
		// Pendulum-v1's dynamics fix its rate and time limit; nothing else
		// (robot, processor) applies.
		p.check(c.Task == PendulumTask, "task", `must be %q with env.type %q, got %q`, PendulumTask, EnvPendulum, c.Task)
		p.check(c.FPS == PendulumFPS, "fps", "must be %d with env.type %q (Pendulum-v1's dt is 0.05 s), got %d", PendulumFPS, EnvPendulum, c.FPS)
		return p
	case EnvSim:
		p.check(c.Task == "touch_cube", "task", `unknown sim task %q (available: "touch_cube")`, c.Task)
		p.check(c.Robot.Type == "so101_sim", "robot.type", `must be "so101_sim" with env.type "sim", got %q`, c.Robot.Type)
		p.check(c.RewardType == RewardSparse || c.RewardType == RewardDense, "reward_type", `must be "sparse" or "dense", got %q`, c.RewardType)
	default:
		p.check(false, "type", `must be %q (the built-in simulated SO-101) or %q (Gymnasium's Pendulum-v1); real robots arrive with the hardware drivers; got %q`,
			EnvSim, EnvPendulum, c.Type)
	}
	p.check(c.FPS >= 1, "fps", "must be ≥ 1, got %d", c.FPS)
	r := c.Processor.Reset
	p.check(r.ControlTimeS > 0, "processor.reset.control_time_s", "must be > 0, got %g", r.ControlTimeS)
	p.check(r.ResetTimeS >= 0, "processor.reset.reset_time_s", "must be ≥ 0, got %g", r.ResetTimeS)
	if r.ControlTimeS > 0 && c.FPS >= 1 {
		p.check(c.MaxEpisodeSteps() >= 1, "processor.reset.control_time_s", "gives %d steps at %d fps", c.MaxEpisodeSteps(), c.FPS)
	}
	p.check(len(r.FixedResetJointPositions) == 6, "processor.reset.fixed_reset_joint_positions",
		"must have 6 values (5 joints in degrees + gripper 0–100), got %d", len(r.FixedResetJointPositions))
	ik := c.Processor.InverseKinematics
	b := ik.EndEffectorBounds
	if p.checkLen(len(b.Min) == 3, "processor.inverse_kinematics.end_effector_bounds.min", len(b.Min)) &&
		p.checkLen(len(b.Max) == 3, "processor.inverse_kinematics.end_effector_bounds.max", len(b.Max)) {
		for i, axis := range []string{"x", "y", "z"} {
			p.check(b.Min[i] < b.Max[i], "processor.inverse_kinematics.end_effector_bounds",
				"min.%s (%g) must be < max.%s (%g)", axis, b.Min[i], axis, b.Max[i])
		}
	}
	s := ik.EndEffectorStepSizes
	for _, v := range []struct {
		axis string
		v    float64
	}{{"x", s.X}, {"y", s.Y}, {"z", s.Z}} {
		p.check(v.v > 0 && v.v <= 0.1, "processor.inverse_kinematics.end_effector_step_sizes."+v.axis,
			"must be in (0, 0.1] metres per step, got %g", v.v)
	}
	p.check(c.Processor.MaxGripperPos > 0 && c.Processor.MaxGripperPos <= 100, "processor.max_gripper_pos",
		"must be in (0, 100], got %g", c.Processor.MaxGripperPos)
	return p
}

func (p *Problems) checkLen(ok bool, path string, got int) bool {
	p.check(ok, path, "must have 3 values (x, y, z), got %d", got)
	return ok
}
