package kinematics

import "math"

// Vec3 is a 3-vector.
type Vec3 [3]float64

// Mat3 is a row-major 3×3 matrix.
type Mat3 [3][3]float64

// Transform is a rigid transform: x ↦ R·x + P.
type Transform struct {
	R Mat3
	P Vec3
}

func (a Vec3) Add(b Vec3) Vec3      { return Vec3{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }
func (a Vec3) Sub(b Vec3) Vec3      { return Vec3{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func (a Vec3) Scale(s float64) Vec3 { return Vec3{a[0] * s, a[1] * s, a[2] * s} }
func (a Vec3) Dot(b Vec3) float64   { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func (a Vec3) Norm() float64        { return math.Sqrt(a.Dot(a)) }
func (a Vec3) Cross(b Vec3) Vec3 {
	return Vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

// Identity3 is the 3×3 identity.
func Identity3() Mat3 { return Mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}} }

// Mul returns a·b.
func (a Mat3) Mul(b Mat3) Mat3 {
	var c Mat3
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			c[i][j] = a[i][0]*b[0][j] + a[i][1]*b[1][j] + a[i][2]*b[2][j]
		}
	}
	return c
}

// Apply returns a·v.
func (a Mat3) Apply(v Vec3) Vec3 {
	return Vec3{Vec3(a[0]).Dot(v), Vec3(a[1]).Dot(v), Vec3(a[2]).Dot(v)}
}

// T returns the transpose.
func (a Mat3) T() Mat3 {
	var c Mat3
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			c[i][j] = a[j][i]
		}
	}
	return c
}

// Inverse returns a⁻¹, or false when a is singular.
func (a Mat3) Inverse() (Mat3, bool) {
	c0 := Vec3(a[1]).Cross(Vec3(a[2]))
	det := Vec3(a[0]).Dot(c0)
	if math.Abs(det) < 1e-300 {
		return Mat3{}, false
	}
	c1 := Vec3(a[2]).Cross(Vec3(a[0]))
	c2 := Vec3(a[0]).Cross(Vec3(a[1]))
	inv := Mat3{c0, c1, c2}.T()
	for i := range inv {
		for j := range inv[i] {
			inv[i][j] /= det
		}
	}
	return inv, true
}

// Compose returns the transform a∘b (apply b, then a).
func (a Transform) Compose(b Transform) Transform {
	return Transform{R: a.R.Mul(b.R), P: a.R.Apply(b.P).Add(a.P)}
}

// rpyToMat is URDF's fixed-axis roll-pitch-yaw: Rz(yaw)·Ry(pitch)·Rx(roll).
func rpyToMat(rpy Vec3) Mat3 {
	return rotZ(rpy[2]).Mul(rotY(rpy[1])).Mul(rotX(rpy[0]))
}

func rotX(a float64) Mat3 {
	s, c := math.Sincos(a)
	return Mat3{{1, 0, 0}, {0, c, -s}, {0, s, c}}
}

func rotY(a float64) Mat3 {
	s, c := math.Sincos(a)
	return Mat3{{c, 0, s}, {0, 1, 0}, {-s, 0, c}}
}

func rotZ(a float64) Mat3 {
	s, c := math.Sincos(a)
	return Mat3{{c, -s, 0}, {s, c, 0}, {0, 0, 1}}
}

// axisAngle is Rodrigues' rotation by angle a about the unit axis k.
func axisAngle(k Vec3, a float64) Mat3 {
	s, c := math.Sincos(a)
	t := 1 - c
	x, y, z := k[0], k[1], k[2]
	return Mat3{
		{t*x*x + c, t*x*y - s*z, t*x*z + s*y},
		{t*x*y + s*z, t*y*y + c, t*y*z - s*x},
		{t*x*z - s*y, t*y*z + s*x, t*z*z + c},
	}
}

// rotationError is the rotation vector (axis·angle) taking cur to want,
// expressed in the base frame: the orientation error used by IK.
func rotationError(want, cur Mat3) Vec3 {
	r := want.Mul(cur.T())
	cosA := (r[0][0] + r[1][1] + r[2][2] - 1) / 2
	cosA = math.Max(-1, math.Min(1, cosA))
	a := math.Acos(cosA)
	v := Vec3{r[2][1] - r[1][2], r[0][2] - r[2][0], r[1][0] - r[0][1]}
	if a < 1e-9 {
		return v.Scale(0.5)
	}
	s := math.Sin(a)
	if s < 1e-6 { // near π: pick the axis from the diagonal
		axis := Vec3{math.Sqrt(math.Max(0, (r[0][0]+1)/2)), math.Sqrt(math.Max(0, (r[1][1]+1)/2)), math.Sqrt(math.Max(0, (r[2][2]+1)/2))}
		if r[0][1] < 0 {
			axis[1] = -axis[1]
		}
		if r[0][2] < 0 {
			axis[2] = -axis[2]
		}
		return axis.Scale(a / axis.Norm())
	}
	return v.Scale(a / (2 * s))
}
