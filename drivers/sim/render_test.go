package sim

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
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
				for b.Loop() {
					if err := c.Read(ctx, pix); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
