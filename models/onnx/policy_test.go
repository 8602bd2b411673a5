package onnx_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/models/onnx"
)

// policy is a SAC-actor-shaped network that uses every op the policies
// need, for the end-to-end parity test, the ONNX checker test and the golden
// file:
//
//	xn     = (obs − mu) / sigma                         Sub, Div
//	h1     = tanh(LayerNorm(xn · W1ᵀ + b1))             Gemm, LayerNormalization, Tanh
//	h2     = relu(h1 · W2 + b2)                         MatMul, Add, Relu
//	f      = [h2, xn]                                   Concat
//	action = tanh(f · Wmᵀ + bm) ⊙ scale                 Gemm, Tanh, Mul
//	std    = exp(clip(f · Wsᵀ + bs, −5, 2))             Gemm, Clip, Exp
//	gate   = sigmoid(f · Wgᵀ + bg)                      Gemm, Sigmoid
//	grip   = argmax(f · Wqᵀ + bq)                       Gemm, ArgMax (int64)
//
// Weights are small dyadic rationals from a formula: exact in float32 and
// the same on every platform, so the golden file is stable.
type policy struct {
	mu, sigma, w1, b1, g1, be1, w2, b2 []float32
	wm, bm, scale, ws, bs, wg, bg      []float32
	wq, bq                             []float32
}

const (
	pObs  = 6
	pHid  = 8
	pFeat = pHid + pObs
	pAct  = 3
	pGrip = 3
)

func dyadic(n, k int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((i*37+k*11)%17-8) / 16
	}
	return v
}

func newPolicy() *policy {
	p := &policy{
		mu: dyadic(pObs, 1), sigma: dyadic(pObs, 2),
		w1: dyadic(pHid*pObs, 3), b1: dyadic(pHid, 4), g1: dyadic(pHid, 5), be1: dyadic(pHid, 6),
		w2: dyadic(pHid*pHid, 7), b2: dyadic(pHid, 8),
		wm: dyadic(pAct*pFeat, 9), bm: dyadic(pAct, 10), scale: dyadic(pAct, 11),
		ws: dyadic(pAct*pFeat, 12), bs: dyadic(pAct, 13),
		wg: dyadic(pFeat, 14), bg: dyadic(1, 15),
		wq: dyadic(pGrip*pFeat, 16), bq: dyadic(pGrip, 17),
	}
	for _, v := range [][]float32{p.sigma, p.scale} { // positive: a standard deviation, an action scale
		for i, x := range v {
			v[i] = float32(math.Abs(float64(x))) + 0.5
		}
	}
	return p
}

var policyMetadata = []onnx.KV{
	{Key: "e2hil.policy", Value: "sac"},
	{Key: "observation.state.names", Value: `["shoulder_pan","shoulder_lift","elbow_flex","wrist_flex","wrist_roll","gripper"]`},
	{Key: "empty", Value: ""},
}

func (p *policy) model() onnx.Model {
	g := onnx.NewGraph("policy")
	g.Input("observation.state", -1, pObs)
	init := func(name string, data []float32, dims ...int64) string {
		g.Initializer(name, dims, data)
		return name
	}
	gemm := func(x, w, b string) string {
		y := g.UniqueName("gemm")
		g.Node("Gemm", []string{x, w, b}, []string{y}, onnx.AttrInt("transB", 1))
		return y
	}
	init("mu", p.mu, pObs)
	init("sigma", p.sigma, pObs)
	g.Node("Sub", []string{"observation.state", "mu"}, []string{"centred"})
	g.Node("Div", []string{"centred", "sigma"}, []string{"xn"})

	z1 := gemm("xn", init("w1", p.w1, pHid, pObs), init("b1", p.b1, pHid))
	g.Node("LayerNormalization", []string{z1, init("g1", p.g1, pHid), init("be1", p.be1, pHid)}, []string{"ln1"},
		onnx.AttrInt("axis", -1), onnx.AttrFloat("epsilon", 1e-5))
	g.Node("Tanh", []string{"ln1"}, []string{"h1"})
	g.Node("MatMul", []string{"h1", init("w2", p.w2, pHid, pHid)}, []string{"h1w2"})
	g.Node("Add", []string{"h1w2", init("b2", p.b2, pHid)}, []string{"z2"})
	g.Node("Relu", []string{"z2"}, []string{"h2"})
	g.Node("Concat", []string{"h2", "xn"}, []string{"f"}, onnx.AttrInt("axis", 1))

	mean := gemm("f", init("wm", p.wm, pAct, pFeat), init("bm", p.bm, pAct))
	g.Node("Tanh", []string{mean}, []string{"squashed"})
	g.Node("Mul", []string{"squashed", init("scale", p.scale, pAct)}, []string{"action"})

	logStd := gemm("f", init("ws", p.ws, pAct, pFeat), init("bs", p.bs, pAct))
	g.Initializer("log_std_min", nil, []float32{-5})
	g.Initializer("log_std_max", nil, []float32{2})
	g.Node("Clip", []string{logStd, "log_std_min", "log_std_max"}, []string{"log_std"})
	g.Node("Exp", []string{"log_std"}, []string{"std"})

	g.Node("Sigmoid", []string{gemm("f", init("wg", p.wg, 1, pFeat), init("bg", p.bg, 1))}, []string{"gate"})
	g.Node("ArgMax", []string{gemm("f", init("wq", p.wq, pGrip, pFeat), init("bq", p.bq, pGrip))}, []string{"grip"},
		onnx.AttrInt("axis", 1), onnx.AttrInt("keepdims", 0))

	g.Output("action", -1, pAct)
	g.Output("std", -1, pAct)
	g.Output("gate", -1, 1)
	g.OutputInt64("grip", -1)
	return onnx.Model{Graph: g, ProducerVersion: "test", DocString: "every op e2hil's policies use", Metadata: policyMetadata}
}

