package env

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/drivers/sim"
)

func pendulumConfig() configs.EnvConfig {
	return configs.EnvConfig{Type: configs.EnvPendulum, Task: configs.PendulumTask, FPS: configs.PendulumFPS}
}

func newPendulum(t testing.TB) *Pendulum {
	t.Helper()
	p, err := NewPendulum(pendulumConfig())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPendulumSpec(t *testing.T) {
	want := Spec{
		RobotType: "pendulum", Task: "pendulum", FPS: 20, MaxEpisodeSteps: 200,
		StateNames: []string{"cos_theta", "sin_theta", "theta_dot"},
		StateLow:   []float32{-1, -1, -8}, StateHigh: []float32{1, 1, 8},
		ActionNames: []string{"torque"}, ActionLow: []float32{-1}, ActionHigh: []float32{1},
		HasGripper: false,
	}
	cfg := pendulumConfig()
	sp := newPendulum(t).Spec()
	if !reflect.DeepEqual(sp, want) {
		t.Errorf("spec %+v\nwant %+v", sp, want)
	}
	if sp.ContinuousDim() != 1 || sp.MaxEpisodeSteps != cfg.MaxEpisodeSteps() {
		t.Errorf("continuous dim %d, %d steps (config says %d)", sp.ContinuousDim(), sp.MaxEpisodeSteps, cfg.MaxEpisodeSteps())
	}
	// configs cannot import drivers/sim; its constants must agree with it.
	if configs.PendulumMaxEpisodeSteps != sim.PendulumMaxSteps || float64(configs.PendulumFPS)*sim.PendulumDt != 1 {
		t.Errorf("configs says %d steps at %d fps; sim says %d steps of %g s",
			configs.PendulumMaxEpisodeSteps, configs.PendulumFPS, sim.PendulumMaxSteps, sim.PendulumDt)
	}
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		cfg       configs.EnvConfig
		wantRobot string
		wantErr   string
	}{
		{name: "sim", cfg: configs.DefaultEnvConfig(), wantRobot: SimRobotType},
		{name: "pendulum", cfg: pendulumConfig(), wantRobot: PendulumRobotType},
		{name: "unknown", cfg: configs.EnvConfig{Type: "gym_manipulator"}, wantErr: `env.type "gym_manipulator" is not available`},
		{name: "empty", cfg: configs.EnvConfig{}, wantErr: `env.type "" is not available`},
		{name: "pendulum at 10 fps", cfg: configs.EnvConfig{Type: configs.EnvPendulum, Task: configs.PendulumTask, FPS: 10},
			wantErr: "env.fps 10: Pendulum-v1 runs at 20 fps"},
		{name: "pendulum task", cfg: configs.EnvConfig{Type: configs.EnvPendulum, Task: "touch_cube", FPS: 20},
			wantErr: `env.task "touch_cube"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(ctx, tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if e != nil {
					t.Errorf("env %#v returned with the error", e)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close(ctx)
			if got := e.Spec().RobotType; got != tc.wantRobot {
				t.Errorf("robot type %q, want %q", got, tc.wantRobot)
			}
		})
	}
	if _, err := NewPendulum(configs.DefaultEnvConfig()); err == nil || !strings.Contains(err.Error(), `env.type "sim"`) {
		t.Errorf("NewPendulum with a sim config: %v", err)
	}
}

// A full episode is the driver's dynamics with torque = 2·action, observed
// as float32, truncated (never terminated, never a success) at step 200.
func TestPendulumEpisode(t *testing.T) {
	ctx := context.Background()
	e := newPendulum(t)
	ref := sim.NewPendulum()
	o, err := e.Reset(ctx, 11)
	if err != nil {
		t.Fatal(err)
	}
	s := ref.Reset(11)
	for k := 1; ; k++ {
		want := s.Observation()
		for i := range want {
			if o.State[i] != float32(want[i]) {
				t.Fatalf("step %d: observation %v, driver %v", k-1, o.State, want)
			}
		}
		if k > 200 {
			break
		}
		a := float32(math.Sin(0.3 * float64(k)))
		res, err := e.Step(ctx, []float32{a})
		if err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		var r float64
		s, r, _, _ = ref.Step(2 * float64(a))
		if res.Reward != r || res.Terminated || res.Success || res.Intervention || res.Truncated != (k == 200) {
			t.Fatalf("step %d: %+v, driver reward %g", k, res, r)
		}
		o = res.Observation
	}
	if _, err := e.Step(ctx, []float32{0}); !errors.Is(err, sim.ErrEpisodeOver) {
		t.Errorf("step 201: %v, want sim.ErrEpisodeOver", err)
	}
	if _, err := e.Reset(ctx, 12); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Step(ctx, []float32{0}); err != nil {
		t.Errorf("step after Reset: %v", err)
	}
}

func TestPendulumDeterministicForSeed(t *testing.T) {
	acts := make([][]float32, 250)
	for i := range acts {
		acts[i] = []float32{float32(math.Cos(float64(i)))}
	}
	runP := func(e *Pendulum, seed int64) rollout {
		ctx := context.Background()
		o, err := e.Reset(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		r := rollout{obs: [][]float32{o.State}}
		for _, a := range acts {
			s, err := e.Step(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			r.obs = append(r.obs, s.Observation.State)
			r.rewards = append(r.rewards, s.Reward)
			r.done = append(r.done, s.Truncated)
			if s.Truncated {
				break
			}
		}
		return r
	}
	a := runP(newPendulum(t), 5)
	b := runP(newPendulum(t), 5)
	reused := newPendulum(t)
	runP(reused, 99)
	c := runP(reused, 5)
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
		t.Fatal("the same seed and actions gave different episodes")
	}
	if len(a.rewards) != 200 {
		t.Errorf("episode of %d steps, want 200", len(a.rewards))
	}
	if d := runP(newPendulum(t), 6); reflect.DeepEqual(a.obs[0], d.obs[0]) {
		t.Error("seeds 5 and 6 start alike")
	}
}

// Actions beyond [−1, 1] act as the bound (the torque is clipped to ±2);
// malformed actions are refused and leave the pendulum as it was.
func TestPendulumActions(t *testing.T) {
	ctx := context.Background()
	step := func(e *Pendulum, a []float32) (StepResult, error) { return e.Step(ctx, a) }
	clipped, plain := newPendulum(t), newPendulum(t)
	clipped.Reset(ctx, 3)
	plain.Reset(ctx, 3)
	for _, pair := range [][2]float32{{5, 1}, {-7, -1}, {float32(math.MaxFloat32), 1}} {
		got, err1 := step(clipped, []float32{pair[0]})
		want, err2 := step(plain, []float32{pair[1]})
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("action %g: %+v (%v); action %g: %+v (%v)", pair[0], got, err1, pair[1], want, err2)
		}
	}

	bad := []struct {
		name    string
		action  []float32
		wantErr string
	}{
		{"empty", nil, "action has 0 values"},
		{"two values", []float32{0, 0}, "action has 2 values"},
		{"NaN", []float32{float32(math.NaN())}, "torque = NaN is not finite"},
		{"+Inf", []float32{float32(math.Inf(1))}, "torque = +Inf is not finite"},
	}
	e, ref := newPendulum(t), newPendulum(t)
	e.Reset(ctx, 4)
	ref.Reset(ctx, 4)
	for _, tc := range bad {
		if _, err := e.Step(ctx, tc.action); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	got, _ := e.Step(ctx, []float32{0.5})
	want, _ := ref.Step(ctx, []float32{0.5})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("refused actions changed the episode: %+v, want %+v", got, want)
	}
}

func TestPendulumContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := newPendulum(t)
	if _, err := e.Reset(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Reset: %v", err)
	}
	if _, err := e.Step(ctx, []float32{0}); !errors.Is(err, context.Canceled) {
		t.Errorf("Step: %v", err)
	}
	if _, err := e.Step(context.Background(), []float32{0}); err == nil || !strings.Contains(err.Error(), "before Reset") {
		t.Errorf("Step before Reset: %v", err)
	}
}
