package models_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/internal/testtool"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/onnx"
	"github.com/e2hil/e2hil/training/sac"
)

// A policy shaped like configs/sim_touch_cube.json's, with weights spread
// so that actions cover (−1, 1) rather than the ≈0 of a fresh init.
func parityPolicy(t *testing.T) (models.SACSpec, *models.Params) {
	t.Helper()
	names := []string{"shoulder_pan.pos", "shoulder_lift.pos", "elbow_flex.pos", "wrist_flex.pos", "wrist_roll.pos",
		"gripper.pos", "ee.x", "ee.y", "ee.z", "cube.x", "cube.y", "cube.z"}
	spec := models.SACSpec{
		StateDim: 12, ActionDim: 3, StateNames: names, ActionNames: []string{"delta_x", "delta_y", "delta_z"},
		StateLow:  []float32{-110, -100, -97, -95, -157, 0, 0.16, -0.1, 0.02, 0.18, -0.08, 0.0125},
		StateHigh: []float32{110, 100, 97, 95, 163, 100, 0.32, 0.1, 0.1, 0.3, 0.08, 0.0125},
		LatentDim: 64, ActorHidden: []int{128, 128}, ActorActivateFinal: true,
		CriticHidden: []int{128, 128}, CriticActivateFinal: true, NumCritics: 2, StdMin: 1e-5, StdMax: 5, InitFinal: 0.05,
	}
	p := spec.NewParams(11)
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range p.WithPrefix(models.PrefixEncoder, models.PrefixActor) {
		d := p.Data(n)
		for i := range d {
			d[i] += float32(0.3 * rng.NormFloat64())
		}
	}
	return spec, p
}

func randomStates(spec models.SACSpec, n int, rng *rand.Rand) []float32 {
	obs := make([]float32, n*spec.StateDim)
	for r := 0; r < n; r++ {
		for i := 0; i < spec.StateDim; i++ {
			lo, hi := float64(spec.StateLow[i]), float64(spec.StateHigh[i])
			span := math.Max(hi-lo, 0.01)
			obs[r*spec.StateDim+i] = float32(lo - 0.1*span + 1.2*span*rng.Float64()) // a little outside the bounds too
		}
	}
	return obs
}

// The exported ONNX policy's action equals the Gorgonia actor's
// deterministic action tanh(μ(s)) within 1e-5 (max abs) on 1,000 random
// observations, in one batch and one at a time (the actor's hot path).
func TestExportedPolicyMatchesGorgonia(t *testing.T) {
	testtool.RequireORT(t)
	for _, norm := range []string{models.NormMinMax, models.NormMeanStd} {
		t.Run(norm, func(t *testing.T) {
			spec, p := parityPolicy(t)
			if norm == models.NormMeanStd {
				spec.StateNormalization = norm
				for i := range spec.StateLow {
					lo, hi := spec.StateLow[i], spec.StateHigh[i]
					spec.StateMean = append(spec.StateMean, (lo+hi)/2)
					spec.StateStd = append(spec.StateStd, (hi-lo)/4+0.01)
				}
			}
			checkParity(t, spec, p)
		})
	}
}

