package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/e2hil/e2hil/drivers/kinematics"
)

// Motors are the SO-101 motors in bus order (LeRobot's names).
var Motors = []string{"shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"}

// Tasks the world can judge.
const (
	TaskTouchCube = "touch_cube"
	// TaskPickCube: close the gripper around the cube and lift it.
	TaskPickCube = "pick_cube"
)

// Reward types.
const (
	RewardSparse = "sparse"
	RewardDense  = "dense"
)

// Config describes the world. Zero values take the defaults of DefaultConfig.
type Config struct {
	Task       string
	RewardType string
	// CubeSize is the cube's edge in metres; it rests on the table (z = 0).
	CubeSize float64
	// SuccessDistance: touch_cube succeeds when the gripper tip
	// (gripper_frame_link) is within this distance of the cube's centre.
	SuccessDistance float64
	// CubeMin and CubeMax bound the cube centre's x, y (metres, base frame).
	CubeMin, CubeMax [2]float64
	// TipMin and TipMax bound the gripper tip (the env's end-effector
	// bounds); with the grasp radius they bound where a held cube can go.
	TipMin, TipMax [3]float64
	// GraspRadius (pick_cube): closing the jaws grasps the cube when its
	// centre is within this distance of the gripper tip.
	GraspRadius float64
	// LiftHeight (pick_cube): success when the held cube is lifted at least
	// this far above its resting height.
	LiftHeight float64
}

// DefaultConfig is touch_cube with a 2.5 cm cube and a 2 cm success radius
// (pick_cube: 2 cm grasp radius, 5 cm lift), inside LeRobot's default
// end-effector bounds of the sim configs.
func DefaultConfig() Config {
	return Config{
		Task: TaskTouchCube, RewardType: RewardSparse,
		CubeSize: 0.025, SuccessDistance: 0.02,
		CubeMin: [2]float64{0.18, -0.08}, CubeMax: [2]float64{0.30, 0.08},
		TipMin: [3]float64{0.16, -0.10, 0.02}, TipMax: [3]float64{0.32, 0.10, 0.10},
		GraspRadius: 0.02, LiftHeight: 0.05,
	}
}

// Validate reports bad values by field name.
func (c Config) Validate() error {
	var errs []error
	if c.Task != TaskTouchCube && c.Task != TaskPickCube {
		errs = append(errs, fmt.Errorf("sim: task %q unknown (available: %q, %q)", c.Task, TaskTouchCube, TaskPickCube))
	}
	if c.RewardType != RewardSparse && c.RewardType != RewardDense {
		errs = append(errs, fmt.Errorf("sim: reward type %q unknown (sparse, dense)", c.RewardType))
	}
	if !(c.CubeSize > 0) || !(c.SuccessDistance > 0) {
		errs = append(errs, fmt.Errorf("sim: cube size %g and success distance %g must be > 0", c.CubeSize, c.SuccessDistance))
	}
	for i := 0; i < 2; i++ {
		if !(c.CubeMin[i] <= c.CubeMax[i]) {
			errs = append(errs, fmt.Errorf("sim: cube bounds min %v must be ≤ max %v", c.CubeMin, c.CubeMax))
			break
		}
	}
	for i := 0; i < 3; i++ {
		if !(c.TipMin[i] < c.TipMax[i]) {
			errs = append(errs, fmt.Errorf("sim: tip bounds min %v must be < max %v", c.TipMin, c.TipMax))
			break
		}
	}
	if !(c.GraspRadius > 0) || !(c.LiftHeight > 0) {
		errs = append(errs, fmt.Errorf("sim: grasp radius %g and lift height %g must be > 0", c.GraspRadius, c.LiftHeight))
	}
	if c.Task == TaskPickCube && !(c.CubeSize < maxJawGap()) {
		errs = append(errs, fmt.Errorf("sim: cube size %g does not fit between the open jaws (%.3f m)", c.CubeSize, maxJawGap()))
	}
	return errors.Join(errs...)
}

// World is the simulated arm, table and cube. It implements the robot
// interface (the arm) and the scene interface (cube, success) of package env.
// It is not safe for concurrent use.
type World struct {
	cfg       Config
	chain     *kinematics.Chain
	lo, hi    []float64            // joint limits in bus units
	joints    []float64            // bus units: degrees ×5, gripper 0–100
	cube      kinematics.Transform // cube centre and orientation (base frame)
	connected bool

	// pick_cube: the held cube's pose in the gripper_link frame and the
	// gripper position at which the jaws rest on it.
	held     bool
	heldPose kinematics.Transform
	heldGrip float64
	episode  int64 // ResetScene calls so far
	seed     int64 // the current episode's seed
}

// New builds a world from cfg.
func New(cfg Config) (*World, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	chain := kinematics.SO101()
	lo, hi := chain.Limits()
	w := &World{cfg: cfg, chain: chain, joints: make([]float64, len(Motors))}
	for i := range lo {
		w.lo = append(w.lo, kinematics.Rad2Deg(lo[i]))
		w.hi = append(w.hi, kinematics.Rad2Deg(hi[i]))
	}
	w.lo, w.hi = append(w.lo, 0), append(w.hi, 100) // gripper RANGE_0_100
	w.cube = kinematics.Transform{R: kinematics.Identity3(),
		P: kinematics.Vec3{(cfg.CubeMin[0] + cfg.CubeMax[0]) / 2, (cfg.CubeMin[1] + cfg.CubeMax[1]) / 2, cfg.CubeSize / 2}}
	return w, nil
}

// Motors lists the motors in bus order.
func (w *World) Motors() []string { return append([]string(nil), Motors...) }

// JointLimits returns the joints' limits in bus units.
func (w *World) JointLimits() (lo, hi []float64) {
	return append([]float64(nil), w.lo...), append([]float64(nil), w.hi...)
}

