package kinematics

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Reference poses of gripper_frame_link in base_link, computed independently
// from the URDF (SO-101 spec §7.5). q in radians; the sixth (gripper) value of
// the spec's table moves nothing and is left out.
var fkReference = []struct {
	q    [5]float64
	pos  Vec3
	quat [4]float64 // w, x, y, z with w ≥ 0
}{
	{[5]float64{0, 0, 0, 0, 0}, Vec3{0.391361, -0.000009, 0.226470}, [4]float64{0.706900, 0.017206, 0.706894, 0.017214}},
	{[5]float64{0.5, 0, 0, 0, 0}, Vec3{0.348202, -0.169018, 0.226469}, [4]float64{0.689183, 0.191560, 0.680662, -0.158212}},
	{[5]float64{0, -0.349066, 0.349066, 1.570796, 0}, Vec3{0.184044, -0.000010, 0.077930}, [4]float64{0.000005, 0.024334, 0.999704, 0.000003}},
	{[5]float64{0.3, -0.5, 0.6, -0.4, 1.0}, Vec3{0.313096, -0.091889, 0.263363}, [4]float64{0.652386, -0.189883, 0.562300, -0.471335}},
	{[5]float64{-1.0, 0.4, -0.7, 1.2, -2.0}, Vec3{0.210774, 0.280623, 0.131626}, [4]float64{0.015283, 0.472742, 0.817420, 0.328794}},
	{[5]float64{1.5, 1.2, -1.5, -1.5, 2.5}, Vec3{0.050119, -0.230337, 0.329774}, [4]float64{0.391307, -0.052363, 0.101659, 0.913128}},
}

func TestSO101ChainShape(t *testing.T) {
	c := SO101()
	want := "shoulder_pan shoulder_lift elbow_flex wrist_flex wrist_roll"
	if got := strings.Join(c.JointNames(), " "); got != want {
		t.Fatalf("joints = %q, want %q", got, want)
	}
	lo, hi := c.Limits()
	if math.Abs(lo[0]+1.91986) > 1e-9 || math.Abs(hi[4]-2.84121) > 1e-9 {
		t.Errorf("limits %v %v", lo, hi)
	}
}

func TestFKMatchesReference(t *testing.T) {
	c := SO101()
	for i, tc := range fkReference {
		pose, err := c.FK(tc.q[:])
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 3; k++ {
			// The reference is printed to 6 decimals: allow its rounding (5e-7) plus 5e-7.
			if d := math.Abs(pose.P[k] - tc.pos[k]); d > 1e-6 {
				t.Errorf("case %d: position[%d] = %.7f, want %.6f (diff %.2g m)", i+1, k, pose.P[k], tc.pos[k], d)
			}
		}
		q := quaternion(pose.R)
		for k := 0; k < 4; k++ {
			if d := math.Abs(q[k] - tc.quat[k]); d > 2e-6 {
				t.Errorf("case %d: quaternion %v, want %v", i+1, q, tc.quat)
				break
			}
		}
	}
}

func TestFKWrongArity(t *testing.T) {
	if _, err := SO101().FK([]float64{0, 0}); err == nil || !strings.Contains(err.Error(), "got 2 joint angles") {
		t.Errorf("err = %v", err)
	}
}

// FK∘IK round trip inside the bounded workspace: every target of a grid over
// the largest bounds we ship (E2HiL's real bounds and the sim's) is reached
// to well within 1 mm from the reset pose.
func TestIKRoundTripOverWorkspace(t *testing.T) {
	c := SO101()
	reset := []float64{0, Deg2Rad(-20), Deg2Rad(20), Deg2Rad(90), 0}
	home, _ := c.FK(reset)
	boxes := []struct{ min, max Vec3 }{
		{Vec3{0.14, -0.03, 0.02}, Vec3{0.40, 0.14, 0.09}}, // E2HiL SO-101 end_effector_bounds
		{Vec3{0.16, -0.10, 0.02}, Vec3{0.32, 0.10, 0.10}}, // configs/sim_touch_cube.json
	}
	worst := 0.0
	for _, b := range boxes {
		const n = 6
		for i := 0; i <= n; i++ {
			for j := 0; j <= n; j++ {
				for k := 0; k <= n; k++ {
					target := Vec3{
						b.min[0] + (b.max[0]-b.min[0])*float64(i)/n,
						b.min[1] + (b.max[1]-b.min[1])*float64(j)/n,
						b.min[2] + (b.max[2]-b.min[2])*float64(k)/n,
					}
					q, _, err := c.SolveIK(reset, target, home.R, DefaultIKOptions())
					if err != nil {
						t.Fatal(err)
					}
					got, _ := c.FK(q)
					d := got.P.Sub(target).Norm()
					worst = math.Max(worst, d)
					if d > 1e-3 {
						t.Errorf("target %v: reached %v, error %.3g m", target, got.P, d)
					}
				}
			}
		}
	}
	t.Logf("worst FK∘IK position error over the workspace grid: %.3g m", worst)
}

