package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/e2hil/e2hil/drivers/kinematics"
)

// ExpertConfig tunes the scripted expert.
type ExpertConfig struct {
	// StepSizes are the env's end_effector_step_sizes (metres per unit of
	// the delta action), to turn a wanted displacement into an action.
	StepSizes [3]float64
	// Noise is the standard deviation of the Gaussian noise added to every
	// delta action value (action units, before clipping to [−1, 1]).
	Noise float64
	// FailureProb is the probability that an episode is scripted to fail
	// (a missed grasp, a drop, never closing, hovering), so that a
	// recording holds failures as well as successes.
	FailureProb float64
	// Seed with the episode's seed fixes the expert's choices.
	Seed uint64
}

// Validate reports bad values by field name.
func (c ExpertConfig) Validate() error {
	var errs []error
	for i, s := range c.StepSizes {
		if !(s > 0) {
			errs = append(errs, fmt.Errorf("sim: expert step size %d is %g, must be > 0", i, s))
		}
	}
	if !(c.Noise >= 0) || math.IsInf(c.Noise, 0) {
		errs = append(errs, fmt.Errorf("sim: expert noise %g must be finite and ≥ 0", c.Noise))
	}
	if !(c.FailureProb >= 0 && c.FailureProb <= 1) {
		errs = append(errs, fmt.Errorf("sim: expert failure probability %g must be in [0, 1]", c.FailureProb))
	}
	return errors.Join(errs...)
}

// Expert is a scripted controller for the simulated tasks, computed from
// the world's privileged state (tip, cube, grasp), in the env's action
// space [delta_x, delta_y, delta_z, gripper]:
//
//	pick_cube:  open, move above the cube, descend, close, lift
//	touch_cube: move the tip to the cube
//
// with Gaussian action noise and, per episode with FailureProb, a scripted
// failure. It is an inference.Actor: Act ignores the observation it is
// given and reads the world, noticing a new episode when the world was
// reset. Deterministic for Seed and the episodes' seeds.
type Expert struct {
	w   *World
	cfg ExpertConfig
	rng *rand.Rand

	episode int64
	phase   int
	steps   int // steps in the current phase
	failure failureMode
	offset  kinematics.Vec3 // where a "miss" aims, relative to the cube
	dropAt  float64         // lift (m) at which a "drop" opens the jaws
	action  [4]float32
}

type failureMode int

const (
	succeed    failureMode = iota
	missGrasp              // descends beside the cube: the jaws close on nothing
	dropCube               // lifts it part of the way, then opens
	neverClose             // goes down to the cube and stays there, open
	hover                  // stays above the cube (touch_cube: never touches)
)

func (m failureMode) String() string {
	return [...]string{"succeed", "miss", "drop", "never_close", "hover"}[m]
}

// pick_cube phases.
const (
	phaseApproach = iota
	phaseDescend
	phaseClose
	phaseLift
	phaseRelease
)

// Expert geometry (metres).
const (
	hoverHeight   = 0.05  // above the cube before descending
	alignTol      = 0.006 // horizontal alignment before descending
	graspTol      = 0.008 // vertical closeness before closing
	liftTarget    = 0.085 // lift the cube this far (beyond the success height)
	openEnough    = 60.0  // gripper position to approach with
	closeTimeout  = 8     // steps of closing before giving up
	missMin       = 0.028 // a miss aims this far (or up to missMax) beside the cube
	missMax       = 0.040
	touchHoverMin = 0.035
	touchHoverMax = 0.05
)

// NewExpert returns the scripted expert acting in w.
func NewExpert(w *World, cfg ExpertConfig) (*Expert, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Expert{w: w, cfg: cfg, episode: -1}, nil
}

// Failure names the current episode's scripted failure ("succeed" when
// the expert means to succeed).
func (e *Expert) Failure() string { return e.failure.String() }

