package env

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/configs"
)

func newSim(t testing.TB) *Manipulator {
	t.Helper()
	m, err := NewSim(context.Background(), configs.DefaultEnvConfig())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type rollout struct {
	obs     [][]float32
	rewards []float64
	done    []bool
}

func run(t testing.TB, m *Manipulator, seed int64, actions [][]float32) rollout {
	t.Helper()
	ctx := context.Background()
	o, err := m.Reset(ctx, seed)
	if err != nil {
		t.Fatal(err)
	}
	r := rollout{obs: [][]float32{o.State}}
	for _, a := range actions {
		s, err := m.Step(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		r.obs = append(r.obs, s.Observation.State)
		r.rewards = append(r.rewards, s.Reward)
		r.done = append(r.done, s.Terminated || s.Truncated)
		if s.Terminated || s.Truncated {
			break
		}
	}
	return r
}

func randomActions(seed uint64, n int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	acts := make([][]float32, n)
	for i := range acts {
		acts[i] = []float32{float32(rng.Float64()*2 - 1), float32(rng.Float64()*2 - 1), float32(rng.Float64()*2 - 1), float32(rng.Float64() * 2)}
	}
	return acts
}

func TestSimDeterministicForSeed(t *testing.T) {
	acts := randomActions(3, 60)
	a := run(t, newSim(t), 42, acts)
	b := run(t, newSim(t), 42, acts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs with the same seed and actions differ")
	}
	// Reusing one env gives the same episode again (no state leaks across Reset).
	m := newSim(t)
	run(t, m, 7, randomActions(9, 20))
	if c := run(t, m, 42, acts); !reflect.DeepEqual(a, c) {
		t.Fatal("an episode depends on the previous one")
	}
	// A different seed moves the cube.
	d := run(t, newSim(t), 43, acts)
	if reflect.DeepEqual(a.obs[0][9:], d.obs[0][9:]) {
		t.Fatal("seed does not change the cube position")
	}
}

func TestSimSpec(t *testing.T) {
	sp := newSim(t).Spec()
	want := "shoulder_pan.pos shoulder_lift.pos elbow_flex.pos wrist_flex.pos wrist_roll.pos gripper.pos ee.x ee.y ee.z cube.x cube.y cube.z"
	if got := strings.Join(sp.StateNames, " "); got != want {
		t.Errorf("state names %q", got)
	}
	if sp.MaxEpisodeSteps != 50 || sp.FPS != 10 || len(sp.StateLow) != 12 || len(sp.ActionNames) != 4 {
		t.Errorf("spec %+v", sp)
	}
	for i := range sp.StateLow {
		if !(sp.StateLow[i] <= sp.StateHigh[i]) {
			t.Errorf("%s bounds %g..%g", sp.StateNames[i], sp.StateLow[i], sp.StateHigh[i])
		}
	}
}

// The end effector follows the action, one step size at a time, and never
// leaves the end-effector bounds whatever the actions.
func TestSimFollowsActionInsideBounds(t *testing.T) {
	m := newSim(t)
	cfg := configs.DefaultEnvConfig()
	b := cfg.Processor.InverseKinematics.EndEffectorBounds
	step := cfg.Processor.InverseKinematics.EndEffectorStepSizes
	ctx := context.Background()
	o, err := m.Reset(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Step(ctx, []float32{1, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if dx := s.Observation.State[6] - o.State[6]; math.Abs(float64(dx)-step.X) > 1e-4 {
		t.Errorf("+x action moved the tip by %g m, want %g", dx, step.X)
	}
	for seed := uint64(0); seed < 20; seed++ {
		r := run(t, m, int64(seed), randomActions(seed, 50))
		for _, st := range r.obs {
			for k := 0; k < 3; k++ {
				if v := float64(st[6+k]); v < b.Min[k]-1e-3 || v > b.Max[k]+1e-3 {
					t.Fatalf("tip axis %d at %g outside [%g, %g]", k, v, b.Min[k], b.Max[k])
				}
			}
		}
	}
}

func TestSimTimeLimitAndSuccess(t *testing.T) {
	m := newSim(t)
	ctx := context.Background()
	if _, err := m.Reset(ctx, 5); err != nil {
		t.Fatal(err)
	}
	// Standing still never succeeds at this seed's cube and ends by truncation at step 50.
	var s StepResult
	n := 0
	for !s.Terminated && !s.Truncated {
		var err error
		if s, err = m.Step(ctx, []float32{0, 0, 0, 1}); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if !s.Truncated || n != 50 {
		t.Errorf("ended after %d steps, truncated=%v", n, s.Truncated)
	}
	// A scripted reach (move toward the cube) succeeds and terminates.
	o, _ := m.Reset(ctx, 5)
	for n = 0; n < 50; n++ {
		st := o.State
		a := make([]float32, 4)
		for k := 0; k < 3; k++ {
			a[k] = float32(math.Max(-1, math.Min(1, float64(st[9+k]-st[6+k])/0.02)))
		}
		a[3] = 1
		s, err := m.Step(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if s.Terminated {
			if !s.Success || s.Reward != 1 {
				t.Errorf("terminated without success: %+v", s)
			}
			return
		}
		o = s.Observation
	}
	t.Fatal("scripted reach never touched the cube")
}

func TestSimRejectsBadActions(t *testing.T) {
	m := newSim(t)
	ctx := context.Background()
	if _, err := m.Step(ctx, []float32{0, 0, 0, 1}); err == nil || !strings.Contains(err.Error(), "before Reset") {
		t.Errorf("step before reset: %v", err)
	}
	m.Reset(ctx, 1)
	cases := []struct {
		a    []float32
		want string
	}{
		{[]float32{0, 0}, "action has 2 values"},
		{[]float32{0, float32(math.NaN()), 0, 1}, "delta_y = NaN is not finite"},
	}
	for _, tc := range cases {
		if _, err := m.Step(ctx, tc.a); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Step(%v) = %v, want %q", tc.a, err, tc.want)
		}
	}
}

// The random policy's success rate is what the demo compares against.
func TestSimRandomPolicySuccessRate(t *testing.T) {
	m := newSim(t)
	succ := 0
	const n = 200
	for seed := uint64(0); seed < n; seed++ {
		r := run(t, m, int64(seed)+1_000_000, randomActions(seed, 50))
		if r.rewards[len(r.rewards)-1] == 1 {
			succ++
		}
	}
	rate := float64(succ) / n
	t.Logf("random policy success rate: %.1f%% over %d episodes", 100*rate, n)
	if rate > 0.2 {
		t.Errorf("random policy succeeds %.0f%% of the time: the task is too easy to show learning", 100*rate)
	}
}
