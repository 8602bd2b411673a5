package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Every expected value below is worked by hand from Gymnasium's formulas
// (g 10, m 1, l 1, dt 0.05, so θ̇' = θ̇ + (15·sin θ + 3·u)·0.05).
func TestPendulumStep(t *testing.T) {
	cases := []struct {
		name       string
		s          PendulumState
		torque     float64
		want       PendulumState
		wantReward float64
	}{
		{name: "upright at rest stays", s: PendulumState{0, 0}, torque: 0,
			want: PendulumState{0, 0}, wantReward: 0},
		// sin π = 1.2246e-16 adds 15·1.2246e-16·0.05 ≈ 9e-17 to θ̇.
		{name: "hanging, torque 1", s: PendulumState{math.Pi, 0}, torque: 1,
			want: PendulumState{math.Pi + 0.0075, 0.15}, wantReward: -(math.Pi*math.Pi + 0.001)},
		{name: "horizontal falls", s: PendulumState{math.Pi / 2, 0}, torque: 0,
			want: PendulumState{math.Pi/2 + 0.0375, 0.75}, wantReward: -(math.Pi * math.Pi / 4)},
		{name: "velocity costs 0.1·θ̇²", s: PendulumState{0, 2}, torque: 0,
			want: PendulumState{0.1, 2}, wantReward: -0.4},
		{name: "torque clipped to 2", s: PendulumState{0, 0}, torque: 10,
			want: PendulumState{0.015, 0.3}, wantReward: -0.004},
		{name: "torque clipped to -2", s: PendulumState{0, 0}, torque: math.Inf(-1),
			want: PendulumState{-0.015, -0.3}, wantReward: -0.004},
		// 7.9 + 0.3 = 8.2 clips to 8 before θ integrates: θ' = 8·0.05.
		{name: "speed clipped to 8", s: PendulumState{0, 7.9}, torque: 2,
			want: PendulumState{0.4, 8}, wantReward: -(0.1*7.9*7.9 + 0.004)},
		{name: "speed clipped to -8", s: PendulumState{0, -7.9}, torque: -2,
			want: PendulumState{-0.4, -8}, wantReward: -(0.1*7.9*7.9 + 0.004)},
		// The cost wraps θ = 2π + 0.5 to 0.5; the state keeps the turn.
		// 15·sin(0.5)·0.05 = 0.75·0.479425538604203 = 0.35956915395315.
		{name: "cost wraps the angle", s: PendulumState{2*math.Pi + 0.5, 0}, torque: 0,
			want: PendulumState{2*math.Pi + 0.5 + 0.35956915395315*0.05, 0.35956915395315}, wantReward: -0.25},
		// −3π/2 wraps to π/2; sin(−3π/2) = 1.
		{name: "negative turn", s: PendulumState{-3 * math.Pi / 2, 0}, torque: 0,
			want: PendulumState{-3*math.Pi/2 + 0.0375, 0.75}, wantReward: -(math.Pi * math.Pi / 4)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, r := PendulumStep(tc.s, tc.torque)
			if math.Abs(got.Theta-tc.want.Theta) > 1e-12 || math.Abs(got.ThetaDot-tc.want.ThetaDot) > 1e-12 || math.Abs(r-tc.wantReward) > 1e-12 {
				t.Errorf("PendulumStep(%+v, %g) = %+v, reward %.15g; want %+v, %.15g", tc.s, tc.torque, got, r, tc.want, tc.wantReward)
			}
		})
	}
}

func TestAngleNormalize(t *testing.T) {
	cases := []struct{ in, want float64 }{
		{0, 0},
		{1, 1},
		{math.Pi, -math.Pi}, // Python: ((π + π) % 2π) − π = −π
		{-math.Pi, -math.Pi},
		{3 * math.Pi / 2, -math.Pi / 2},
		{-3 * math.Pi / 2, math.Pi / 2},
		{-7, -7 + 2*math.Pi},
		{4*math.Pi + 0.1, 0.1},
		{-4*math.Pi - 0.1, -0.1},
	}
	for _, tc := range cases {
		if got := AngleNormalize(tc.in); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("AngleNormalize(%g) = %.15g, want %.15g", tc.in, got, tc.want)
		}
	}
}

type referenceCase struct {
	Name      string    `json:"name"`
	Theta0    float64   `json:"theta0"`
	ThetaDot0 float64   `json:"theta_dot0"`
	Actions   []float64 `json:"actions"`
	Steps     []struct {
		Theta       float64    `json:"theta"`
		ThetaDot    float64    `json:"theta_dot"`
		Reward      float64    `json:"reward"`
		Observation [3]float64 `json:"observation"`
	} `json:"steps"`
}

const (
	referenceJSON   = "testdata/pendulum_reference.json"
	referenceScript = "testdata/pendulum_reference.py"
)

