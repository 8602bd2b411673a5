package sim

import (
	"context"
	"iter"
	"math"
	"reflect"
	"testing"

	"github.com/e2hil/e2hil/drivers/kinematics"
)

func mustExpert(t testing.TB, w *World, cfg ExpertConfig) *Expert {
	t.Helper()
	x, err := NewExpert(w, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// runExpert plays one episode of at most steps steps the way env's
// Manipulator does (end-effector delta within the tip bounds by IK with the
// reset orientation, gripper ±10 per command), yielding after every step.
func runExpert(t testing.TB, w *World, x *Expert, seed int64, steps int) iter.Seq2[int, error] {
	return func(yield func(int, error) bool) {
		ctx := context.Background()
		w.ResetScene(seed)
		if err := w.WriteJoints(ctx, resetPose()); err != nil {
			yield(0, err)
			return
		}
		ee := kinematics.EEDelta{StepSizes: kinematics.Vec3{0.02, 0.02, 0.02},
			Min: kinematics.Vec3(w.cfg.TipMin), Max: kinematics.Vec3(w.cfg.TipMax)}
		for st := 0; st < steps; st++ {
			a, err := x.Act(nil)
			if err != nil {
				yield(st, err)
				return
			}
			target := ee.Target(w.Tip(), [3]float64{float64(a[0]), float64(a[1]), float64(a[2])})
			moveTip(t, w, target, math.Max(0, math.Min(100, w.Gripper()+(float64(a[3])-1)*10)))
			if !yield(st, nil) {
				return
			}
		}
	}
}

// successes runs n episodes and counts those that end in success.
func successes(t *testing.T, task string, cfg ExpertConfig, n int) (int, [][]float32) {
	w := newTestWorld(t, task, 0)
	x := mustExpert(t, w, cfg)
	ok := 0
	var trace [][]float32
	for ep := 0; ep < n; ep++ {
		success := false
		for _, err := range runExpert(t, w, x, int64(100+ep), 50) {
			if err != nil {
				t.Fatal(err)
			}
			_, success = w.Evaluate()
			trace = append(trace, append([]float32(nil), x.action[:]...))
			if success {
				break
			}
		}
		if success {
			ok++
		}
	}
	return ok, trace
}

func TestExpert(t *testing.T) {
	steps := [3]float64{0.02, 0.02, 0.02}
	cases := []struct {
		task        string
		noise, fail float64
		min, max    int // successes out of 16
	}{
		{TaskPickCube, 0, 0, 16, 16},
		{TaskPickCube, 0.2, 0, 15, 16},
		{TaskPickCube, 0.1, 1, 0, 0},
		{TaskPickCube, 0.1, 0.3, 7, 15},
		{TaskTouchCube, 0.2, 0, 15, 16},
		{TaskTouchCube, 0.1, 1, 0, 0},
	}
	for i, c := range cases {
		cfg := ExpertConfig{StepSizes: steps, Noise: c.noise, FailureProb: c.fail, Seed: 1}
		n, trace := successes(t, c.task, cfg, 16)
		if n < c.min || n > c.max {
			t.Errorf("%s noise %g failure %g: %d/16 successes, want %d–%d", c.task, c.noise, c.fail, n, c.min, c.max)
		}
		if i == 3 {
			if _, again := successes(t, c.task, cfg, 16); !reflect.DeepEqual(trace, again) {
				t.Errorf("%s: the same seeds give different actions", c.task)
			}
		}
	}
}

func TestExpertConfigValidate(t *testing.T) {
	good := ExpertConfig{StepSizes: [3]float64{0.02, 0.02, 0.02}, Noise: 0.1, FailureProb: 0.3}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*ExpertConfig){
		func(c *ExpertConfig) { c.StepSizes[1] = 0 },
		func(c *ExpertConfig) { c.Noise = -1 },
		func(c *ExpertConfig) { c.Noise = math.NaN() },
		func(c *ExpertConfig) { c.FailureProb = 1.5 },
	} {
		c := good
		bad(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
