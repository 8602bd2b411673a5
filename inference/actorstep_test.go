package inference_test

import (
	"math/rand/v2"
	"slices"
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
	p, err := inference.NewPolicy(stateModel(tb, 18, 1), inference.SessionOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// stateModel exports that network with state inputs and weights from seed.
func stateModel(tb testing.TB, state int, seed uint64) []byte {
	tb.Helper()
	requireORT(tb)
	low, high := make([]float32, state), make([]float32, state)
	for i := range low {
		low[i], high[i] = -1, 1
	}
	spec := models.SACSpec{StateDim: state, ActionDim: 3, StateLow: low, StateHigh: high, LatentDim: 256,
		ActorHidden: []int{256, 256}, ActorActivateFinal: true, CriticHidden: []int{256, 256}, CriticActivateFinal: true,
		NumCritics: 2, StdMin: 1e-5, StdMax: 5, InitFinal: 0.05, NumDiscrete: 3}
	p := spec.NewParams(seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, n := range p.WithPrefix(models.PrefixActor) { // move the actions off 0
		d := p.Data(n)
		for i := range d {
			d[i] += float32(0.2 * rng.NormFloat64())
		}
	}
	model, err := spec.ExportPolicy(p, models.PolicyExportInfo{FPS: 10, ActionLow: []float32{-1, -1, -1, 0}, ActionHigh: []float32{1, 1, 1, 2}})
	if err != nil {
		tb.Fatal(err)
	}
	return model
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

// TestPolicyHotSwap: a policy swapped in from another goroutine is used
// from the next step on; a model of another shape is refused.
func TestPolicyHotSwap(t *testing.T) {
	a, b := stateModel(t, 18, 1), stateModel(t, 18, 2)
	p, err := inference.NewPolicy(a, inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ref, err := inference.NewPolicy(b, inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	obs := randomObs(18)
	before, _ := p.Act(obs)
	before = append([]float32(nil), before...)
	want, _ := ref.Act(obs)
	if slices.Equal(before, want) {
		t.Fatal("the two policies act alike: the test would prove nothing")
	}
	done := make(chan error)
	go func() { done <- p.Swap(b) }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	after, err := p.Act(obs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(after, want) || p.Swaps != 1 {
		t.Errorf("after swap: %v (swaps %d), want policy B's %v", after, p.Swaps, want)
	}
	if err := p.Swap(stateModel(t, 12, 3)); err == nil {
		t.Error("a 12-value-state model was swapped in for an 18-value one")
	}
	if again, _ := p.Act(obs); !slices.Equal(again, want) {
		t.Error("a refused swap changed the policy")
	}
}
