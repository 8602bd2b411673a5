package env

import "context"

// Env is one robot in its world, stepped at Spec().FPS.
type Env interface {
	Spec() Spec
	// Reset starts an episode; seed fixes everything random in it.
	Reset(ctx context.Context, seed int64) (Observation, error)
	// Step applies one action (Spec().ActionNames order) and observes.
	Step(ctx context.Context, action []float32) (StepResult, error)
	Close(ctx context.Context) error
}

// Spec describes an environment's features and timing.
type Spec struct {
	// RobotType is recorded as the dataset's robot_type ("so101_sim").
	RobotType string
	// Task is the task string recorded per frame ("touch_cube").
	Task            string
	FPS             int
	MaxEpisodeSteps int
	// StateNames name observation.state's values; StateLow/High bound them
	// (used for MIN_MAX normalisation).
	StateNames          []string
	StateLow, StateHigh []float32
	// ActionNames name the action's values (LeRobot's end-effector action:
	// delta_x, delta_y, delta_z in [-1, 1] and gripper in [0, 2]).
	ActionNames           []string
	ActionLow, ActionHigh []float32
	// HasGripper: the last action is HIL-SERL's discrete gripper command
	// (0 close, 1 stay, 2 open), learned by a discrete critic; the others
	// are continuous in [ActionLow, ActionHigh].
	HasGripper bool
	// Cameras are the RGB views each observation carries in
	// Observation.Images, in a fixed order; nil without cameras.
	Cameras []CameraSpec
}

// CameraSpec describes one camera feature.
type CameraSpec struct {
	// Key is the LeRobot feature name, "observation.images.<camera>".
	Key string
	// H and W are the frame's height and width in pixels.
	H, W int
}

// ImageKey is the LeRobot feature name of camera name's frames.
func ImageKey(name string) string { return "observation.images." + name }

// ContinuousDim is the number of continuous action values.
func (s Spec) ContinuousDim() int {
	if s.HasGripper {
		return len(s.ActionNames) - 1
	}
	return len(s.ActionNames)
}

// Observation is what the policy sees.
type Observation struct {
	// State is observation.state (see Spec.StateNames).
	State []float32
	// Images are the camera frames keyed by feature name (Spec.Cameras);
	// nil without cameras. Each observation has its own pixel buffers.
	Images map[string]Image
}

// Image is one RGB frame: H rows of W pixels, 3 bytes (R, G, B) each,
// row-major (HWC), as cameras deliver and LeRobot records them.
type Image struct {
	H, W int
	Pix  []uint8
}

// Camera is one RGB view of the scene: the simulator renders it, a real
// camera captures it. Read must not keep dst.
type Camera interface {
	// Size is the frame's height and width in pixels.
	Size() (h, w int)
	// Read writes the current frame into dst (h·w·3 bytes, HWC RGB).
	Read(ctx context.Context, dst []uint8) error
}

// NamedCamera is a camera and its name; its frames are the feature
// ImageKey(Name).
type NamedCamera struct {
	Name   string
	Camera Camera
}

// StepResult is the outcome of one Step.
type StepResult struct {
	Observation Observation
	Reward      float64
	// Terminated: the episode ended by itself (success with
	// terminate_on_success); Truncated: the time limit cut it.
	Terminated, Truncated bool
	Success               bool
	// Intervention: a human overrode the policy this step (teleoperation);
	// ExecutedAction is then the action the robot actually ran, which is
	// what the learner stores (HIL-SERL), tagged human.
	Intervention   bool
	ExecutedAction []float32
}

// Robot is a joint-level arm: the simulated SO-101 and the real follower both
// implement it. Values are in bus units, motor order: degrees (or ±100) for
// the body joints, 0–100 for the gripper.
type Robot interface {
	Motors() []string
	Connect(ctx context.Context) error
	Disconnect(ctx context.Context) error
	ReadJoints(ctx context.Context) ([]float64, error)
	WriteJoints(ctx context.Context, goal []float64) error
}

// Scene is the world around the robot as a simulator knows it: objects it
// randomises per episode, their state (privileged information a policy may
// observe in simulation), and the task's success and reward.
type Scene interface {
	ResetScene(seed int64)
	EnvironmentNames() []string
	EnvironmentState() []float64
	EnvironmentBounds() (lo, hi []float64)
	Evaluate() (reward float64, success bool)
}