// Connect "powers on" the arm.
func (w *World) Connect(ctx context.Context) error {
	w.connected = true
	return ctx.Err()
}

// Disconnect powers it off.
func (w *World) Disconnect(ctx context.Context) error {
	w.connected = false
	return nil
}

// ErrNotConnected is returned by joint reads and writes before Connect.
var ErrNotConnected = errors.New("sim: robot not connected")

// ReadJoints returns the joint positions in bus units, motor order.
func (w *World) ReadJoints(ctx context.Context) ([]float64, error) {
	if !w.connected {
		return nil, ErrNotConnected
	}
	return append([]float64(nil), w.joints...), ctx.Err()
}

// WriteJoints moves the arm to goal (bus units, motor order), clamped to the
// joint limits as the servos' limit registers would. In pick_cube the jaws
// grasp, hold (they cannot close through the cube) and release the cube.
func (w *World) WriteJoints(ctx context.Context, goal []float64) error {
	if !w.connected {
		return ErrNotConnected
	}
	if len(goal) != len(w.joints) {
		return fmt.Errorf("sim: WriteJoints got %d values, want %d (%v)", len(goal), len(w.joints), Motors)
	}
	for i, g := range goal {
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return fmt.Errorf("sim: WriteJoints %s = %g is not finite", Motors[i], g)
		}
	}
	prevGrip := w.joints[gripperIndex]
	for i, g := range goal {
		w.joints[i] = math.Max(w.lo[i], math.Min(w.hi[i], g))
	}
	if w.cfg.Task == TaskPickCube {
		w.updateGrasp(prevGrip)
	}
	return ctx.Err()
}

// Tip returns the gripper frame's position (metres, base frame).
func (w *World) Tip() kinematics.Vec3 {
	return w.frames().tip.P
}

// ResetScene places the cube for a new episode, uniformly in the cube
// bounds, resting on the table, from the seed alone.
func (w *World) ResetScene(seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_cbe))
	x := w.cfg.CubeMin[0] + (w.cfg.CubeMax[0]-w.cfg.CubeMin[0])*rng.Float64()
	y := w.cfg.CubeMin[1] + (w.cfg.CubeMax[1]-w.cfg.CubeMin[1])*rng.Float64()
	w.cube = kinematics.Transform{R: kinematics.Identity3(), P: kinematics.Vec3{x, y, w.cfg.CubeSize / 2}}
	w.held = false
	w.episode++
	w.seed = seed
}

// Cube returns the cube centre (metres, base frame).
func (w *World) Cube() kinematics.Vec3 { return w.cube.P }

// CubePose returns the cube's centre and orientation (base frame).
func (w *World) CubePose() kinematics.Transform { return w.cube }

// Task is the task the world judges.
func (w *World) Task() string { return w.cfg.Task }

// Episode counts ResetScene calls and returns the current episode's seed.
func (w *World) Episode() (count, seed int64) { return w.episode, w.seed }

// EnvironmentNames names EnvironmentState's values.
func (w *World) EnvironmentNames() []string { return []string{"cube.x", "cube.y", "cube.z"} }

// EnvironmentState is the privileged object state a policy may observe in
// simulation (the cube centre); a real setup sees it only through cameras.
func (w *World) EnvironmentState() []float64 { return []float64{w.cube.P[0], w.cube.P[1], w.cube.P[2]} }

// EnvironmentBounds bounds EnvironmentState (for normalisation). z runs
// from the cube resting on the table up to the highest a held cube can
// go (the tip bounds' top plus the grasp radius), in both tasks, so a
// normaliser never divides by a zero range. x, y: touch_cube's cube stays
// where it was placed (the placement bounds, as before cameras and
// pick_cube existed, so state-only touch_cube normalises as it did);
// pick_cube's goes wherever the gripper carries it (the tip bounds widened
// by the grasp radius).
func (w *World) EnvironmentBounds() (lo, hi []float64) {
	c, r := w.cfg, w.cfg.GraspRadius
	z0, z1 := c.CubeSize/2, math.Max(c.CubeSize/2, c.TipMax[2])+r
	if c.Task != TaskPickCube {
		return []float64{c.CubeMin[0], c.CubeMin[1], z0}, []float64{c.CubeMax[0], c.CubeMax[1], z1}
	}
	lo = []float64{math.Min(c.CubeMin[0], c.TipMin[0]-r), math.Min(c.CubeMin[1], c.TipMin[1]-r), z0}
	hi = []float64{math.Max(c.CubeMax[0], c.TipMax[0]+r), math.Max(c.CubeMax[1], c.TipMax[1]+r), z1}
	return lo, hi
}

// Evaluate judges the current state.
//
// touch_cube: success when the tip is within SuccessDistance of the cube
// centre; dense reward: minus that distance in metres.
//
// pick_cube: success when the cube is held at least LiftHeight above its
// resting height; dense reward: minus (the tip–cube distance plus the
// height still to lift), in metres.
//
// Sparse reward: 1 on success, else 0; dense: 1 on success, else the
// negative shaping above.
func (w *World) Evaluate() (reward float64, success bool) {
	d := w.Tip().Sub(w.cube.P).Norm()
	var shaped float64
	switch w.cfg.Task {
	case TaskPickCube:
		lift := w.cube.P[2] - w.cfg.CubeSize/2
		success = w.held && lift >= w.cfg.LiftHeight
		shaped = -(d + math.Max(0, w.cfg.LiftHeight-lift))
	default:
		success = d <= w.cfg.SuccessDistance
		shaped = -d
	}
	switch {
	case success:
		return 1, true
	case w.cfg.RewardType == RewardDense:
		return shaped, false
	default:
		return 0, false
	}
}
