package so101

import (
	"encoding/json"
	"fmt"
)

// NormMode is how a motor's position is expressed (LeRobot MotorNormMode).
type NormMode int

const (
	// RangeM100100 maps the calibrated range to −100…100.
	RangeM100100 NormMode = iota
	// Range0100 maps the calibrated range to 0…100 (the gripper).
	Range0100
	// Degrees: 0 at the middle of the calibrated range, 360/4095 per step.
	Degrees
)

func (m NormMode) String() string {
	switch m {
	case RangeM100100:
		return "RANGE_M100_100"
	case Range0100:
		return "RANGE_0_100"
	case Degrees:
		return "DEGREES"
	}
	return fmt.Sprintf("NormMode(%d)", int(m))
}

// Motor is one joint of the arm.
type Motor struct {
	Name string
	ID   byte
	Mode NormMode
}

// MotorNames are the SO-101's motors in bus order (LeRobot's names).
var MotorNames = []string{"shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"}

// motors returns the SO-101's motors (§4): IDs 1–6 in MotorNames order, the
// body in DEGREES or RANGE_M100_100, the gripper always RANGE_0_100.
func motors(useDegrees bool) []Motor {
	body := RangeM100100
	if useDegrees {
		body = Degrees
	}
	out := make([]Motor, len(MotorNames))
	for i, name := range MotorNames {
		mode := body
		if name == "gripper" {
			mode = Range0100
		}
		out[i] = Motor{Name: name, ID: byte(i + 1), Mode: mode}
	}
	return out
}

// MaxRelativeTarget is LeRobot's max_relative_target: one cap for every
// motor (a JSON number) or a cap per motor (a JSON object), in normalised
// units. The zero value means no cap.
type MaxRelativeTarget struct {
	All      float64
	PerMotor map[string]float64
}

// IsSet reports whether a cap is configured.
func (m MaxRelativeTarget) IsSet() bool { return m.All > 0 || m.PerMotor != nil }

// Cap returns the cap for a motor and whether it has one.
func (m MaxRelativeTarget) Cap(motor string) (float64, bool) {
	if m.PerMotor != nil {
		c, ok := m.PerMotor[motor]
		return c, ok
	}
	return m.All, m.All > 0
}

func (m MaxRelativeTarget) MarshalJSON() ([]byte, error) {
	switch {
	case m.PerMotor != nil:
		return json.Marshal(m.PerMotor)
	case m.All > 0:
		return json.Marshal(m.All)
	}
	return []byte("null"), nil
}

func (m *MaxRelativeTarget) UnmarshalJSON(b []byte) error {
	*m = MaxRelativeTarget{}
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, &m.PerMotor)
	}
	if err := json.Unmarshal(b, &m.All); err != nil {
		return fmt.Errorf("max_relative_target: want a number or {motor: number}, got %s", b)
	}
	return nil
}

// Bounds are a joint's allowed goal range in its normalised units.
type Bounds struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}
