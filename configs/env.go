package configs

import (
	"fmt"
	"math"
)

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
	// Cameras names the cameras whose frames every observation carries and
	// datasets record, as observation.images.<name> (sim: "front", fixed
	// above the table's front edge, and "wrist", on the gripper looking
	// along the jaws). Empty: state only.
	Cameras []string `json:"cameras"`
	// ImageSize is every camera frame's [height, width] in pixels (what
	// LeRobot's image_preprocessing.resize_size gives a policy); default
	// [128, 128]. The simulator renders directly at this size.
	ImageSize []int `json:"image_size"`
	// Sim holds settings of the built-in simulator only (env.type "sim").
	Sim SimConfig `json:"sim"`
}

// Sim tasks.
const (
	TaskTouchCube = "touch_cube" // bring the gripper tip to the cube
	TaskPickCube  = "pick_cube"  // grasp the cube and lift it
)

// SimConfig is e2hil's own: settings of the built-in simulated SO-101.
type SimConfig struct {
	// CubeSize is the cube's edge in metres (default 0.025).
	CubeSize float64 `json:"cube_size"`
	// GraspRadius (pick_cube): closing the jaws grasps the cube when its
	// centre is within this distance of the gripper tip (metres, 0.02).
	GraspRadius float64 `json:"grasp_radius"`
	// LiftHeight (pick_cube): success when the held cube is at least this
	// far above the table's surface resting height (metres, 0.05).
	LiftHeight float64 `json:"lift_height"`
	// Supersample renders cameras at n×n samples per pixel, box-filtered
	// (1: none, the default; 2 smooths edges at 4× the rendering cost).
	Supersample int `json:"supersample"`
	// Expert tunes `e2hil act --scripted`, the scripted controller.
	Expert ExpertConfig `json:"expert"`
}

// ExpertConfig tunes the simulator's scripted expert.
type ExpertConfig struct {
	// Noise is the standard deviation of the Gaussian noise on each delta
	// action (action units; default 0.1).
	Noise float64 `json:"noise"`
	// FailureProb is the probability that an episode is scripted to fail
	// (default 0.3), so recordings hold successes and failures.
	FailureProb float64 `json:"failure_prob"`
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
	// RewardClassifier, when its pretrained_path is set, judges success from
	// the cameras with an exported reward classifier (LeRobot's
	// RewardClassifierProcessorStep).
	RewardClassifier RewardClassifierProcessorConfig `json:"reward_classifier"`
}

// RewardClassifierProcessorConfig mirrors LeRobot's reward classifier
// processor config. PretrainedPath is a classifier.onnx file (written by
// e2hil reward train) or the directory holding one.
type RewardClassifierProcessorConfig struct {
	PretrainedPath   string  `json:"pretrained_path"`
	SuccessThreshold float64 `json:"success_threshold"`
	SuccessReward    float64 `json:"success_reward"`
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
			// LeRobot's defaults; off until pretrained_path is set.
			RewardClassifier: RewardClassifierProcessorConfig{SuccessThreshold: 0.5, SuccessReward: 1},
		},
		ImageSize: []int{128, 128},
		Sim: SimConfig{
			CubeSize: 0.025, GraspRadius: 0.02, LiftHeight: 0.05, Supersample: 1,
			Expert: ExpertConfig{Noise: 0.1, FailureProb: 0.3},
		},
	}
}

// ImageHW returns ImageSize as height, width.
func (c *EnvConfig) ImageHW() (h, w int) {
	if len(c.ImageSize) != 2 {
		return 0, 0
	}
	return c.ImageSize[0], c.ImageSize[1]
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
		p.check(len(c.Cameras) == 0, "cameras", "must be empty with env.type %q (it has no cameras), got %q", EnvPendulum, c.Cameras)
		return p
	case EnvSim:
		p.check(c.Task == TaskTouchCube || c.Task == TaskPickCube, "task", `unknown sim task %q (available: %q, %q)`, c.Task, TaskTouchCube, TaskPickCube)
		p.merge("sim", c.Sim.validate())
		seen := map[string]bool{}
		for i, name := range c.Cameras {
			p.check(name == "front" || name == "wrist", fmt.Sprintf("cameras[%d]", i), `unknown sim camera %q (available: "front", "wrist")`, name)
			p.check(!seen[name], fmt.Sprintf("cameras[%d]", i), "camera %q is listed twice", name)
			seen[name] = true
		}
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
	if rc := c.Processor.RewardClassifier; rc.PretrainedPath != "" {
		p.check(rc.SuccessThreshold >= 0 && rc.SuccessThreshold <= 1, "processor.reward_classifier.success_threshold", "must be in [0, 1], got %g", rc.SuccessThreshold)
		p.check(!math.IsNaN(rc.SuccessReward) && !math.IsInf(rc.SuccessReward, 0), "processor.reward_classifier.success_reward", "must be finite, got %g", rc.SuccessReward)
		p.check(len(c.Cameras) > 0, "processor.reward_classifier.pretrained_path", "a reward classifier reads cameras: set env.cameras")
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
	if len(c.Cameras) > 0 {
		p.check(len(c.ImageSize) == 2, "image_size", "must be [height, width], got %v", c.ImageSize)
		if len(c.ImageSize) == 2 {
			h, w := c.ImageHW()
			p.check(h >= 8 && h <= 4096 && w >= 8 && w <= 4096, "image_size", "height and width must be in [8, 4096] pixels, got %v", c.ImageSize)
		}
	}
	return p
}

func (s *SimConfig) validate() Problems {
	var p Problems
	p.check(s.CubeSize > 0 && s.CubeSize <= 0.05, "cube_size", "must be in (0, 0.05] metres (the jaws open about 0.1 m), got %g", s.CubeSize)
	p.check(s.GraspRadius > 0 && s.GraspRadius <= 0.1, "grasp_radius", "must be in (0, 0.1] metres, got %g", s.GraspRadius)
	p.check(s.LiftHeight > 0 && s.LiftHeight <= 0.07, "lift_height", "must be in (0, 0.07] metres (the end-effector bounds' height limits a lift), got %g", s.LiftHeight)
	p.check(s.Supersample >= 1 && s.Supersample <= 4, "supersample", "must be in [1, 4], got %d", s.Supersample)
	p.check(s.Expert.Noise >= 0 && s.Expert.Noise <= 2, "expert.noise", "must be in [0, 2] action units, got %g", s.Expert.Noise)
	p.check(s.Expert.FailureProb >= 0 && s.Expert.FailureProb <= 1, "expert.failure_prob", "must be in [0, 1], got %g", s.Expert.FailureProb)
	return p
}

func (p *Problems) checkLen(ok bool, path string, got int) bool {
	p.check(ok, path, "must have 3 values (x, y, z), got %d", got)
	return ok
}
