package kinematics

import (
	"fmt"
	"math"
)

// SO-101 frame names in the embedded URDF.
const (
	SO101BaseLink    = "base_link"
	SO101GripperLink = "gripper_frame_link"
)

// SO101 returns the chain base_link → gripper_frame_link of the embedded
// SO-101 URDF: shoulder_pan, shoulder_lift, elbow_flex, wrist_flex,
// wrist_roll (the gripper jaw is a side branch and never moves this frame).
func SO101() *Chain {
	c, err := ParseChain(so101URDF, SO101BaseLink, SO101GripperLink)
	if err != nil {
		panic(fmt.Sprintf("embedded SO-101 URDF: %v", err)) // a build defect, caught by tests
	}
	return c
}

// Deg2Rad and Rad2Deg convert between the bus's degrees and the chain's radians.
func Deg2Rad(d float64) float64 { return d * math.Pi / 180 }
func Rad2Deg(r float64) float64 { return r * 180 / math.Pi }

// EEDelta maps LeRobot's end-effector delta action to a target position:
// target = clip(current + delta·step, bounds) per axis (SO-101 spec §7.3).
type EEDelta struct {
	StepSizes Vec3 // metres per unit action
	Min, Max  Vec3 // workspace bounds, metres
}

// Target returns the clipped target for an action in [-1, 1]³ (values
// outside are clipped to [-1, 1] first, so no action can jump further than
// one step).
func (e EEDelta) Target(current Vec3, action [3]float64) Vec3 {
	var t Vec3
	for i := 0; i < 3; i++ {
		a := clamp(action[i], -1, 1)
		if math.IsNaN(a) {
			a = 0
		}
		t[i] = clamp(current[i]+a*e.StepSizes[i], e.Min[i], e.Max[i])
	}
	return t
}
