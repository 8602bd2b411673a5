package kinematics

import (
	"fmt"
	"math"
)

// Joint is one joint of a serial chain. Angles are radians.
type Joint struct {
	Name     string
	Revolute bool // false: fixed
	// Origin is the joint frame in its parent link's frame (URDF <origin>).
	Origin Transform
	// Axis is the unit rotation axis in the joint frame.
	Axis         Vec3
	Lower, Upper float64
}

// Chain is a serial chain from Base to Tip. Its configuration q has one angle
// per revolute joint, in chain order.
type Chain struct {
	Base, Tip string
	Joints    []Joint
}

// DOF is the number of revolute joints.
func (c *Chain) DOF() int {
	n := 0
	for _, j := range c.Joints {
		if j.Revolute {
			n++
		}
	}
	return n
}

// JointNames lists the revolute joints in configuration order.
func (c *Chain) JointNames() []string {
	var names []string
	for _, j := range c.Joints {
		if j.Revolute {
			names = append(names, j.Name)
		}
	}
	return names
}

// Limits returns the lower and upper limits of the revolute joints.
func (c *Chain) Limits() (lower, upper []float64) {
	for _, j := range c.Joints {
		if j.Revolute {
			lower = append(lower, j.Lower)
			upper = append(upper, j.Upper)
		}
	}
	return lower, upper
}

// FK returns the pose of the tip frame in the base frame (URDF §7.4 of the
// SO-101 spec: right-multiply origin, then the joint rotation about its axis).
func (c *Chain) FK(q []float64) (Transform, error) {
	if len(q) != c.DOF() {
		return Transform{}, fmt.Errorf("kinematics: FK got %d joint angles, chain %s→%s has %d", len(q), c.Base, c.Tip, c.DOF())
	}
	t, _, _ := c.frames(q)
	return t, nil
}

// frames returns the tip pose plus, for every revolute joint, its axis and
// origin in the base frame (for the Jacobian).
func (c *Chain) frames(q []float64) (tip Transform, axes, points []Vec3) {
	t := Transform{R: Identity3()}
	k := 0
	for _, j := range c.Joints {
		t = t.Compose(j.Origin)
		if j.Revolute {
			axes = append(axes, t.R.Apply(j.Axis))
			points = append(points, t.P)
			t = t.Compose(Transform{R: axisAngle(j.Axis, q[k])})
			k++
		}
	}
	return t, axes, points
}

// IKOptions tunes SolveIK. Start from DefaultIKOptions.
type IKOptions struct {
	// OrientationWeight is the gain of the secondary task that keeps the tip
	// near the wanted orientation, in the null space of the position task (so
	// orientation never costs position accuracy); 0 solves position only.
	OrientationWeight float64
	// Damping is λ of the damped least squares step Jᵀ(JJᵀ + λ²I)⁻¹e.
	Damping float64
	// MaxIterations bounds the iterations; Tolerance (metres) stops early.
	MaxIterations int
	Tolerance     float64
	// MaxStep bounds each joint's change per iteration (radians).
	MaxStep float64
}

// DefaultIKOptions converge to well under 1 mm inside the SO-101 workspace.
func DefaultIKOptions() IKOptions {
	return IKOptions{OrientationWeight: 0.5, Damping: 1e-3, MaxIterations: 200, Tolerance: 1e-5, MaxStep: 0.2}
}

// SolveIK moves q0 toward a tip position by damped least squares on the
// position Jacobian Jp, and toward orientation want by a secondary step
// projected into Jp's null space, keeping every joint inside its limits:
//
//	Δq = Jp⁺e_p + (I − Jp⁺Jp)·k·Joᵀe_o,   Jp⁺ = Jpᵀ(JpJpᵀ + λ²I)⁻¹
//
// It returns the solution and its position error in metres. An unreachable
// target gives the closest pose found, not an error.
func (c *Chain) SolveIK(q0 []float64, target Vec3, want Mat3, o IKOptions) ([]float64, float64, error) {
	n := c.DOF()
	if len(q0) != n {
		return nil, 0, fmt.Errorf("kinematics: IK seed has %d angles, chain has %d", len(q0), n)
	}
	lower, upper := c.Limits()
	q := make([]float64, n)
	for i := range q {
		q[i] = clamp(q0[i], lower[i], upper[i])
	}
	jp := make([]Vec3, n) // columns of the position Jacobian
	dq := make([]float64, n)
	sec := make([]float64, n)
	active := make([]bool, n)
	var posErr float64
	for it := 0; ; it++ {
		tip, axes, points := c.frames(q)
		ep := target.Sub(tip.P)
		posErr = ep.Norm()
		if posErr < o.Tolerance || it >= o.MaxIterations {
			break
		}
		eo := rotationError(want, tip.R)
		for k := 0; k < n; k++ {
			jp[k] = axes[k].Cross(tip.P.Sub(points[k]))
			active[k] = true
		}
		// Joints pinned at a limit and pushed outward leave the step and it
		// is recomputed without them (otherwise clamping breaks the position task).
		for pass := 0; pass <= n; pass++ {
			if !c.ikStep(jp, axes, active, ep, eo, o, dq, sec) {
				return q, posErr, nil
			}
			blocked := false
			for k := 0; k < n; k++ {
				if active[k] && ((q[k] <= lower[k] && dq[k] < 0) || (q[k] >= upper[k] && dq[k] > 0)) {
					active[k] = false
					blocked = true
				}
			}
			if !blocked {
				break
			}
		}
		for i := range q {
			q[i] = clamp(q[i]+clamp(dq[i], -o.MaxStep, o.MaxStep), lower[i], upper[i])
		}
	}
	return q, posErr, nil
}

// ikStep writes into dq the step of SolveIK using only the active joints;
// false if the position Jacobian is singular even with damping.
func (c *Chain) ikStep(jp, axes []Vec3, active []bool, ep, eo Vec3, o IKOptions, dq, sec []float64) bool {
	n := len(jp)
	var a Mat3 // JpJpᵀ + λ²I over active joints
	for k := 0; k < n; k++ {
		if !active[k] {
			continue
		}
		for r := 0; r < 3; r++ {
			for s := 0; s < 3; s++ {
				a[r][s] += jp[k][r] * jp[k][s]
			}
		}
	}
	for r := 0; r < 3; r++ {
		a[r][r] += o.Damping * o.Damping
	}
	inv, ok := a.Inverse()
	if !ok {
		return false
	}
	y := inv.Apply(ep) // primary: Δq = Jpᵀ·inv·e_p
	for k := 0; k < n; k++ {
		dq[k], sec[k] = 0, 0
		if active[k] {
			dq[k] = jp[k].Dot(y)
			sec[k] = o.OrientationWeight * axes[k].Dot(eo) // k·Joᵀe_o
		}
	}
	if o.OrientationWeight > 0 { // project the secondary: sec − Jp⁺(Jp·sec)
		var js Vec3
		for k := 0; k < n; k++ {
			js = js.Add(jp[k].Scale(sec[k]))
		}
		z := inv.Apply(js)
		for k := 0; k < n; k++ {
			if active[k] {
				dq[k] += sec[k] - jp[k].Dot(z)
			}
		}
	}
	return true
}

func clamp(x, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, x))
}