// Random reachable poses (FK of random joint angles) are recovered from a
// different seed configuration.
func TestIKRecoversRandomPoses(t *testing.T) {
	c := SO101()
	lo, hi := c.Limits()
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		q := make([]float64, 5)
		for i := range q {
			q[i] = lo[i]*0.6 + (hi[i]-lo[i])*0.6*rng.Float64()
		}
		want, _ := c.FK(q)
		seed := make([]float64, 5)
		for i := range seed {
			seed[i] = q[i] + 0.3*(rng.Float64()-0.5)
		}
		got, errPos, _ := c.SolveIK(seed, want.P, want.R, IKOptions{OrientationWeight: 0.5, Damping: 1e-3, MaxIterations: 300, Tolerance: 1e-6, MaxStep: 0.2})
		pose, _ := c.FK(got)
		if d := pose.P.Sub(want.P).Norm(); d > 1e-3 || math.Abs(d-errPos) > 1e-12 {
			t.Errorf("trial %d: error %.3g m (reported %.3g)", trial, d, errPos)
		}
	}
}

func TestIKRespectsLimits(t *testing.T) {
	c := SO101()
	lo, hi := c.Limits()
	q, _, _ := c.SolveIK(make([]float64, 5), Vec3{2, 2, 2}, Identity3(), DefaultIKOptions()) // far out of reach
	for i := range q {
		if q[i] < lo[i] || q[i] > hi[i] {
			t.Errorf("joint %d = %g outside [%g, %g]", i, q[i], lo[i], hi[i])
		}
	}
}

func TestEEDeltaTarget(t *testing.T) {
	e := EEDelta{StepSizes: Vec3{0.01, 0.02, 0.03}, Min: Vec3{0, -0.1, 0}, Max: Vec3{0.3, 0.1, 0.1}}
	cases := []struct {
		cur    Vec3
		action [3]float64
		want   Vec3
	}{
		{Vec3{0.1, 0, 0.05}, [3]float64{1, -1, 0.5}, Vec3{0.11, -0.02, 0.065}},
		{Vec3{0.1, 0, 0.05}, [3]float64{7, -9, 0}, Vec3{0.11, -0.02, 0.05}},    // actions clipped to ±1
		{Vec3{0.295, 0.095, 0.099}, [3]float64{1, 1, 1}, Vec3{0.3, 0.1, 0.1}},  // bounds
		{Vec3{0.1, 0, 0.05}, [3]float64{math.NaN(), 0, 0}, Vec3{0.1, 0, 0.05}}, // NaN is no motion
		{Vec3{0.5, -0.5, 0.5}, [3]float64{0, 0, 0}, Vec3{0.3, -0.1, 0.1}},      // outside → clipped in
	}
	for i, tc := range cases {
		got := e.Target(tc.cur, tc.action)
		for k := 0; k < 3; k++ {
			if math.Abs(got[k]-tc.want[k]) > 1e-12 {
				t.Errorf("case %d: %v, want %v", i, got, tc.want)
				break
			}
		}
	}
}

func TestParseChainErrors(t *testing.T) {
	cases := []struct{ urdf, want string }{
		{`<robot><joint name="j" type="prismatic"><parent link="a"/><child link="b"/></joint></robot>`, `type "prismatic" not supported`},
		{`<robot><joint name="j" type="fixed"><parent link="a"/><child link="c"/></joint></robot>`, `no joint chain from "a" to "b"`},
		{`<robot><joint name="j" type="revolute"><origin xyz="1 2"/><parent link="a"/><child link="b"/></joint></robot>`, `want 3 numbers`},
		{`<robot`, `parse URDF`},
	}
	for _, tc := range cases {
		if _, err := ParseChain([]byte(tc.urdf), "a", "b"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseChain(%q) = %v, want error containing %q", tc.urdf, err, tc.want)
		}
	}
}

func quaternion(r Mat3) [4]float64 {
	// Shepperd's method, then w ≥ 0.
	tr := r[0][0] + r[1][1] + r[2][2]
	var q [4]float64
	switch {
	case tr > 0:
		s := math.Sqrt(tr+1) * 2
		q = [4]float64{s / 4, (r[2][1] - r[1][2]) / s, (r[0][2] - r[2][0]) / s, (r[1][0] - r[0][1]) / s}
	case r[0][0] > r[1][1] && r[0][0] > r[2][2]:
		s := math.Sqrt(1+r[0][0]-r[1][1]-r[2][2]) * 2
		q = [4]float64{(r[2][1] - r[1][2]) / s, s / 4, (r[0][1] + r[1][0]) / s, (r[0][2] + r[2][0]) / s}
	case r[1][1] > r[2][2]:
		s := math.Sqrt(1+r[1][1]-r[0][0]-r[2][2]) * 2
		q = [4]float64{(r[0][2] - r[2][0]) / s, (r[0][1] + r[1][0]) / s, s / 4, (r[1][2] + r[2][1]) / s}
	default:
		s := math.Sqrt(1+r[2][2]-r[0][0]-r[1][1]) * 2
		q = [4]float64{(r[1][0] - r[0][1]) / s, (r[0][2] + r[2][0]) / s, (r[1][2] + r[2][1]) / s, s / 4}
	}
	if q[0] < 0 {
		for i := range q {
			q[i] = -q[i]
		}
	}
	return q
}