func checkParity(t *testing.T, spec models.SACSpec, p *models.Params) {
	model, err := spec.ExportPolicy(p, models.PolicyExportInfo{FPS: 10, ActionLow: []float32{-1, -1, -1, 0}, ActionHigh: []float32{1, 1, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	obs := randomStates(spec, n, rand.New(rand.NewPCG(9, 9)))
	ref, err := sac.NewPolicy(spec, p, n)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Deterministic(obs)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := inference.NewSession(model, inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.RunBatch(map[string][]float32{models.ONNXInputState: obs}, n)
	if err != nil {
		t.Fatal(err)
	}
	got := out[models.ONNXOutputAction]
	var maxDiff float64
	var spread [2]float32
	for i := range want {
		maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-want[i])))
		spread[0], spread[1] = min(spread[0], want[i]), max(spread[1], want[i])
	}
	t.Logf("batch of %d: max |onnx − gorgonia| = %.3g; actions span [%.2f, %.2f]", n, maxDiff, spread[0], spread[1])
	if maxDiff > 1e-5 {
		t.Errorf("max abs diff %.3g > 1e-5", maxDiff)
	}
	if spread[0] > -0.5 || spread[1] < 0.5 {
		t.Errorf("actions span only [%g, %g]: the parity check would be too easy", spread[0], spread[1])
	}
	// The batch-1 path the actor uses.
	in, act := sess.Input(models.ONNXInputState), sess.Output(models.ONNXOutputAction)
	for r := 0; r < n; r += 7 {
		copy(in, obs[r*spec.StateDim:(r+1)*spec.StateDim])
		if err := sess.Run(); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < spec.ActionDim; k++ {
			if d := math.Abs(float64(act[k] - want[r*spec.ActionDim+k])); d > 1e-5 {
				t.Fatalf("row %d: batch-1 action %v vs gorgonia %v", r, act, want[r*spec.ActionDim:(r+1)*spec.ActionDim])
			}
		}
	}
}

func TestExportedPolicyPassesChecker(t *testing.T) {
	spec, p := parityPolicy(t)
	model, err := spec.ExportPolicy(p, models.PolicyExportInfo{FPS: 10, ActionLow: []float32{-1, -1, -1, 0}, ActionHigh: []float32{1, 1, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "policy.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	testtool.CheckONNX(t, path)
	meta, err := onnx.ReadMetadata(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"e2hil.version", "e2hil.model", "fps", "observation.state.min", "observation.state.max", "observation.state.names", "action.names"} {
		if meta[k] == "" {
			t.Errorf("metadata %q missing", k)
		}
	}
	ins, outs, err := onnx.ReadSignature(model)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Name != "observation.state" || ins[0].Dims[0] != -1 || len(outs) != 1 || outs[0].Name != "action" {
		t.Errorf("signature %+v → %+v", ins, outs)
	}
}

func TestExportRejectsMissingParameter(t *testing.T) {
	spec, _ := parityPolicy(t)
	other := spec
	other.ActorHidden = []int{128} // a store built for a different shape lacks actor.net.1.*
	if _, err := spec.ExportPolicy(other.NewParams(1), models.PolicyExportInfo{}); err == nil {
		t.Fatal("export of mismatched parameters succeeded")
	}
}

// TestExportedGripperMatchesGorgonia: with a discrete gripper critic the
// export adds output "gripper" = argmax_k Q_d(s, k) (int64), equal to the
// Gorgonia policy's on 256 random observations, and the continuous action
// is unchanged.
func TestExportedGripperMatchesGorgonia(t *testing.T) {
	testtool.RequireORT(t)
	spec, _ := parityPolicy(t)
	spec.NumDiscrete = 3
	// A cube.z range, so that no feature saturates the encoder (the parity
	// spec's fixed cube.z makes its latent two-valued).
	spec.StateHigh = append([]float32(nil), spec.StateHigh...)
	spec.StateHigh[11] = 0.05
	p := spec.NewParams(12)
	rng := rand.New(rand.NewPCG(6, 6))
	for _, n := range p.WithPrefix(models.PrefixEncoder, models.PrefixActor) {
		d := p.Data(n)
		for i := range d {
			d[i] += float32(0.5 * rng.NormFloat64())
		}
	}
	// No favourite, large spread: all three commands occur.
	clear(p.Data("discrete_critic.out.bias"))
	for i := range p.Data("discrete_critic.out.weight") {
		p.Data("discrete_critic.out.weight")[i] = float32(rng.NormFloat64())
	}
	model, err := spec.ExportPolicy(p, models.PolicyExportInfo{FPS: 10, ActionLow: []float32{-1, -1, -1, 0}, ActionHigh: []float32{1, 1, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 256
	obs := randomStates(spec, n, rng)
	ref, err := sac.NewPolicy(spec, p, n)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Deterministic(obs)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := inference.NewSession(model, inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.RunBatch(map[string][]float32{models.ONNXInputState: obs}, n)
	if err != nil {
		t.Fatal(err)
	}
	var seen [3]int
	for i := 0; i < n; i++ {
		g := ref.Gripper(i)
		seen[g]++
		if got := out[models.ONNXOutputGripper][i]; got != float32(g) {
			t.Fatalf("row %d: onnx gripper %v, gorgonia %d", i, got, g)
		}
	}
	for i := range want {
		if d := math.Abs(float64(out[models.ONNXOutputAction][i] - want[i])); d > 1e-5 {
			t.Fatalf("action %d differs by %g", i, d)
		}
	}
	if seen[0]+seen[1] == n || seen[1]+seen[2] == n || seen[0]+seen[2] == n {
		t.Errorf("gripper choices %v: the check needs all three", seen)
	}
	path := filepath.Join(t.TempDir(), "policy.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	testtool.CheckONNX(t, path)
}
