package sim

import (
	"math"

	"github.com/e2hil/e2hil/drivers/kinematics"
)

// gripperIndex is the gripper's place in Motors.
const gripperIndex = 5

// The jaws, in the gripper_link frame (metres): the approach direction is
// −z, the gripper tip (gripper_frame_link) sits between the jaw tips at
// (−0.0079, 0, −0.0981). The fixed jaw is on the −x side; the moving jaw
// turns about the URDF's "gripper" joint (origin (0.0202, 0.0188, −0.0234),
// axis −y here) and opens towards +x. The shapes are simplified boxes: the
// simulator needs where the jaws are, not the printed parts' curves.
const (
	fixedJawFace   = -0.0205 // x of the fixed jaw's inner face
	fixedJawOuter  = -0.0295
	jawHalfWidth   = 0.010 // half extent of both jaws along y
	jawTopZ        = -0.035
	jawBottomZ     = -0.108
	jawPivotX      = 0.0202
	jawPivotZ      = -0.0234
	jawThickness   = 0.008
	jawLength      = 0.088
	jawOpenMax     = 1.2 // jaw angle (rad) at gripper.pos 100; 0 at gripper.pos 0 (closed)
	graspPointZ    = -0.0981
	releaseMargin  = 0.5 // gripper units above the holding position that let go
	heldYLimit     = 0.005
	heldZTop       = -0.06 // a held cube's centre stays between the jaws' lower parts
	heldZBottom    = -0.106
	closedJawTipZ  = -0.104
	gripperBusMax  = 100.0
	bisectionSteps = 40
)

// jawClosedDir is the moving jaw's direction from its pivot when closed:
// its inner face then touches the fixed jaw's inner face near the tip.
var jawClosedDir = func() kinematics.Vec3 {
	d := kinematics.Vec3{fixedJawFace + jawThickness/2 - jawPivotX, 0, closedJawTipZ - jawPivotZ}
	return d.Scale(1 / d.Norm())
}()

// jawAngle is the moving jaw's opening (rad) at gripper position g (0–100).
func jawAngle(g float64) float64 {
	return jawOpenMax * math.Max(0, math.Min(gripperBusMax, g)) / gripperBusMax
}

// jawDir is the moving jaw's direction in the gripper_link frame at
// gripper position g: the closed direction turned by the opening towards +x.
func jawDir(g float64) kinematics.Vec3 {
	s, c := math.Sincos(jawAngle(g))
	d := jawClosedDir
	// rotation about −y by the opening angle: x' = x·c − z·s, z' = x·s + z·c
	return kinematics.Vec3{d[0]*c - d[2]*s, 0, d[0]*s + d[2]*c}
}

// jawGap is the free distance between the jaws' inner faces at the grasp
// point's height for gripper position g (metres); it grows with g.
func jawGap(g float64) float64 {
	d := jawDir(g)
	t := (graspPointZ - jawPivotZ) / d[2] // d[2] < 0 below the pivot
	x := jawPivotX + t*d[0]
	return x - jawThickness/2/(-d[2]) - fixedJawFace
}

// maxJawGap is the widest the jaws open.
func maxJawGap() float64 { return jawGap(gripperBusMax) }

