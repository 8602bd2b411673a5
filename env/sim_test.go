package env

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/drivers/sim"
)

func camerasConfig(task string, h, w int) configs.EnvConfig {
	cfg := configs.DefaultEnvConfig()
	cfg.Task = task
	cfg.Cameras = []string{"front", "wrist"}
	cfg.ImageSize = []int{h, w}
	return cfg
}

func TestSimCameras(t *testing.T) {
	ctx := context.Background()
	m, err := NewSim(ctx, camerasConfig(configs.TaskPickCube, 48, 64))
	if err != nil {
		t.Fatal(err)
	}
	want := []CameraSpec{{Key: "observation.images.front", H: 48, W: 64}, {Key: "observation.images.wrist", H: 48, W: 64}}
	if got := m.Spec().Cameras; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Spec().Cameras = %v, want %v", got, want)
	}
	obs, err := m.Reset(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	prev := obs
	for step := 0; step < 3; step++ {
		st, err := m.Step(ctx, []float32{0.5, 0.5, -0.5, 0})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range want {
			img, ok := st.Observation.Images[c.Key]
			if !ok || img.H != c.H || img.W != c.W || len(img.Pix) != 3*c.H*c.W {
				t.Fatalf("step %d: %s = %d×%d, %d bytes", step, c.Key, img.H, img.W, len(img.Pix))
			}
			old := prev.Images[c.Key].Pix
			if &old[0] == &img.Pix[0] {
				t.Fatalf("step %d: %s reuses the previous observation's buffer", step, c.Key)
			}
			if c.Key == "observation.images.wrist" && bytes.Equal(old, img.Pix) {
				t.Errorf("step %d: the wrist view did not change when the arm moved", step)
			}
		}
		prev = st.Observation
	}
	// Same seed, same frames.
	m2, _ := NewSim(ctx, camerasConfig(configs.TaskPickCube, 48, 64))
	obs2, err := m2.Reset(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range want {
		if !bytes.Equal(obs.Images[c.Key].Pix, obs2.Images[c.Key].Pix) {
			t.Errorf("%s differs between two envs reset with the same seed", c.Key)
		}
	}
	// Without cameras: no images, no camera specs.
	plain := newSim(t)
	o, err := plain.Reset(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if o.Images != nil || plain.Spec().Cameras != nil {
		t.Errorf("state-only env has images %v, cameras %v", o.Images, plain.Spec().Cameras)
	}
}

type failingCamera struct{}

func (failingCamera) Size() (int, int) { return 8, 8 }
func (failingCamera) Read(context.Context, []uint8) error {
	return errors.New("unplugged")
}

func TestCameraErrors(t *testing.T) {
	ctx := context.Background()
	cfg := configs.DefaultEnvConfig()
	w, err := sim.New(SimWorldConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManipulator(ctx, cfg, w, w, SimRobotType, NamedCamera{Name: "front", Camera: failingCamera{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reset(ctx, 1); err == nil || !bytes.Contains([]byte(err.Error()), []byte("unplugged")) {
		t.Errorf("Reset with a failing camera: %v", err)
	}
	if _, err := NewManipulator(ctx, cfg, w, w, SimRobotType, NamedCamera{Name: "a", Camera: failingCamera{}}, NamedCamera{Name: "a", Camera: failingCamera{}}); err == nil {
		t.Error("two cameras with one name accepted")
	}
	bad := camerasConfig(configs.TaskTouchCube, 32, 32)
	bad.Cameras = []string{"ceiling"}
	if _, err := NewSim(ctx, bad); err == nil {
		t.Error("unknown camera accepted")
	}
}

// Both tasks' state bounds are real ranges (MIN_MAX normalisation divides
// by them) and hold every state the scripted expert reaches; the expert
// picks the cube through the env.
func TestSimPickCubeWithExpert(t *testing.T) {
	ctx := context.Background()
	for _, task := range []string{configs.TaskTouchCube, configs.TaskPickCube} {
		cfg := configs.DefaultEnvConfig()
		cfg.Task = task
		cfg.Processor.Reset.TerminateOnSuccess = false
		cfg.Sim.Expert.FailureProb = 0
		m, err := NewSim(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		sp := m.Spec()
		for i := range sp.StateLow {
			if !(sp.StateLow[i] < sp.StateHigh[i]) {
				t.Errorf("%s: %s bounds [%g, %g]", task, sp.StateNames[i], sp.StateLow[i], sp.StateHigh[i])
			}
		}
		x, err := SimExpert(m, cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		wins := 0
		for ep := int64(0); ep < 5; ep++ {
			obs, err := m.Reset(ctx, ep)
			if err != nil {
				t.Fatal(err)
			}
			var st StepResult
			for !st.Truncated {
				a, err := x.Act(obs.State)
				if err != nil {
					t.Fatal(err)
				}
				if st, err = m.Step(ctx, a); err != nil {
					t.Fatal(err)
				}
				obs = st.Observation
				for i, v := range obs.State {
					if v < sp.StateLow[i]-1e-4 || v > sp.StateHigh[i]+1e-4 {
						t.Fatalf("%s: %s = %g outside [%g, %g]", task, sp.StateNames[i], v, sp.StateLow[i], sp.StateHigh[i])
					}
				}
			}
			if st.Success {
				wins++
			}
		}
		if wins < 4 {
			t.Errorf("%s: the expert succeeded in %d/5 episodes through the env", task, wins)
		}
	}
	if _, err := SimExpert(nil, configs.DefaultEnvConfig(), 1); err == nil {
		t.Error("SimExpert without a simulator accepted")
	}
}