// forward is the float64 reference for one row.
func (p *policy) forward(obs []float32) (action, std []float64, gate float64, grip int) {
	xn := make([]float64, pObs)
	for i := range xn {
		xn[i] = float64(obs[i]-p.mu[i]) / float64(p.sigma[i])
	}
	affine := func(x []float64, w, b []float32, n int) []float64 { // x·Wᵀ + b, W is [n, len(x)]
		y := make([]float64, n)
		for j := range y {
			y[j] = float64(b[j])
			for k, xk := range x {
				y[j] += float64(w[j*len(x)+k]) * xk
			}
		}
		return y
	}
	h1 := layerNorm(affine(xn, p.w1, p.b1, pHid), p.g1, p.be1, 1e-5)
	for i := range h1 {
		h1[i] = math.Tanh(h1[i])
	}
	h2 := make([]float64, pHid)
	for j := range h2 {
		s := float64(p.b2[j])
		for k, hk := range h1 {
			s += hk * float64(p.w2[k*pHid+j])
		}
		h2[j] = math.Max(s, 0)
	}
	f := append(h2, xn...)
	action = affine(f, p.wm, p.bm, pAct)
	for i := range action {
		action[i] = math.Tanh(action[i]) * float64(p.scale[i])
	}
	std = affine(f, p.ws, p.bs, pAct)
	for i := range std {
		std[i] = math.Exp(math.Min(math.Max(std[i], -5), 2))
	}
	gate = 1 / (1 + math.Exp(-affine(f, p.wg, p.bg, 1)[0]))
	q := affine(f, p.wq, p.bq, pGrip)
	for i := range q {
		if q[i] > q[grip] {
			grip = i
		}
	}
	return action, std, gate, grip
}

// TestPolicyParity runs the all-ops policy in onnxruntime through the
// zero-allocation batch-1 path and through RunBatch at batch 7.
func TestPolicyParity(t *testing.T) {
	requireORT(t)
	p := newPolicy()
	b, err := p.model().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := inference.NewSession(b, inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(42, 43))

	for step := range 10 {
		obs := s.Input("observation.state")
		copy(obs, seq(pObs, func(int) float32 { return 2 * normal(rng) }))
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
		action, std, gate, grip := p.forward(obs)
		what := "step " + strconv.Itoa(step)
		check(t, what+" action", s.Output("action"), action, tolReduce)
		check(t, what+" std", s.Output("std"), std, tolReduce)
		check(t, what+" gate", s.Output("gate"), []float64{gate}, tolReduce)
		if got := s.OutputInt64("grip")[0]; got != int64(grip) {
			t.Errorf("%s grip = %d, want %d", what, got, grip)
		}
	}

	const batch = 7
	obs := seq(batch*pObs, func(int) float32 { return 2 * normal(rng) })
	out, err := s.RunBatch(map[string][]float32{"observation.state": obs}, batch)
	if err != nil {
		t.Fatal(err)
	}
	for r := range batch {
		action, std, gate, grip := p.forward(obs[r*pObs : (r+1)*pObs])
		what := "row " + strconv.Itoa(r)
		check(t, what+" action", out["action"][r*pAct:(r+1)*pAct], action, tolReduce)
		check(t, what+" std", out["std"][r*pAct:(r+1)*pAct], std, tolReduce)
		check(t, what+" gate", out["gate"][r:r+1], []float64{gate}, tolReduce)
		if got := out["grip"][r]; got != float32(grip) {
			t.Errorf("%s grip = %v, want %d", what, got, grip)
		}
	}
}