// gripAt returns the gripper position in [lo, hi] where the jaw gap equals
// width (jawGap(lo) ≤ width ≤ jawGap(hi)).
func gripAt(width, lo, hi float64) float64 {
	for i := 0; i < bisectionSteps; i++ {
		mid := (lo + hi) / 2
		if jawGap(mid) < width {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// Held reports whether the gripper holds the cube (pick_cube).
func (w *World) Held() bool { return w.held }

// Gripper returns the gripper position (0 closed … 100 open).
func (w *World) Gripper() float64 { return w.joints[gripperIndex] }

// updateGrasp applies pick_cube's grasping after the joints moved: closing
// jaws whose gap crosses the cube's width with the cube centre within
// GraspRadius of the tip grasp it (the closing jaws push it against the
// fixed jaw and square it up); a held cube stops the jaws at its width and
// moves rigidly with the gripper; opening past that releases it, and it
// falls back onto the table.
func (w *World) updateGrasp(prevGrip float64) {
	g := &w.joints[gripperIndex]
	f := w.frames()
	s := w.cfg.CubeSize
	if w.held {
		if *g > w.heldGrip+releaseMargin {
			w.release()
			return
		}
		*g = math.Max(*g, w.heldGrip)
		w.holdCube(f)
		return
	}
	if jawGap(*g) >= s || jawGap(prevGrip) < s {
		return // the jaws did not close across the cube's width
	}
	if f.tip.P.Sub(w.cube.P).Norm() > w.cfg.GraspRadius {
		return
	}
	w.heldGrip = gripAt(s, *g, prevGrip)
	*g = w.heldGrip
	local := inverse(f.gripper).Compose(w.cube)
	local.P[0] = fixedJawFace + s/2
	local.P[1] = math.Max(-heldYLimit, math.Min(heldYLimit, local.P[1]))
	local.P[2] = math.Max(heldZBottom, math.Min(heldZTop, local.P[2]))
	w.heldPose = kinematics.Transform{R: kinematics.Identity3(), P: local.P}
	w.held = true
	w.holdCube(f)
}

// holdCube places the held cube in the jaws; the table stops it from
// going lower than resting on it.
func (w *World) holdCube(f armFrames) {
	w.cube = f.gripper.Compose(w.heldPose)
	w.cube.P[2] = math.Max(w.cube.P[2], w.cfg.CubeSize/2)
}

// release lets the cube go: it drops straight down onto the table and
// settles flat, keeping its heading.
func (w *World) release() {
	w.held = false
	r := w.cube.R
	yaw := math.Atan2(r[1][0], r[0][0])
	s, c := math.Sincos(yaw)
	w.cube.R = kinematics.Mat3{{c, -s, 0}, {s, c, 0}, {0, 0, 1}}
	w.cube.P[2] = w.cfg.CubeSize / 2
}

// armFrames are the arm's frames for a joint configuration (base frame).
type armFrames struct {
	// joints are the five revolute joints' origins and axes.
	joints, axes [5]kinematics.Vec3
	// links are the frames after each revolute joint: shoulder_link,
	// upper_arm_link, lower_arm_link, wrist_link, gripper_link.
	links [5]kinematics.Transform
	// gripper is gripper_link (links[4]); tip is gripper_frame_link.
	gripper, tip kinematics.Transform
}

// frames walks the chain (URDF: origin, then the rotation about the axis)
// at the current joint positions.
func (w *World) frames() armFrames {
	var f armFrames
	t := kinematics.Transform{R: kinematics.Identity3()}
	k := 0
	for _, j := range w.chain.Joints {
		t = t.Compose(j.Origin)
		if j.Revolute && k < 5 {
			f.joints[k] = t.P
			f.axes[k] = t.R.Apply(j.Axis)
			t = t.Compose(kinematics.Transform{R: rotation(j.Axis, kinematics.Deg2Rad(w.joints[k]))})
			f.links[k] = t
			k++
		}
	}
	f.gripper, f.tip = f.links[4], t
	return f
}

// rotation is Rodrigues' rotation by angle a about the unit axis k.
func rotation(k kinematics.Vec3, a float64) kinematics.Mat3 {
	s, c := math.Sincos(a)
	t := 1 - c
	x, y, z := k[0], k[1], k[2]
	return kinematics.Mat3{
		{t*x*x + c, t*x*y - s*z, t*x*z + s*y},
		{t*x*y + s*z, t*y*y + c, t*y*z - s*x},
		{t*x*z - s*y, t*y*z + s*x, t*z*z + c},
	}
}

// inverse is the inverse of a rigid transform.
func inverse(t kinematics.Transform) kinematics.Transform {
	rt := t.R.T()
	p := rt.Apply(t.P)
	return kinematics.Transform{R: rt, P: kinematics.Vec3{-p[0], -p[1], -p[2]}}
}