// TestPendulumMatchesReference: the Go pendulum follows trajectories that
// testdata/pendulum_reference.py computed with Gymnasium's formulas in plain
// Python, to 1e-9.
func TestPendulumMatchesReference(t *testing.T) {
	b, err := os.ReadFile(referenceJSON)
	if err != nil {
		t.Fatal(err)
	}
	var cases []referenceCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("%s: %v", referenceJSON, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", referenceJSON)
	}
	const tol = 1e-9
	for _, rc := range cases {
		t.Run(rc.Name, func(t *testing.T) {
			if len(rc.Steps) != len(rc.Actions) || len(rc.Steps) < 20 {
				t.Fatalf("%d steps for %d actions", len(rc.Steps), len(rc.Actions))
			}
			p := NewPendulum()
			p.SetState(PendulumState{Theta: rc.Theta0, ThetaDot: rc.ThetaDot0})
			for k, u := range rc.Actions {
				s, r, truncated, err := p.Step(u)
				if err != nil || truncated {
					t.Fatalf("step %d: truncated %v, err %v", k, truncated, err)
				}
				w := rc.Steps[k]
				o := s.Observation()
				if math.Abs(s.Theta-w.Theta) > tol || math.Abs(s.ThetaDot-w.ThetaDot) > tol || math.Abs(r-w.Reward) > tol {
					t.Fatalf("step %d: θ %.15g θ̇ %.15g reward %.15g; reference %.15g %.15g %.15g",
						k, s.Theta, s.ThetaDot, r, w.Theta, w.ThetaDot, w.Reward)
				}
				for i := range o {
					if math.Abs(o[i]-w.Observation[i]) > tol {
						t.Fatalf("step %d: observation %v, reference %v", k, o, w.Observation)
					}
				}
			}
		})
	}
}

// TestPendulumReferenceIsGenerated: the committed JSON is what the committed
// script writes (skipped without /usr/bin/python3).
func TestPendulumReferenceIsGenerated(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v", python, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.FromSlash(referenceScript), "--stdout")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.Bytes())
	}
	want, err := os.ReadFile(referenceJSON)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output of %s; regenerate it with %s %s", referenceJSON, referenceScript, python, referenceScript)
	}
}

func rollout(t *testing.T, p *Pendulum, seed int64, torques []float64) []PendulumState {
	t.Helper()
	states := []PendulumState{p.Reset(seed)}
	for k, u := range torques {
		s, _, _, err := p.Step(u)
		if err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		states = append(states, s)
	}
	return states
}

func TestPendulumDeterministicForSeed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	torques := make([]float64, 100)
	for i := range torques {
		torques[i] = 6*rng.Float64() - 3
	}
	a := rollout(t, NewPendulum(), 42, torques)
	b := rollout(t, NewPendulum(), 42, torques)
	reused := NewPendulum()
	rollout(t, reused, 7, torques[:30])
	c := rollout(t, reused, 42, torques)
	for i := range a {
		if a[i] != b[i] || a[i] != c[i] {
			t.Fatalf("step %d: %+v, %+v, after another episode %+v", i, a[i], b[i], c[i])
		}
	}
	if d := NewPendulum().Reset(43); d == a[0] {
		t.Errorf("seeds 42 and 43 start alike: %+v", d)
	}
}

// Reset draws θ ~ U[−π, π] and θ̇ ~ U[−1, 1], covering both ranges.
func TestPendulumResetDistribution(t *testing.T) {
	p := NewPendulum()
	minTh, maxTh, minDot, maxDot := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for seed := int64(0); seed < 2000; seed++ {
		s := p.Reset(seed)
		if s.Theta < -math.Pi || s.Theta > math.Pi || s.ThetaDot < -1 || s.ThetaDot > 1 {
			t.Fatalf("seed %d: %+v outside [−π, π] × [−1, 1]", seed, s)
		}
		if p.Steps() != 0 {
			t.Fatalf("seed %d: Reset left %d steps", seed, p.Steps())
		}
		minTh, maxTh = min(minTh, s.Theta), max(maxTh, s.Theta)
		minDot, maxDot = min(minDot, s.ThetaDot), max(maxDot, s.ThetaDot)
	}
	if minTh > -3 || maxTh < 3 || minDot > -0.95 || maxDot < 0.95 {
		t.Errorf("2000 resets span θ [%g, %g], θ̇ [%g, %g]", minTh, maxTh, minDot, maxDot)
	}
}

// Whatever the torques, the speed stays within ±8 and the reward within
// [−(π² + 0.1·8² + 0.001·2²), 0] = [−16.2736044, 0] (Gymnasium's docs).
func TestPendulumClipping(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p := NewPendulum()
	worst := -(math.Pi*math.Pi + 0.1*64 + 0.001*4)
	for ep := int64(0); ep < 20; ep++ {
		p.Reset(ep)
		for k := 0; k < PendulumMaxSteps; k++ {
			u := []float64{1e6, -1e6, math.Inf(1), 40 * (rng.Float64() - 0.5)}[rng.IntN(4)]
			s, r, _, err := p.Step(u)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(s.ThetaDot) > PendulumMaxSpeed || r > 0 || r < worst {
				t.Fatalf("episode %d step %d: torque %g gives %+v, reward %g", ep, k, u, s, r)
			}
		}
	}
}

func TestPendulumTimeLimit(t *testing.T) {
	p := NewPendulum()
	if _, _, _, err := p.Step(0); err == nil {
		t.Error("Step before Reset accepted")
	}
	for ep := range 2 {
		p.Reset(int64(ep))
		for k := 1; k <= PendulumMaxSteps; k++ {
			_, _, truncated, err := p.Step(0.5)
			if err != nil {
				t.Fatalf("episode %d step %d: %v", ep, k, err)
			}
			if truncated != (k == PendulumMaxSteps) {
				t.Fatalf("episode %d step %d: truncated %v", ep, k, truncated)
			}
		}
		if _, _, _, err := p.Step(0); !errors.Is(err, ErrEpisodeOver) {
			t.Errorf("episode %d: step 201 gave %v, want ErrEpisodeOver", ep, err)
		}
	}
}

func TestPendulumRejectsNaN(t *testing.T) {
	p := NewPendulum()
	before := p.Reset(1)
	if _, _, _, err := p.Step(math.NaN()); err == nil {
		t.Fatal("NaN torque accepted")
	}
	if p.State() != before || p.Steps() != 0 {
		t.Errorf("a rejected step changed the pendulum: %+v after %d steps", p.State(), p.Steps())
	}
}
