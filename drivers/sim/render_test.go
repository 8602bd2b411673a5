package sim

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/e2hil/e2hil/drivers/kinematics"
)

// framesDir is where sample frames go: $E2HIL_SIM_FRAMES when set (to look
// at them), else the test's temporary directory.
func framesDir(t testing.TB) string {
	if d := os.Getenv("E2HIL_SIM_FRAMES"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// savePNG writes an HWC RGB frame as a PNG.
func savePNG(t testing.TB, path string, pix []uint8, h, w int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := 3 * (y*w + x)
			img.Set(x, y, color.RGBA{pix[o], pix[o+1], pix[o+2], 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newTestWorld is a connected world at E2HiL's reset pose with the cube
// placed from seed.
func newTestWorld(t testing.TB, task string, seed int64) *World {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Task = task
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	w.ResetScene(seed)
	if err := w.WriteJoints(ctx, resetPose()); err != nil {
		t.Fatal(err)
	}
	return w
}

func resetPose() []float64 { return []float64{0, -20, 20, 90, 0, 50} }

// moveTip drives the tip to target by IK, gripper pointing down as at the
// reset pose, keeping the gripper position g.
func moveTip(t testing.TB, w *World, target kinematics.Vec3, g float64) {
	t.Helper()
	ctx := context.Background()
	chain := kinematics.SO101()
	q := make([]float64, 5)
	for i := range q {
		q[i] = kinematics.Deg2Rad(resetPose()[i])
	}
	down, err := chain.FK(q)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := w.ReadJoints(ctx)
	for i := range q {
		q[i] = kinematics.Deg2Rad(j[i])
	}
	sol, _, err := chain.SolveIK(q, target, down.R, kinematics.DefaultIKOptions())
	if err != nil {
		t.Fatal(err)
	}
	goal := make([]float64, 6)
	for i, r := range sol {
		goal[i] = kinematics.Rad2Deg(r)
	}
	goal[5] = g
	if err := w.WriteJoints(ctx, goal); err != nil {
		t.Fatal(err)
	}
}

func render(t testing.TB, w *World, name string, h, wd, ss int) []uint8 {
	t.Helper()
	c, err := w.NewCamera(name, h, wd, ss)
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]uint8, 3*h*wd)
	if err := c.Read(context.Background(), pix); err != nil {
		t.Fatal(err)
	}
	return pix
}

// TestRenderSampleFrames writes frames of both cameras at the reset pose,
// with the gripper around the cube, and with the cube lifted (look at them
// with E2HIL_SIM_FRAMES=dir).
func TestRenderSampleFrames(t *testing.T) {
	dir := framesDir(t)
	w := newTestWorld(t, TaskPickCube, 3)
	shots := []struct {
		name string
		pose func()
	}{
		{"reset", func() {}},
		{"above", func() { moveTip(t, w, w.Cube().Add(kinematics.Vec3{0, 0, 0.05}), 60) }},
		{"at_cube", func() { moveTip(t, w, w.Cube().Add(kinematics.Vec3{0, 0, 0.0075}), 60) }},
		{"grasped", func() { moveTip(t, w, w.Tip(), 0) }},
		{"lifted", func() { moveTip(t, w, w.Tip().Add(kinematics.Vec3{0, 0, 0.07}), 0) }},
	}
	for _, s := range shots {
		s.pose()
		for _, cam := range CameraNames() {
			for _, ss := range []int{1, 2} {
				pix := render(t, w, cam, 128, 128, ss)
				savePNG(t, filepath.Join(dir, s.name+"_"+cam+"_ss"+string(rune('0'+ss))+".png"), pix, 128, 128)
			}
		}
	}
	t.Logf("frames in %s (held %v, cube %.3f)", dir, w.Held(), w.Cube())
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkRender renders one 128×128 frame per op (scene build included)
// at the "at the cube" pose.
func BenchmarkRender(b *testing.B) {
	for _, ss := range []int{1, 2} {
		for _, name := range CameraNames() {
			b.Run(name+"/ss"+string(rune('0'+ss)), func(b *testing.B) {
				w := newTestWorld(b, TaskPickCube, 3)
				moveTip(b, w, w.Cube().Add(kinematics.Vec3{0, 0, 0.01}), 60)
				c, err := w.NewCamera(name, 128, 128, ss)
				if err != nil {
					b.Fatal(err)
				}
				pix := make([]uint8, 3*128*128)
				ctx := context.Background()
				b.ReportAllocs()
				cpu0 := processCPU()
				for b.Loop() {
					if err := c.Read(ctx, pix); err != nil {
						b.Fatal(err)
					}
				}
				// CPU time per frame: on a machine shared with other jobs
				// wall-clock ns/op counts the time spent waiting for a core.
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// isCube reports a pixel of the cube's red (no other surface is
// saturated red: the cube is distinguishable by colour alone).
func isCube(p []uint8) bool { return p[0] > 110 && int(p[0]) > 3*int(p[1]) && int(p[0]) > 3*int(p[2]) }

// cubePixels counts the cube's pixels and returns their centroid.
func cubePixels(pix []uint8, h, w int) (n int, cx, cy float64) {
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if isCube(pix[3*(y*w+x):]) {
				n++
				cx += float64(x)
				cy += float64(y)
			}
		}
	}
	if n > 0 {
		cx, cy = cx/float64(n), cy/float64(n)
	}
	return n, cx, cy
}

func TestRenderDeterministic(t *testing.T) {
	for _, cam := range CameraNames() {
		for _, ss := range []int{1, 2} {
			a := newTestWorld(t, TaskPickCube, 11)
			b := newTestWorld(t, TaskPickCube, 11)
			moveTip(t, a, a.Cube().Add(kinematics.Vec3{0, 0, 0.03}), 40)
			moveTip(t, b, b.Cube().Add(kinematics.Vec3{0, 0, 0.03}), 40)
			pa, pb := render(t, a, cam, 96, 128, ss), render(t, b, cam, 96, 128, ss)
			if !bytes.Equal(pa, pb) {
				t.Errorf("%s ss%d: two worlds with the same seed and moves render differently", cam, ss)
			}
			if again := render(t, a, cam, 96, 128, ss); !bytes.Equal(pa, again) {
				t.Errorf("%s ss%d: rendering the same state twice differs", cam, ss)
			}
			c := newTestWorld(t, TaskPickCube, 12)
			moveTip(t, c, c.Cube().Add(kinematics.Vec3{0, 0, 0.03}), 40)
			if bytes.Equal(pa, render(t, c, cam, 96, 128, ss)) {
				t.Errorf("%s ss%d: another seed renders the same frame", cam, ss)
			}
		}
	}
}

// The cube is visible in both views when the gripper is near it, and its
// pixels move with it; with the cube far away no pixel looks like it.
func TestRenderCubeVisibleAndMoves(t *testing.T) {
	w := newTestWorld(t, TaskPickCube, 3)
	near := w.Cube().Add(kinematics.Vec3{0, 0, 0.03})
	moveTip(t, w, near, 60)
	type shot struct{ n, cx, cy float64 }
	look := func(cam string) shot {
		n, cx, cy := cubePixels(render(t, w, cam, 128, 128, 1), 128, 128)
		return shot{float64(n), cx, cy}
	}
	before := map[string]shot{}
	for _, cam := range CameraNames() {
		before[cam] = look(cam)
		if before[cam].n < 20 {
			t.Errorf("%s: only %v cube pixels with the gripper 3 cm above the cube", cam, before[cam].n)
		}
	}
	// Move the cube 3 cm along y; the arm stays.
	w.cube.P[1] += 0.03
	for _, cam := range CameraNames() {
		after := look(cam)
		if d := math.Hypot(after.cx-before[cam].cx, after.cy-before[cam].cy); after.n == 0 || d < 3 {
			t.Errorf("%s: cube centroid moved %.1f px (%v → %v) when the cube moved 3 cm", cam, d, before[cam], after)
		}
	}
	// Take the cube out of the scene: nothing else is cube-red.
	w.cube.P = kinematics.Vec3{5, 5, -1}
	for _, cam := range CameraNames() {
		if s := look(cam); s.n != 0 {
			t.Errorf("%s: %v cube-red pixels without the cube in view", cam, s.n)
		}
	}
}

// The wrist camera rides on the gripper: moving the arm changes its view
// (more than moving the cube alone does nothing to the fixed front view's
// arm).
func TestRenderWristFollowsArm(t *testing.T) {
	w := newTestWorld(t, TaskTouchCube, 5)
	front0, wrist0 := render(t, w, CameraFront, 64, 64, 1), render(t, w, CameraWrist, 64, 64, 1)
	moveTip(t, w, w.Tip().Add(kinematics.Vec3{0.04, 0.05, -0.03}), 50)
	front1, wrist1 := render(t, w, CameraFront, 64, 64, 1), render(t, w, CameraWrist, 64, 64, 1)
	if frac := changed(wrist0, wrist1); frac < 0.3 {
		t.Errorf("wrist view: %.0f%% of pixels changed when the arm moved 7 cm, want ≥ 30%%", 100*frac)
	}
	if frac := changed(front0, front1); frac == 0 || frac > 0.5 {
		t.Errorf("front view: %.0f%% of pixels changed when the arm moved, want some but not most", 100*frac)
	}
	// Opening the jaws changes the wrist view too.
	moveTip(t, w, w.Tip(), 100)
	if changed(wrist1, render(t, w, CameraWrist, 64, 64, 1)) == 0 {
		t.Error("wrist view unchanged when the jaws opened")
	}
}

func changed(a, b []uint8) float64 {
	n := 0
	for i := 0; i < len(a); i += 3 {
		if a[i] != b[i] || a[i+1] != b[i+1] || a[i+2] != b[i+2] {
			n++
		}
	}
	return float64(n) / float64(len(a)/3)
}

// Frames come at the configured size; the picture scales with it (the
// cube covers the same fraction of a 2× larger frame, about 4× pixels).
func TestCameraSizes(t *testing.T) {
	w := newTestWorld(t, TaskPickCube, 3)
	moveTip(t, w, w.Cube().Add(kinematics.Vec3{0, 0, 0.03}), 60)
	cases := []struct {
		h, w, ss int
	}{{64, 64, 1}, {128, 128, 1}, {128, 128, 2}, {96, 160, 1}, {160, 96, 2}, {256, 256, 1}}
	for _, cam := range CameraNames() {
		area := map[[2]int]int{}
		for _, c := range cases {
			cm, err := w.NewCamera(cam, c.h, c.w, c.ss)
			if err != nil {
				t.Fatal(err)
			}
			if h, wd := cm.Size(); h != c.h || wd != c.w {
				t.Errorf("%s: Size() = %d×%d, want %d×%d", cam, h, wd, c.h, c.w)
			}
			pix := make([]uint8, 3*c.h*c.w)
			if err := cm.Read(context.Background(), pix); err != nil {
				t.Fatal(err)
			}
			n, _, _ := cubePixels(pix, c.h, c.w)
			if c.ss == 1 {
				area[[2]int{c.h, c.w}] = n
			}
			if err := cm.Read(context.Background(), make([]uint8, 3*c.h*c.w-1)); err == nil {
				t.Errorf("%s %d×%d: a short buffer is accepted", cam, c.h, c.w)
			}
		}
		if r := float64(area[[2]int{256, 256}]) / float64(area[[2]int{128, 128}]); r < 3 || r > 5.3 {
			t.Errorf("%s: cube pixels 256² / 128² = %.2f, want ≈ 4", cam, r)
		}
	}
	for _, bad := range []struct {
		name     string
		h, w, ss int
	}{{"side", 128, 128, 1}, {CameraFront, 4, 128, 1}, {CameraFront, 128, 128, 0}, {CameraWrist, 128, 128, 5}} {
		if _, err := w.NewCamera(bad.name, bad.h, bad.w, bad.ss); err == nil {
			t.Errorf("NewCamera(%q, %d, %d, %d) accepted", bad.name, bad.h, bad.w, bad.ss)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cm, _ := w.NewCamera(CameraFront, 32, 32, 1)
	if err := cm.Read(ctx, make([]uint8, 3*32*32)); err == nil {
		t.Error("Read with a cancelled context succeeded")
	}
}

// Near-plane clipping: a camera inside the scene's geometry (the wrist
// camera with the gripper down at the cube) still renders finite frames,
// and a triangle crossing the near plane is drawn only in front of it.
func TestRasterNearClip(t *testing.T) {
	r := newRenderer(32, 32, 1)
	v := newView(kinematics.Vec3{0, 0, 1}, kinematics.Vec3{0, 0, 0}, kinematics.Vec3{0, 1, 0}, 90, 32)
	v.cx, v.cy = 16, 16
	for i := range r.zbuf {
		r.zbuf[i] = 0
	}
	// A big triangle facing the camera, half of it behind the eye.
	f := face{v: [3]vec3f{{-1, -1, 0.5}, {1, -1, 0.5}, {0, 3, 1.5}}, n: normalise(vec3f{0, -2, 8}), col: [3]uint8{200, 10, 10}}
	r.face(&f, v)
	drawn := 0
	for _, z := range r.zbuf {
		if z > 0 {
			drawn++
			if z > 1/nearPlane {
				t.Fatalf("depth 1/%g nearer than the near plane", z)
			}
		}
	}
	if drawn == 0 {
		t.Fatal("a triangle crossing the near plane drew nothing")
	}
}

// A fixed camera's cached background gives the same frames as casting the
// table where no object is, while the cube and the gripper (and their
// shadows) move.
func TestRenderBackgroundCache(t *testing.T) {
	w := newTestWorld(t, TaskPickCube, 21)
	for _, ss := range []int{1, 2} {
		c, err := w.NewCamera(CameraFront, 96, 128, ss)
		if err != nil {
			t.Fatal(err)
		}
		cached, direct := make([]uint8, 3*96*128), make([]uint8, 3*96*128)
		for i, off := range []kinematics.Vec3{{0, 0, 0.06}, {0.01, 0, 0.02}, {0, 0, 0.0075}, {-0.02, 0.03, 0.05}} {
			moveTip(t, w, w.Cube().Add(off), 60)
			w.cube.P[0] += 0.01 * float64(i)
			w.build(&c.sc)
			c.r.draw(&c.sc, c.view(), true, cached)
			c.r.draw(&c.sc, c.view(), false, direct)
			if !bytes.Equal(cached, direct) {
				t.Fatalf("ss%d pose %d: the cached background differs from the cast one (%.2f%% of pixels)", ss, i, 100*changed(cached, direct))
			}
		}
	}
}
