package inference_test

import (
	"math/rand/v2"
	"testing"

	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/models"
)

// statePolicy exports the network of actor_step_state_ms
// (shared/bench/reference_torch.py): observation.state 18 → encoder
// Linear → LayerNorm → Tanh (latent 256) → actor MLP [256, 256] of
// Linear → LayerNorm → SiLU → mean → tanh (3 actions), and the gripper
// critic MLP [256, 256] → Linear(3) → argmax.
func statePolicy(tb testing.TB) *inference.Policy {
	tb.Helper()
	requireORT(tb)
	const state = 18
	low, high := make([]float32, state), make([]float32, state)
	for i := range low {
		low[i], high[i] = -1, 1
	}
	spec := models.SACSpec{StateDim: state, ActionDim: 3, StateLow: low, StateHigh: high, LatentDim: 256,
		ActorHidden: []int{256, 256}, ActorActivateFinal: true, CriticHidden: []int{256, 256}, CriticActivateFinal: true,
		NumCritics: 2, StdMin: 1e-5, StdMax: 5, InitFinal: 0.05, NumDiscrete: 3}
	model, err := spec.ExportPolicy(spec.NewParams(1), models.PolicyExportInfo{FPS: 10, ActionLow: []float32{-1, -1, -1, 0}, ActionHigh: []float32{1, 1, 1, 2}})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := inference.NewPolicy(model, inference.SessionOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

func randomObs(n int) []float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	obs := make([]float32, n)
	for i := range obs {
		obs[i] = float32(rng.Float64()*2 - 1)
	}
	return obs
}

// BenchmarkActorStep/State is one control step of actor_step_state_ms:
// batch 1, raw state in, continuous action and gripper command out.
func BenchmarkActorStep(b *testing.B) {
	b.Run("State", func(b *testing.B) {
		p := statePolicy(b)
		obs := randomObs(p.StateDim())
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := p.Act(obs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestActorStepAllocatesNothing: the steady-state control step makes no
// Go allocation.
func TestActorStepAllocatesNothing(t *testing.T) {
	p := statePolicy(t)
	obs := randomObs(p.StateDim())
	if _, err := p.Act(obs); err != nil {
		t.Fatal(err)
	}
	if p.ActionDim() != 4 {
		t.Fatalf("action dim %d, want 3 continuous + gripper", p.ActionDim())
	}
	var err error
	allocs := testing.AllocsPerRun(500, func() { _, err = p.Act(obs) })
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per step, want 0", allocs)
	}
}
