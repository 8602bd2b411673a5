package inference_test

import (
	"fmt"
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

// imageModel exports the network of actor_step_image_ms: the state policy
// above plus two 3×128×128 cameras through a frozen ResNet-10 (BatchNorm
// folded) → spatial embeddings (8 per channel) → Linear(4096 → 256) →
// LayerNorm → Tanh per camera.
func imageModel(tb testing.TB, seed uint64) []byte {
	tb.Helper()
	requireORT(tb)
	const state = 18
	bb := models.ResNet10{Prefix: "backbone"}
	bp := models.NewParams()
	rng := rand.New(rand.NewPCG(seed, 5))
	if err := bb.AddParams(bp, rng); err != nil {
		tb.Fatal(err)
	}
	c, oh, ow := bb.OutShape(128, 128)
	low, high := make([]float32, state), make([]float32, state)
	for i := range low {
		low[i], high[i] = -1, 1
	}
	spec := models.SACSpec{StateDim: state, ActionDim: 3, StateLow: low, StateHigh: high, LatentDim: 256,
		ActorHidden: []int{256, 256}, ActorActivateFinal: true, CriticHidden: []int{256, 256}, CriticActivateFinal: true,
		NumCritics: 2, StdMin: 1e-5, StdMax: 5, InitFinal: 0.05, NumDiscrete: 3, ImagePoolingDim: 8, ImageDropout: 0.1}
	var cams []models.PolicyCamera
	for _, k := range []string{"observation.images.front", "observation.images.wrist"} {
		spec.Cameras = append(spec.Cameras, models.CameraSpec{Name: k, Channels: c, Height: oh, Width: ow})
		cams = append(cams, models.PolicyCamera{Key: k, Height: 128, Width: 128,
			Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}})
	}
	p := spec.NewParams(seed)
	model, err := spec.ExportImagePolicy(p, bb, bp, cams, models.PolicyExportInfo{FPS: 10, ActionLow: spec.ActionLow(), ActionHigh: spec.ActionHigh()})
	if err != nil {
		tb.Fatal(err)
	}
	return model
}

func imagePolicy(tb testing.TB, threads int) (*inference.Policy, [][]float32) {
	tb.Helper()
	p, err := inference.NewPolicy(imageModel(tb, 1), inference.SessionOptions{IntraOpThreads: threads})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	var images [][]float32
	for i, c := range p.Cameras() {
		img := randomObs(3 * c.Height * c.Width)
		for j := range img {
			img[j] = (img[j] + 1) / 2 * float32(i+1) / 2
		}
		images = append(images, img)
	}
	return p, images
}

// BenchmarkActorStep is one control step at batch 1 in onnxruntime:
//
//	State: actor_step_state_ms (shared/bench/reference_torch.py): raw
//	       state in, continuous action and gripper command out;
//	Image: actor_step_image_ms: the same plus two 3×128×128 camera images
//	       (CHW float in [0, 1]) through the frozen ResNet-10, with 1 and 2
//	       intra-op threads (the reference takes the faster of 1 and 2).
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
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("Image/threads=%d", threads), func(b *testing.B) {
			p, images := imagePolicy(b, threads)
			obs := randomObs(p.StateDim())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := p.ActImages(obs, images); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestImageActorStep: a policy with cameras lists them, refuses Act and
// wrong images, and steps without allocating.
func TestImageActorStep(t *testing.T) {
	p, images := imagePolicy(t, 1)
	cams := p.Cameras()
	if len(cams) != 2 || cams[0].Key != "observation.images.front" || cams[1].Height != 128 {
		t.Fatalf("cameras %+v", cams)
	}
	obs := randomObs(p.StateDim())
	if _, err := p.Act(obs); err == nil {
		t.Error("Act without images accepted")
	}
	if _, err := p.ActImages(obs, images[:1]); err == nil {
		t.Error("one image for two cameras accepted")
	}
	if _, err := p.ActImages(obs, [][]float32{images[0], images[1][:10]}); err == nil {
		t.Error("a short image accepted")
	}
	a, err := p.ActImages(obs, images)
	if err != nil {
		t.Fatal(err)
	}
	first := append([]float32(nil), a...)
	if len(first) != 4 {
		t.Fatalf("action %v: want 3 continuous + gripper", first)
	}
	// The images matter: other images, another action.
	b, _ := p.ActImages(obs, [][]float32{images[1], images[0]})
	if slices.Equal(first, b) {
		t.Error("swapping the cameras' images changes nothing")
	}
	allocs := testing.AllocsPerRun(20, func() { _, err = p.ActImages(obs, images) })
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per image step, want 0", allocs)
	}
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

// TestPolicySwapWhileActing: swaps pushed from another goroutine while the
// control loop keeps acting (what an actor does with the learner's stream):
// every step runs and the swaps land. (The race detector cannot vouch for
// Swap here: it treats every cgo call as a synchronisation point, and both
// sides call onnxruntime; Swap reads only the policy's fixed signature.)
func TestPolicySwapWhileActing(t *testing.T) {
	models := [][]byte{stateModel(t, 18, 1), stateModel(t, 18, 2)}
	p, err := inference.NewPolicy(models[0], inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const swaps = 20
	done := make(chan error, 1)
	go func() {
		for i := range swaps {
			if err := p.Swap(models[i%2]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	obs := randomObs(18)
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
		if _, err := p.Act(obs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Act(obs); err != nil { // takes the last pending swap
		t.Fatal(err)
	}
	if p.Swaps < 1 || p.Swaps > swaps {
		t.Errorf("%d swaps used, want 1…%d", p.Swaps, swaps)
	}
}
