package teleop

import (
	"context"
	"fmt"
	"math"

	"github.com/e2hil/e2hil/drivers/kinematics"
)

// LeaderArm is what leader-arm teleoperation needs from the arm
// (so101.Leader satisfies it): joint positions in degrees for the body,
// torque, and goals to track the follower.
type LeaderArm interface {
	ReadJoints(ctx context.Context) ([]float64, error)
	SetTorque(ctx context.Context, on bool) error
	WriteJoints(ctx context.Context, goal []float64) error
}

// Leader is HIL-SERL's leader-arm mode (SO101.md §8): while the policy
// drives, the leader's torque is on and it tracks the follower; the space
// key hands control to the human, the leader goes limp, and the action is
// the end-effector difference FK(leader) − FK(follower), clipped to one
// step per axis and scaled to [-1, 1]. The gripper command is "stay".
type Leader struct {
	arm   LeaderArm
	keys  *Keyboard
	chain *kinematics.Chain
	steps kinematics.Vec3

	started     bool
	intervening bool
}

// NewLeader combines a leader arm with a keyboard (LeaderBindings) for the
// intervention toggle and episode signals. stepSizes are
// end_effector_step_sizes in metres.
func NewLeader(arm LeaderArm, keys *Keyboard, stepSizes kinematics.Vec3) (*Leader, error) {
	for i, s := range stepSizes {
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("teleop leader: end_effector_step_sizes[%d]: must be > 0, got %g", i, s)
		}
	}
	return &Leader{arm: arm, keys: keys, chain: kinematics.SO101(), steps: stepSizes}, nil
}

// Events delivers the keyboard's signals.
func (l *Leader) Events() <-chan Event { return l.keys.Events() }

// Step syncs the leader with the intervention toggle and returns the
// operator's action given the follower's joints (degrees, motor order).
func (l *Leader) Step(ctx context.Context, follower []float64) (Action, error) {
	want := l.keys.Intervening()
	if !l.started || want != l.intervening {
		// Tracking needs torque; the human needs a limp arm.
		if err := l.arm.SetTorque(ctx, !want); err != nil {
			return Action{}, fmt.Errorf("teleop leader: torque: %w", err)
		}
		l.started, l.intervening = true, want
	}
	a := Action{Gripper: GripperStay, Intervention: l.intervening}
	if !l.intervening {
		if err := l.arm.WriteJoints(ctx, follower); err != nil {
			return Action{}, fmt.Errorf("teleop leader: track the follower: %w", err)
		}
		return a, nil
	}
	lead, err := l.arm.ReadJoints(ctx)
	if err != nil {
		return Action{}, fmt.Errorf("teleop leader: %w", err)
	}
	pl, err := l.tip(lead)
	if err != nil {
		return Action{}, err
	}
	pf, err := l.tip(follower)
	if err != nil {
		return Action{}, err
	}
	for i := range a.Delta {
		d := math.Max(-l.steps[i], math.Min(l.steps[i], pl[i]-pf[i]))
		a.Delta[i] = d / l.steps[i]
	}
	return a, nil
}

// tip is the gripper frame's position for joints in degrees (the gripper
// value, last, does not move it).
func (l *Leader) tip(deg []float64) (kinematics.Vec3, error) {
	n := l.chain.DOF()
	if len(deg) < n {
		return kinematics.Vec3{}, fmt.Errorf("teleop leader: %d joint values, want at least %d", len(deg), n)
	}
	q := make([]float64, n)
	for i := range q {
		q[i] = kinematics.Deg2Rad(deg[i])
	}
	t, err := l.chain.FK(q)
	if err != nil {
		return kinematics.Vec3{}, err
	}
	return t.P, nil
}
