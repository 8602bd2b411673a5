package sim

import (
	"context"
	"math"
	"testing"

	"github.com/e2hil/e2hil/drivers/kinematics"
)

func TestJawGap(t *testing.T) {
	prev := jawGap(0)
	if prev < 0 || prev > 0.005 {
		t.Errorf("closed jaw gap %.4f m, want ≈ 0", prev)
	}
	for g := 1.0; g <= 100; g++ {
		gap := jawGap(g)
		if gap <= prev {
			t.Fatalf("jaw gap not increasing at gripper %v: %.5f ≤ %.5f", g, gap, prev)
		}
		prev = gap
	}
	if maxJawGap() < 0.08 {
		t.Errorf("jaws open only %.3f m", maxJawGap())
	}
	for _, width := range []float64{0.01, 0.025, 0.04} {
		g := gripAt(width, 0, 100)
		if math.Abs(jawGap(g)-width) > 1e-6 {
			t.Errorf("gripAt(%g) = %g with gap %g", width, g, jawGap(g))
		}
	}
}

// Tip is the URDF chain's forward kinematics.
func TestTipMatchesFK(t *testing.T) {
	w := newTestWorld(t, TaskTouchCube, 1)
	chain := kinematics.SO101()
	for _, q := range [][]float64{{0, -20, 20, 90, 0}, {30, 10, -40, 60, 45}, {-50, 40, 30, -20, -90}} {
		if err := w.WriteJoints(context.Background(), append(append([]float64(nil), q...), 50)); err != nil {
			t.Fatal(err)
		}
		r := make([]float64, 5)
		for i := range q {
			r[i] = kinematics.Deg2Rad(q[i])
		}
		want, _ := chain.FK(r)
		if d := w.Tip().Sub(want.P).Norm(); d > 1e-12 {
			t.Errorf("q %v: tip %v, FK %v", q, w.Tip(), want.P)
		}
	}
}

// closeOn closes the gripper in steps of 10 as the env does.
func closeOn(t *testing.T, w *World, steps int) {
	t.Helper()
	for i := 0; i < steps; i++ {
		moveTip(t, w, w.Tip(), w.Gripper()-10)
	}
}

func TestPickGraspLiftRelease(t *testing.T) {
	for _, reward := range []string{RewardSparse, RewardDense} {
		cfg := DefaultConfig()
		cfg.Task, cfg.RewardType = TaskPickCube, reward
		w, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_ = w.Connect(ctx)
		w.ResetScene(7)
		_ = w.WriteJoints(ctx, resetPose())
		s := cfg.CubeSize
		start := w.Cube()
		moveTip(t, w, start.Add(kinematics.Vec3{0, 0, 0.06}), 60)
		moveTip(t, w, kinematics.Vec3{start[0], start[1], 0.02}, 60)
		r0, ok := w.Evaluate()
		if ok || (reward == RewardSparse && r0 != 0) || (reward == RewardDense && !(r0 < -cfg.LiftHeight+1e-9)) {
			t.Errorf("%s: before the grasp Evaluate = %v, %v", reward, r0, ok)
		}
		closeOn(t, w, 6)
		if !w.Held() {
			t.Fatalf("%s: closing the jaws around the cube did not grasp it", reward)
		}
		if g := w.Gripper(); math.Abs(jawGap(g)-s) > 1e-6 {
			t.Errorf("%s: jaws rest at gripper %.2f (gap %.4f), want the cube's width %.3f", reward, g, jawGap(g), s)
		}
		if d := w.Tip().Sub(w.Cube()).Norm(); d > cfg.GraspRadius {
			t.Errorf("held cube %.3f m from the tip", d)
		}
		// Lift: the cube follows, success above LiftHeight.
		moveTip(t, w, w.Tip().Add(kinematics.Vec3{0, 0, 0.03}), w.Gripper()-10)
		if r, ok := w.Evaluate(); ok || !w.Held() || w.Cube()[2] < s/2+0.02 {
			t.Errorf("%s: 3 cm up: held %v, cube z %.3f, Evaluate %v %v", reward, w.Held(), w.Cube()[2], r, ok)
		}
		moveTip(t, w, w.Tip().Add(kinematics.Vec3{0.02, -0.01, 0.04}), w.Gripper())
		if r, ok := w.Evaluate(); !ok || r != 1 {
			t.Errorf("%s: 7 cm up: Evaluate %v %v, cube %v", reward, r, ok, w.Cube())
		}
		if d := math.Hypot(w.Cube()[0]-start[0]-0.02, w.Cube()[1]-start[1]+0.01); d > 0.01 {
			t.Errorf("held cube did not move with the gripper: %v from %v", w.Cube(), start)
		}
		// Open: released, falls onto the table, flat.
		moveTip(t, w, w.Tip(), w.Gripper()+10)
		if w.Held() || w.Cube()[2] != s/2 || w.CubePose().R[2][2] != 1 {
			t.Errorf("%s: opening: held %v, cube %v", reward, w.Held(), w.CubePose())
		}
		if _, ok := w.Evaluate(); ok {
			t.Error("success after the cube dropped")
		}
	}
}

