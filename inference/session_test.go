package inference_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/models/onnx"
)

// requireORT skips the test when the onnxruntime library is missing, or
// fails it when E2HIL_REQUIRE_TOOLS=1 (make test has installed it).
func requireORT(t testing.TB) {
	t.Helper()
	err := inference.Init()
	if err == nil {
		return
	}
	if errors.Is(err, inference.ErrLibraryNotFound) && os.Getenv("E2HIL_REQUIRE_TOOLS") != "1" {
		t.Skip(err)
	}
	t.Fatal(err)
}

// mlp is a two-input, two-output policy-shaped network:
//
//	h      = relu([state, extra] · W1ᵀ + b1)      (Concat, Gemm transB=1, Relu)
//	action = tanh(h · W2 + b2)                     (MatMul, Add, Tanh)
//	best   = argmax(action, axis 1)                (ArgMax keepdims=0, int64)
type mlp struct {
	nState, nExtra, nHidden, nAct int
	w1, b1, w2, b2                []float32 // w1 is [hidden, in], w2 is [hidden, act]
}

func newMLP(rng *rand.Rand, nState, nExtra, nHidden, nAct int) *mlp {
	m := &mlp{nState: nState, nExtra: nExtra, nHidden: nHidden, nAct: nAct}
	m.w1 = randn(rng, nHidden*(nState+nExtra), 0.5)
	m.b1 = randn(rng, nHidden, 0.1)
	m.w2 = randn(rng, nHidden*nAct, 0.5)
	m.b2 = randn(rng, nAct, 0.1)
	return m
}

func (m *mlp) model(t testing.TB) []byte {
	t.Helper()
	nIn := int64(m.nState + m.nExtra)
	g := onnx.NewGraph("mlp")
	g.Input("observation.state", -1, int64(m.nState))
	g.Input("observation.extra", -1, int64(m.nExtra))
	g.Initializer("w1", []int64{int64(m.nHidden), nIn}, m.w1)
	g.Initializer("b1", []int64{int64(m.nHidden)}, m.b1)
	g.Initializer("w2", []int64{int64(m.nHidden), int64(m.nAct)}, m.w2)
	g.Initializer("b2", []int64{int64(m.nAct)}, m.b2)
	g.Node("Concat", []string{"observation.state", "observation.extra"}, []string{"x"}, onnx.AttrInt("axis", 1))
	g.Node("Gemm", []string{"x", "w1", "b1"}, []string{"z1"}, onnx.AttrInt("transB", 1))
	g.Node("Relu", []string{"z1"}, []string{"h"})
	g.Node("MatMul", []string{"h", "w2"}, []string{"z2"})
	g.Node("Add", []string{"z2", "b2"}, []string{"z3"})
	g.Node("Tanh", []string{"z3"}, []string{"action"})
	g.Node("ArgMax", []string{"action"}, []string{"best"}, onnx.AttrInt("axis", 1), onnx.AttrInt("keepdims", 0))
	g.Output("action", -1, int64(m.nAct))
	g.OutputInt64("best", -1)
	b, err := onnx.Model{Graph: g}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forward is the reference, in float64, for one row.
func (m *mlp) forward(state, extra []float32) (action []float64, best int) {
	x := append(append([]float32{}, state...), extra...)
	h := make([]float64, m.nHidden)
	for j := range h {
		s := float64(m.b1[j])
		for k, xk := range x {
			s += float64(m.w1[j*len(x)+k]) * float64(xk)
		}
		h[j] = math.Max(s, 0)
	}
	action = make([]float64, m.nAct)
	for a := range action {
		s := float64(m.b2[a])
		for j, hj := range h {
			s += hj * float64(m.w2[j*m.nAct+a])
		}
		action[a] = math.Tanh(s)
		if action[a] > action[best] {
			best = a
		}
	}
	return action, best
}

func randn(rng *rand.Rand, n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * std)
	}
	return v
}

// mlpTol bounds |onnxruntime − float64 reference| for the MLP: float32
// accumulation over ≤ 16 terms plus MLAS's tanh approximation.
const mlpTol = 1e-5