// Act returns the next action. The observation is not used: the expert
// reads the world's privileged state.
func (e *Expert) Act([]float32) ([]float32, error) {
	if n, _ := e.w.Episode(); n != e.episode {
		e.plan()
	}
	tip, cube := e.w.Tip(), e.w.Cube()
	var target kinematics.Vec3
	grip := float32(1) // stay
	switch e.w.Task() {
	case TaskPickCube:
		target, grip = e.pick(tip, cube)
	default:
		target = cube
		if e.failure == hover {
			target = cube.Add(e.offset)
		}
	}
	e.steps++
	for i := 0; i < 3; i++ {
		a := (target[i] - tip[i]) / e.cfg.StepSizes[i]
		if e.cfg.Noise > 0 {
			a += e.cfg.Noise * e.rng.NormFloat64()
		}
		e.action[i] = float32(math.Max(-1, math.Min(1, a)))
	}
	e.action[3] = grip
	return append([]float32(nil), e.action[:]...), nil
}

// plan starts an episode: draw whether and how it fails.
func (e *Expert) plan() {
	n, seed := e.w.Episode()
	e.episode = n
	e.rng = rand.New(rand.NewPCG(e.cfg.Seed, uint64(seed)))
	e.phase, e.steps, e.failure = phaseApproach, 0, succeed
	fail := e.rng.Float64() < e.cfg.FailureProb
	angle := 2 * math.Pi * e.rng.Float64()
	dist := missMin + (missMax-missMin)*e.rng.Float64()
	e.offset = kinematics.Vec3{dist * math.Cos(angle), dist * math.Sin(angle), 0}
	e.dropAt = 0.3 * e.w.cfg.LiftHeight * (1 + e.rng.Float64()) // 30–60 % of the way
	if !fail {
		return
	}
	if e.w.Task() != TaskPickCube {
		e.failure = hover
		e.offset = kinematics.Vec3{0, 0, touchHoverMin + (touchHoverMax-touchHoverMin)*e.rng.Float64()}
		return
	}
	e.failure = []failureMode{missGrasp, dropCube, neverClose}[e.rng.IntN(3)]
	if e.failure == missGrasp {
		// Aim beside the cube, on the side that stays inside the tip bounds.
		c := e.w.Cube()
		for i := 0; i < 2; i++ {
			if p := c[i] + e.offset[i]; p < e.w.cfg.TipMin[i] || p > e.w.cfg.TipMax[i] {
				e.offset[i] = -e.offset[i]
			}
		}
	}
}

// pick is pick_cube's state machine: the tip target and gripper command.
func (e *Expert) pick(tip, cube kinematics.Vec3) (kinematics.Vec3, float32) {
	aim := cube
	if e.failure == missGrasp {
		aim = cube.Add(e.offset)
	}
	grasp := kinematics.Vec3{aim[0], aim[1], math.Max(aim[2], e.w.cfg.TipMin[2])}
	next := func(p int) { e.phase, e.steps = p, 0 }
	switch e.phase {
	case phaseApproach:
		above := grasp.Add(kinematics.Vec3{0, 0, hoverHeight})
		if math.Hypot(tip[0]-above[0], tip[1]-above[1]) < alignTol && e.w.Gripper() >= openEnough {
			next(phaseDescend)
		}
		return above, openCmd(e.w.Gripper())
	case phaseDescend:
		if math.Abs(tip[2]-grasp[2]) < graspTol && math.Hypot(tip[0]-grasp[0], tip[1]-grasp[1]) < alignTol {
			if e.failure != neverClose {
				next(phaseClose)
			}
		}
		return grasp, openCmd(e.w.Gripper())
	case phaseClose:
		if e.w.Held() || e.steps >= closeTimeout || e.w.Gripper() <= 0 {
			next(phaseLift)
		}
		return grasp, 0
	case phaseLift:
		lifted := e.w.cfg.CubeSize/2 + liftTarget
		if e.failure == dropCube && e.w.Held() && cube[2]-e.w.cfg.CubeSize/2 >= e.dropAt {
			next(phaseRelease)
			return tip, 2
		}
		return kinematics.Vec3{tip[0], tip[1], lifted}, 0
	default: // phaseRelease
		return tip, 2
	}
}

// openCmd opens the gripper until it is open enough, then holds it.
func openCmd(g float64) float32 {
	if g < openEnough {
		return 2
	}
	return 1
}