func TestPickNoGrasp(t *testing.T) {
	cases := []struct {
		name   string
		task   string
		offset kinematics.Vec3
	}{
		{"beside the cube", TaskPickCube, kinematics.Vec3{0.035, 0, 0}},
		{"above the cube", TaskPickCube, kinematics.Vec3{0, 0, 0.04}},
		{"touch_cube never grasps", TaskTouchCube, kinematics.Vec3{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newTestWorld(t, c.task, 9)
			start := w.Cube()
			tgt := start.Add(c.offset)
			tgt[2] = math.Max(tgt[2], 0.02)
			moveTip(t, w, tgt, 60)
			closeOn(t, w, 7)
			if w.Held() || w.Gripper() > 0 {
				t.Fatalf("held %v, gripper %.1f", w.Held(), w.Gripper())
			}
			moveTip(t, w, w.Tip().Add(kinematics.Vec3{0, 0, 0.06}), 0)
			if w.Cube() != start {
				t.Errorf("cube moved from %v to %v", start, w.Cube())
			}
		})
	}
	// Jaws already closed when they reach the cube: nothing to grasp.
	w := newTestWorld(t, TaskPickCube, 9)
	moveTip(t, w, w.Tip(), 0)
	moveTip(t, w, kinematics.Vec3{w.Cube()[0], w.Cube()[1], 0.02}, 0)
	closeOn(t, w, 2)
	if w.Held() {
		t.Error("closed jaws grasped the cube")
	}
	// A new episode drops whatever was held.
	w = newTestWorld(t, TaskPickCube, 9)
	moveTip(t, w, kinematics.Vec3{w.Cube()[0], w.Cube()[1], 0.02}, 60)
	closeOn(t, w, 6)
	if !w.Held() {
		t.Fatal("no grasp")
	}
	w.ResetScene(10)
	if w.Held() || w.Cube()[2] != w.cfg.CubeSize/2 {
		t.Error("ResetScene kept the grasp")
	}
}

// The cube state's bounds are a real range for both tasks and contain
// every place the cube goes.
func TestEnvironmentBounds(t *testing.T) {
	for _, task := range []string{TaskTouchCube, TaskPickCube} {
		w := newTestWorld(t, task, 1)
		lo, hi := w.EnvironmentBounds()
		for i := range lo {
			if !(lo[i] < hi[i]) {
				t.Errorf("%s: %s bounds [%g, %g] are empty", task, w.EnvironmentNames()[i], lo[i], hi[i])
			}
		}
		x := mustExpert(t, w, ExpertConfig{StepSizes: [3]float64{0.02, 0.02, 0.02}, Noise: 0.5, FailureProb: 0.5, Seed: 3})
		for ep := int64(0); ep < 20; ep++ {
			for st, err := range runExpert(t, w, x, ep, 50) {
				if err != nil {
					t.Fatal(err)
				}
				s := w.EnvironmentState()
				for i := range s {
					if s[i] < lo[i] || s[i] > hi[i] {
						t.Fatalf("%s episode %d step %d: %s = %g outside [%g, %g]", task, ep, st, w.EnvironmentNames()[i], s[i], lo[i], hi[i])
					}
				}
			}
		}
	}
}