func TestSessionMLP(t *testing.T) {
	requireORT(t)
	rng := rand.New(rand.NewPCG(1, 2))
	m := newMLP(rng, 4, 3, 16, 5)
	s, err := inference.NewSession(m.model(t), inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	wantIn := []inference.TensorInfo{
		{Name: "observation.state", Type: inference.Float32, Dims: []int64{-1, 4}},
		{Name: "observation.extra", Type: inference.Float32, Dims: []int64{-1, 3}},
	}
	wantOut := []inference.TensorInfo{
		{Name: "action", Type: inference.Float32, Dims: []int64{-1, 5}},
		{Name: "best", Type: inference.Int64, Dims: []int64{-1}},
	}
	if got := s.Inputs(); !equalInfos(got, wantIn) {
		t.Errorf("Inputs() = %v, want %v", got, wantIn)
	}
	if got := s.Outputs(); !equalInfos(got, wantOut) {
		t.Errorf("Outputs() = %v, want %v", got, wantOut)
	}

	// The hot path, step after step on the same buffers.
	state, extra := s.Input("observation.state"), s.Input("observation.extra")
	action, best := s.Output("action"), s.OutputInt64("best")
	if len(state) != 4 || len(extra) != 3 || len(action) != 5 || len(best) != 1 {
		t.Fatalf("buffer lengths %d %d %d %d, want 4 3 5 1", len(state), len(extra), len(action), len(best))
	}
	for step := range 20 {
		copy(state, randn(rng, 4, 1))
		copy(extra, randn(rng, 3, 1))
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
		wantA, wantB := m.forward(state, extra)
		checkClose(t, "step "+strconv.Itoa(step)+" action", action, wantA, mlpTol)
		if best[0] != int64(wantB) {
			t.Errorf("step %d: best = %d, want %d", step, best[0], wantB)
		}
	}

	// RunBatch at batch 1 and 7 must not touch the batch-1 buffers.
	before := append([]float32{}, action...)
	for _, batch := range []int{1, 7} {
		st, ex := randn(rng, batch*4, 1), randn(rng, batch*3, 1)
		out, err := s.RunBatch(map[string][]float32{"observation.state": st, "observation.extra": ex}, batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(out["action"]) != batch*5 || len(out["best"]) != batch {
			t.Fatalf("batch %d: got %d actions, %d bests", batch, len(out["action"]), len(out["best"]))
		}
		for r := range batch {
			wantA, wantB := m.forward(st[r*4:(r+1)*4], ex[r*3:(r+1)*3])
			checkClose(t, "batch "+strconv.Itoa(batch)+" row "+strconv.Itoa(r), out["action"][r*5:(r+1)*5], wantA, mlpTol)
			if out["best"][r] != float32(wantB) {
				t.Errorf("batch %d row %d: best = %v, want %d", batch, r, out["best"][r], wantB)
			}
		}
	}
	if !slices.Equal(action, before) {
		t.Errorf("RunBatch changed the batch-1 output buffer: %v → %v", before, action)
	}
}

func TestSessionRunDoesNotAllocate(t *testing.T) {
	requireORT(t)
	m := newMLP(rand.New(rand.NewPCG(3, 4)), 6, 2, 32, 6)
	s, err := inference.NewSession(m.model(t), inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	obs := randn(rand.New(rand.NewPCG(5, 6)), 6, 1)
	var sink float32
	step := func() {
		copy(s.Input("observation.state"), obs)
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
		sink += s.Output("action")[0]
	}
	step() // onnxruntime plans its memory on the first run
	if n := testing.AllocsPerRun(200, step); n != 0 {
		t.Errorf("Run: %v allocations per step, want 0", n)
	}
	_ = sink
}

func TestSessionErrors(t *testing.T) {
	requireORT(t)
	m := newMLP(rand.New(rand.NewPCG(7, 8)), 4, 3, 8, 2)
	model := m.model(t)
	s, err := inference.NewSession(model, inference.SessionOptions{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ok4, ok3 := make([]float32, 4), make([]float32, 3)
	tests := []struct {
		name   string
		inputs map[string][]float32
		batch  int
		want   string
	}{
		{"missing input", map[string][]float32{"observation.state": ok4}, 1, `input "observation.extra" missing`},
		{"unknown input", map[string][]float32{"observation.state": ok4, "observation.extra": ok3, "obs": ok3}, 1, `no input "obs"`},
		{"short input", map[string][]float32{"observation.state": ok4, "observation.extra": ok3}, 2, `needs 8 values, got 4`},
		{"zero batch", map[string][]float32{"observation.state": ok4, "observation.extra": ok3}, 0, `must be ≥ 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.RunBatch(tt.inputs, tt.batch)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RunBatch: error %v, want one containing %q", err, tt.want)
			}
		})
	}

	if s.Input("nope") != nil || s.Output("nope") != nil || s.Output("best") != nil || s.OutputInt64("action") != nil {
		t.Error("Input/Output of an unknown name or the wrong type should be nil")
	}
	if _, err := inference.NewSession([]byte("not a model"), inference.SessionOptions{}); err == nil {
		t.Error("NewSession(garbage): no error")
	}
	if _, err := inference.NewSession(model, inference.SessionOptions{IntraOpThreads: -1}); err == nil {
		t.Error("NewSession(IntraOpThreads: -1): no error")
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Run(); !errors.Is(err, inference.ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if _, err := s.RunBatch(nil, 1); !errors.Is(err, inference.ErrClosed) {
		t.Errorf("RunBatch after Close: %v, want ErrClosed", err)
	}
	if s.Input("observation.state") != nil {
		t.Error("Input after Close: want nil")
	}
}

// TestSessionRejectsDynamicInnerAxis: only the leading axis may be dynamic,
// since the batch-1 buffers must have a size.
func TestSessionRejectsDynamicInnerAxis(t *testing.T) {
	requireORT(t)
	g := onnx.NewGraph("inner")
	g.Input("x", 1, -1)
	g.Node("Relu", []string{"x"}, []string{"y"})
	g.Output("y", 1, -1)
	b, err := onnx.Model{Graph: g}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	_, err = inference.NewSession(b, inference.SessionOptions{})
	if err == nil || !strings.Contains(err.Error(), "only the leading (batch) axis may be dynamic") {
		t.Errorf("NewSession: error %v, want one about the dynamic axis", err)
	}
}

// BenchmarkSessionRun is one policy step of a small SAC-sized actor (6 joint
// positions + 6 velocities → 256 → 6) on one thread.
func BenchmarkSessionRun(b *testing.B) {
	requireORT(b)
	m := newMLP(rand.New(rand.NewPCG(9, 10)), 6, 6, 256, 6)
	s, err := inference.NewSession(m.model(b), inference.SessionOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	copy(s.Input("observation.state"), randn(rand.New(rand.NewPCG(11, 12)), 6, 1))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func checkClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol) {
			t.Errorf("%s[%d] = %v, want %v (|diff| %.3g > %.3g)", what, i, got[i], want[i], d, tol)
		}
	}
}

func equalInfos(a, b []inference.TensorInfo) bool {
	return slices.EqualFunc(a, b, func(x, y inference.TensorInfo) bool {
		return x.Name == y.Name && x.Type == y.Type && slices.Equal(x.Dims, y.Dims)
	})
}
