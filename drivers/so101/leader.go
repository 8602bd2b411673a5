package so101

import (
	"context"
	"fmt"

	ft "github.com/e2hil/e2hil/drivers/feetech"
)

// Leader is the SO-101 leader arm (LeRobot SO101Leader): a person moves
// it, torque off; HIL-SERL's leader mode also turns torque on to make it
// follow the follower.
type Leader struct {
	cfg LeaderConfig
	arm *arm
}

// NewLeader checks cfg, creates the calibration directory and loads an
// existing calibration file. op answers the calibration prompts; it may be
// nil.
func NewLeader(cfg LeaderConfig, op Operator) (*Leader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a, err := newArm(TypeLeader, KindTeleoperators, cfg.Port, cfg.ID, cfg.CalibrationDir, motors(cfg.UseDegrees),
		cfg.JointBounds, cfg.Bus, cfg.TorqueOffOnSignal, op)
	if err != nil {
		return nil, err
	}
	return &Leader{cfg: cfg, arm: a}, nil
}

// Motors names the joints in bus order.
func (l *Leader) Motors() []string { return append([]string(nil), MotorNames...) }

// CalibrationPath is the calibration file this arm reads and writes.
func (l *Leader) CalibrationPath() string { return l.arm.calPath }

// Calibration returns the cached calibration (nil if none).
func (l *Leader) Calibration() Calibration { return l.arm.calibration() }

// Connect opens the bus, checks motors and calibration, and configures the
// leader (torque stays off).
func (l *Leader) Connect(ctx context.Context) error { return l.arm.connect(ctx, true, l.configure) }

// ConnectWithoutCalibration is Connect without the calibration check.
func (l *Leader) ConnectWithoutCalibration(ctx context.Context) error {
	return l.arm.connect(ctx, false, l.configure)
}

// configure is the leader's configure() (§3): torque off and unlocked,
// configure_motors, position mode; torque stays off.
func (l *Leader) configure(ctx context.Context) error {
	a := l.arm
	if err := a.disableTorque(ctx, 0); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if err := a.configureMotors(ctx); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if err := a.writeAll(ctx, ft.OperatingMode, ft.ModePosition); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	return nil
}

// Calibrate runs LeRobot's calibration with the operator.
func (l *Leader) Calibrate(ctx context.Context) error { return l.arm.calibrate(ctx) }

// ReadJoints is LeRobot's get_action: the normalised positions, one
// SYNC_READ.
func (l *Leader) ReadJoints(ctx context.Context) ([]float64, error) {
	return l.arm.readPositions(ctx)
}

// SetTorque turns the leader's torque on (it holds or tracks goals, with
// HIL-SERL's leader gains P=16, I=0, D=16) or off (a person moves it).
func (l *Leader) SetTorque(ctx context.Context, on bool) error {
	if l.arm.bus == nil {
		return fmt.Errorf("%s: torque: %w", l.arm, ErrNotConnected)
	}
	if !on {
		return l.arm.disableTorque(ctx, 0)
	}
	for _, m := range l.arm.motors {
		for _, w := range []struct {
			reg ft.Register
			v   int
		}{{ft.PCoefficient, 16}, {ft.ICoefficient, 0}, {ft.DCoefficient, 16}} {
			if err := l.arm.bus.Write(ctx, m.ID, w.reg, w.v); err != nil {
				return err
			}
		}
	}
	return l.arm.enableTorque(ctx)
}

// WriteJoints sends goals (the follower's positions, to track it) through
// the safety clamp with one SYNC_WRITE.
func (l *Leader) WriteJoints(ctx context.Context, goal []float64) error {
	if l.arm.bus == nil {
		return fmt.Errorf("%s: write joints: %w", l.arm, ErrNotConnected)
	}
	_, err := l.arm.writeGoals(ctx, goal)
	return err
}

// Disconnect disables torque (always, as LeRobot's leader does) and closes
// the bus.
func (l *Leader) Disconnect(ctx context.Context) error { return l.arm.disconnect(ctx, true) }
