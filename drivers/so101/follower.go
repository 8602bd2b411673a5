package so101

import (
	"context"
	"errors"
	"fmt"

	ft "github.com/e2hil/e2hil/drivers/feetech"
)

// Follower is the SO-101 follower arm (LeRobot SO101Follower). It
// satisfies env.Robot: values are in motor order (MotorNames), degrees or
// −100…100 for the body, 0…100 for the gripper.
type Follower struct {
	cfg FollowerConfig
	arm *arm
}

// NewFollower checks cfg, creates the calibration directory and loads an
// existing calibration file, as LeRobot does at construction. op answers
// the calibration prompts; it may be nil when the arm is known to be
// calibrated.
func NewFollower(cfg FollowerConfig, op Operator) (*Follower, error) {
	if cfg.Type == "" {
		cfg.Type = TypeFollower
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// so101_follower_end_effector always works in degrees (§4).
	useDegrees := cfg.UseDegrees || cfg.Type == TypeFollowerEE
	a, err := newArm(cfg.Type, KindRobots, cfg.Port, cfg.ID, cfg.CalibrationDir, motors(useDegrees),
		cfg.JointBounds, cfg.Bus, cfg.TorqueOffOnSignal, op)
	if err != nil {
		return nil, err
	}
	return &Follower{cfg: cfg, arm: a}, nil
}

// Motors names the joints in bus order.
func (f *Follower) Motors() []string { return append([]string(nil), MotorNames...) }

// Modes returns each motor's normalisation mode, in motor order.
func (f *Follower) Modes() []NormMode {
	out := make([]NormMode, len(f.arm.motors))
	for i, m := range f.arm.motors {
		out[i] = m.Mode
	}
	return out
}

// CalibrationPath is the calibration file this arm reads and writes.
func (f *Follower) CalibrationPath() string { return f.arm.calPath }

// Calibration returns the cached calibration (nil if none).
func (f *Follower) Calibration() Calibration { return f.arm.calibration() }

// Connect opens the bus, checks the motors and their calibration (running
// the calibration with the operator on a mismatch, or failing with
// ErrNotCalibrated without one), and configures the arm: torque on.
func (f *Follower) Connect(ctx context.Context) error {
	return f.arm.connect(ctx, true, f.configure)
}

// ConnectWithoutCalibration is Connect without the calibration check
// (LeRobot connect(calibrate=False)), for `e2hil calibrate`.
func (f *Follower) ConnectWithoutCalibration(ctx context.Context) error {
	return f.arm.connect(ctx, false, f.configure)
}

// configure is the follower's configure() (§3): torque off and unlocked,
// configure_motors, position mode and PID, then torque on and locked even
// if a write in between failed.
func (f *Follower) configure(ctx context.Context) (err error) {
	a := f.arm
	if err := a.disableTorque(ctx, 0); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	defer func() {
		if terr := a.enableTorque(ctx); terr != nil {
			err = errors.Join(err, fmt.Errorf("configure: torque on: %w", terr))
		}
	}()
	if err := a.configureMotors(ctx); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	for _, m := range a.motors {
		for _, w := range []struct {
			reg ft.Register
			v   int
		}{{ft.OperatingMode, ft.ModePosition}, {ft.PCoefficient, positionP}, {ft.ICoefficient, positionI}, {ft.DCoefficient, positionD}} {
			if err := a.bus.Write(ctx, m.ID, w.reg, w.v); err != nil {
				return fmt.Errorf("configure: %w", err)
			}
		}
	}
	return nil
}

// Calibrate runs LeRobot's calibration with the operator; the arm must be
// connected. The file is saved to CalibrationPath.
func (f *Follower) Calibrate(ctx context.Context) error { return f.arm.calibrate(ctx) }

// ReadJoints reads the present positions with one SYNC_READ.
func (f *Follower) ReadJoints(ctx context.Context) ([]float64, error) {
	return f.arm.readPositions(ctx)
}

// ReadCurrents reads the raw Present_Current of every motor (6.5 mA
// units; HIL-SERL's state) with one SYNC_READ.
func (f *Follower) ReadCurrents(ctx context.Context) ([]int, error) {
	return f.arm.readRaw(ctx, ft.PresentCurrent)
}

// WriteJoints sends goal positions (see SendAction).
func (f *Follower) WriteJoints(ctx context.Context, goal []float64) error {
	_, err := f.SendAction(ctx, goal)
	return err
}

// SendAction is LeRobot's send_action: with max_relative_target, read the
// present positions (one SYNC_READ) and cap each step; then write the goals
// through the safety clamp with one SYNC_WRITE. It returns the goals sent.
func (f *Follower) SendAction(ctx context.Context, goal []float64) ([]float64, error) {
	if f.arm.bus == nil {
		return nil, fmt.Errorf("%s: send action: %w", f.arm, ErrNotConnected)
	}
	if len(goal) != len(MotorNames) {
		return nil, fmt.Errorf("%s: %w: %d goals for %d motors", f.arm, ErrInvalidGoal, len(goal), len(MotorNames))
	}
	if f.cfg.MaxRelativeTarget.IsSet() {
		present, err := f.arm.readPositions(ctx)
		if err != nil {
			return nil, err
		}
		goal = capRelative(goal, present, f.arm.motors, f.cfg.MaxRelativeTarget)
	}
	return f.arm.writeGoals(ctx, goal)
}

// Disconnect disables torque (when disable_torque_on_disconnect) and closes
// the bus.
func (f *Follower) Disconnect(ctx context.Context) error {
	return f.arm.disconnect(ctx, f.cfg.DisableTorqueOnDisconnect)
}
