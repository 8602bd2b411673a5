package so101

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	ft "github.com/e2hil/e2hil/drivers/feetech"
)

// Robot and teleoperator types (LeRobot's names; each has its own
// calibration directory, §5.2).
const (
	TypeFollower   = "so101_follower"
	TypeFollowerEE = "so101_follower_end_effector"
	TypeLeader     = "so101_leader"
)

// FollowerConfig mirrors LeRobot's SO101FollowerConfig (robot.type
// so101_follower or so101_follower_end_effector), plus e2hil's joint bounds.
type FollowerConfig struct {
	// Type is so101_follower (default) or so101_follower_end_effector,
	// which always uses DEGREES for the body and has its own calibration
	// directory.
	Type string `json:"type"`
	// Port is the serial device (/dev/ttyACM0) or an emulator (emu://so101).
	Port string `json:"port"`
	// ID names the calibration file (<id>.json; empty gives None.json).
	ID string `json:"id,omitempty"`
	// CalibrationDir replaces <HF_LEROBOT_CALIBRATION>/robots/<type>.
	CalibrationDir string `json:"calibration_dir,omitempty"`
	// DisableTorqueOnDisconnect (default true).
	DisableTorqueOnDisconnect bool `json:"disable_torque_on_disconnect"`
	// MaxRelativeTarget caps |goal − present| per step in normalised units.
	MaxRelativeTarget MaxRelativeTarget `json:"max_relative_target"`
	// UseDegrees expresses the body joints in degrees instead of −100…100.
	UseDegrees bool `json:"use_degrees"`
	// JointBounds restricts goals further than the calibrated range, per
	// motor, in normalised units (e2hil; not a LeRobot key).
	JointBounds map[string]Bounds `json:"joint_bounds,omitempty"`
	// TorqueOffOnSignal disables torque when the process gets SIGINT or
	// SIGTERM while connected (default true; e2hil).
	TorqueOffOnSignal bool `json:"torque_off_on_signal"`

	// Bus is the protocol timing (LeRobot's by default); not JSON.
	Bus ft.Config `json:"-"`
}

// DefaultFollowerConfig returns LeRobot's defaults for port.
func DefaultFollowerConfig(port string) FollowerConfig {
	return FollowerConfig{
		Type: TypeFollower, Port: port,
		DisableTorqueOnDisconnect: true, TorqueOffOnSignal: true,
		Bus: ft.DefaultConfig(),
	}
}

// LeaderConfig mirrors LeRobot's SO101LeaderConfig (teleop.type so101_leader).
type LeaderConfig struct {
	Port              string            `json:"port"`
	ID                string            `json:"id,omitempty"`
	CalibrationDir    string            `json:"calibration_dir,omitempty"`
	UseDegrees        bool              `json:"use_degrees"`
	JointBounds       map[string]Bounds `json:"joint_bounds,omitempty"`
	TorqueOffOnSignal bool              `json:"torque_off_on_signal"`
	Bus               ft.Config         `json:"-"`
}

// DefaultLeaderConfig returns LeRobot's defaults for port.
func DefaultLeaderConfig(port string) LeaderConfig {
	return LeaderConfig{Port: port, TorqueOffOnSignal: true, Bus: ft.DefaultConfig()}
}

// Validate reports every problem with its JSON path.
func (c FollowerConfig) Validate() error {
	var p problems
	if c.Type != TypeFollower && c.Type != TypeFollowerEE {
		p.add("type", "must be %q or %q, got %q", TypeFollower, TypeFollowerEE, c.Type)
	}
	validatePort(&p, c.Port)
	m := c.MaxRelativeTarget
	if m.All < 0 || math.IsNaN(m.All) || math.IsInf(m.All, 0) {
		p.add("max_relative_target", "must be a positive number, got %g", m.All)
	}
	for _, name := range sortedKeys(m.PerMotor) {
		if !slices.Contains(MotorNames, name) {
			p.add("max_relative_target."+name, "no such motor (motors: %s)", strings.Join(MotorNames, ", "))
		} else if v := m.PerMotor[name]; !(v > 0) || math.IsInf(v, 0) {
			p.add("max_relative_target."+name, "must be a positive number, got %g", v)
		}
	}
	if m.PerMotor != nil && len(m.PerMotor) != len(MotorNames) {
		// LeRobot requires the dict to name exactly the goals' motors.
		p.add("max_relative_target", "a per-motor cap must name all %d motors, got %d", len(MotorNames), len(m.PerMotor))
	}
	validateBounds(&p, c.JointBounds)
	if err := c.Bus.Validate(); err != nil {
		p.add("bus", "%v", err)
	}
	return p.err("so101 follower config")
}

// Validate reports every problem with its JSON path.
func (c LeaderConfig) Validate() error {
	var p problems
	validatePort(&p, c.Port)
	validateBounds(&p, c.JointBounds)
	if err := c.Bus.Validate(); err != nil {
		p.add("bus", "%v", err)
	}
	return p.err("so101 leader config")
}

func validatePort(p *problems, port string) {
	if port == "" {
		p.add("port", "must name a serial device (e.g. /dev/ttyACM0) or emu://so101")
	}
}

func validateBounds(p *problems, b map[string]Bounds) {
	for _, name := range sortedKeys(b) {
		path := "joint_bounds." + name
		if !slices.Contains(MotorNames, name) {
			p.add(path, "no such motor (motors: %s)", strings.Join(MotorNames, ", "))
			continue
		}
		v := b[name]
		if math.IsNaN(v.Min) || math.IsNaN(v.Max) || !(v.Min < v.Max) {
			p.add(path, "min must be < max, got [%g, %g]", v.Min, v.Max)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type problems []string

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, path+": "+fmt.Sprintf(format, args...))
}

func (p problems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", what, strings.Join(p, "; "))
}
