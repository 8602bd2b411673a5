package models

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"

	"github.com/e2hil/e2hil/internal/par"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Custom Gorgonia ops. Each forward op has a companion gradient op applied by
// SymDiff, so G.Grad differentiates through it; every pair has a
// finite-difference test (ops_test.go). They are float32 only.

// elemFn is an elementwise function and its derivative.
type elemFn struct {
	name string
	fwd  func(x, y []float32)
	// bwd writes dx given the input x, the output y and the output grad dy.
	bwd func(x, y, dy, dx []float32)
}

// SiLU is x·σ(x) (PyTorch's nn.SiLU).
func SiLU(x *G.Node) (*G.Node, error) { return G.ApplyOp(&elemOp{siluFn}, x) }

// Tanh is tanh(x) on the vectorised kernel (Gorgonia's is scalar math32).
func Tanh(x *G.Node) (*G.Node, error) { return G.ApplyOp(&elemOp{tanhFn}, x) }

var tanhFn = &elemFn{
	name: "Tanh",
	fwd:  tanhRows,
	bwd: func(_, y, dy, dx []float32) {
		for i, v := range y {
			dx[i] = dy[i] * (1 - v*v)
		}
	},
}

// Clamp limits x to [lo, hi]; its gradient is zero outside, as torch.clamp.
func Clamp(x *G.Node, lo, hi float32) (*G.Node, error) {
	return G.ApplyOp(&elemOp{clampFn(lo, hi)}, x)
}

// TanhLogJacobian is log(1 − tanh²u), computed stably as
// 2(log 2 − u − softplus(−2u)) (torch's TanhTransform.log_abs_det_jacobian).
func TanhLogJacobian(u *G.Node) (*G.Node, error) { return G.ApplyOp(&elemOp{tanhLogJacFn}, u) }

var siluFn = &elemFn{
	name: "SiLU",
	fwd:  siluRows,
	bwd:  func(x, _, dy, dx []float32) { siluGradRows(x, dy, dx) },
}

func clampFn(lo, hi float32) *elemFn {
	return &elemFn{
		name: fmt.Sprintf("Clamp{%g,%g}", lo, hi),
		fwd: func(x, y []float32) {
			for i, v := range x {
				y[i] = min(max(v, lo), hi)
			}
		},
		bwd: func(x, _, dy, dx []float32) {
			for i, v := range x {
				if v >= lo && v <= hi {
					dx[i] = dy[i]
				} else {
					dx[i] = 0
				}
			}
		},
	}
}

var tanhLogJacFn = &elemFn{
	name: "TanhLogJacobian",
	fwd: func(x, y []float32) {
		for i, u := range x {
			y[i] = float32(2 * (math.Ln2 - float64(u) - softplus(-2*float64(u))))
		}
	},
	bwd: func(x, _, dy, dx []float32) { // d/du log(1 − tanh²u) = −2 tanh u
		for i, u := range x {
			dx[i] = dy[i] * float32(-2*math.Tanh(float64(u)))
		}
	},
}

func softplus(z float64) float64 {
	if z > 20 {
		return z
	}
	return math.Log1p(math.Exp(z))
}

func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }

// elemOp applies elemFn.fwd.
type elemOp struct{ fn *elemFn }

func (op *elemOp) Arity() int { return 1 }
func (op *elemOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *elemOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op *elemOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(tensor.Float32)), in...)
}
func (op *elemOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	x, err := f32(in[0])
	if err != nil {
		return nil, err
	}
	y, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	// Pieces of multiples of 16 values: the vectorised kernels' scalar
	// tails fall on the same elements however the work is split.
	par.For(len(x), 16, splitGrain, func(lo, hi int) { op.fn.fwd(x[lo:hi], y[lo:hi]) })
	return prealloc, nil
}
func (op *elemOp) ReturnsPtr() bool      { return false }
func (op *elemOp) CallsExtern() bool     { return false }
func (op *elemOp) OverwritesInput() int  { return -1 }
func (op *elemOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.fn.name) }
func (op *elemOp) Hashcode() uint32      { return hashOf(op) }
func (op *elemOp) String() string        { return op.fn.name }
func (op *elemOp) DiffWRT(int) []bool    { return []bool{true} }
func (op *elemOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&elemGradOp{op.fn}, in[0], out, grad)
	return G.Nodes{dx}, err
}

// elemGradOp computes dx from (x, y, dy).
type elemGradOp struct{ fn *elemFn }

func (op *elemGradOp) Arity() int { return 3 }
func (op *elemGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a, a)
}
func (op *elemGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op *elemGradOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(tensor.Float32)), in...)
}
func (op *elemGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	vs, err := f32s(in...)
	if err != nil {
		return nil, err
	}
	dx, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	par.For(len(dx), 16, splitGrain, func(lo, hi int) { op.fn.bwd(vs[0][lo:hi], vs[1][lo:hi], vs[2][lo:hi], dx[lo:hi]) })
	return prealloc, nil
}
func (op *elemGradOp) ReturnsPtr() bool      { return false }
func (op *elemGradOp) CallsExtern() bool     { return false }
func (op *elemGradOp) OverwritesInput() int  { return -1 }
func (op *elemGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.fn.name, "Grad") }
func (op *elemGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *elemGradOp) String() string        { return op.fn.name + "Grad" }

// Normalize is LayerNorm without the affine part over the last axis of a
// [rows, D] matrix: (x − mean) / sqrt(var + eps), var biased (torch).
func Normalize(x *G.Node, eps float32) (*G.Node, error) {
	if x.Shape().Dims() != 2 {
		return nil, fmt.Errorf("models: Normalize wants a matrix, got shape %v", x.Shape())
	}
	return G.ApplyOp(&normOp{eps: eps}, x)
}

type normOp struct{ eps float32 }

func (op *normOp) Arity() int { return 1 }
func (op *normOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *normOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op *normOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(tensor.Float32)), in...)
}
func (op *normOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	x, err := f32(in[0])
	if err != nil {
		return nil, err
	}
	y, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	d := in[0].Shape()[1]
	for r := 0; r+d <= len(x); r += d {
		xr, yr := x[r:r+d], y[r:r+d]
		mean, rstd := rowStats(xr, op.eps)
		for i, v := range xr {
			yr[i] = (v - mean) * rstd
		}
	}
	return prealloc, nil
}
func (op *normOp) ReturnsPtr() bool      { return false }
func (op *normOp) CallsExtern() bool     { return false }
func (op *normOp) OverwritesInput() int  { return -1 }
func (op *normOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "Normalize{%g}", op.eps) }
func (op *normOp) Hashcode() uint32      { return hashOf(op) }
func (op *normOp) String() string        { return fmt.Sprintf("Normalize{%g}", op.eps) }
func (op *normOp) DiffWRT(int) []bool    { return []bool{true} }
func (op *normOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&normGradOp{op.eps}, in[0], out, grad)
	return G.Nodes{dx}, err
}

// rowStats returns the mean and 1/sqrt(var+eps) of a row, accumulated in float64.
func rowStats(x []float32, eps float32) (mean, rstd float32) {
	var s, ss float64
	for _, v := range x {
		s += float64(v)
	}
	m := s / float64(len(x))
	for _, v := range x {
		d := float64(v) - m
		ss += d * d
	}
	return float32(m), float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
}

// normGradOp: dx = rstd·(dy − mean(dy) − y·mean(dy·y)).
type normGradOp struct{ eps float32 }

func (op *normGradOp) Arity() int { return 3 }
func (op *normGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a, a)
}
func (op *normGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op *normGradOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(tensor.Float32)), in...)
}
func (op *normGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	vs, err := f32s(in...)
	if err != nil {
		return nil, err
	}
	dx, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	x, y, dy := vs[0], vs[1], vs[2]
	d := in[0].Shape()[1]
	for r := 0; r+d <= len(x); r += d {
		_, rstd := rowStats(x[r:r+d], op.eps)
		var mdy, mdyy float64
		for i := r; i < r+d; i++ {
			mdy += float64(dy[i])
			mdyy += float64(dy[i]) * float64(y[i])
		}
		mdy /= float64(d)
		mdyy /= float64(d)
		for i := r; i < r+d; i++ {
			dx[i] = rstd * float32(float64(dy[i])-mdy-float64(y[i])*mdyy)
		}
	}
	return prealloc, nil
}
func (op *normGradOp) ReturnsPtr() bool      { return false }
func (op *normGradOp) CallsExtern() bool     { return false }
func (op *normGradOp) OverwritesInput() int  { return -1 }
func (op *normGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "NormalizeGrad{%g}", op.eps) }
func (op *normGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *normGradOp) String() string        { return fmt.Sprintf("NormalizeGrad{%g}", op.eps) }

// Min2 is the elementwise minimum of two same-shaped nodes; the gradient goes
// to the smaller input (to a on ties), as torch.min over a stacked dim.
func Min2(a, b *G.Node) (*G.Node, error) { return G.ApplyOp(min2Op{}, a, b) }

type min2Op struct{}

func (op min2Op) Arity() int { return 2 }
func (op min2Op) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op min2Op) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op min2Op) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(tensor.Float32)), in...)
}
func (op min2Op) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	vs, err := f32s(in...)
	if err != nil {
		return nil, err
	}
	y, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	for i := range y {
		y[i] = min(vs[0][i], vs[1][i])
	}
	return prealloc, nil
}
func (op min2Op) ReturnsPtr() bool      { return false }
func (op min2Op) CallsExtern() bool     { return false }
func (op min2Op) OverwritesInput() int  { return -1 }
func (op min2Op) WriteHash(h hash.Hash) { fmt.Fprint(h, "Min2") }
func (op min2Op) Hashcode() uint32      { return hashOf(op) }
func (op min2Op) String() string        { return "Min2" }
func (op min2Op) DiffWRT(int) []bool    { return []bool{true, true} }
func (op min2Op) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	da, err := G.ApplyOp(min2GradOp{first: true}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(min2GradOp{first: false}, in[0], in[1], grad)
	return G.Nodes{da, db}, err
}

type min2GradOp struct{ first bool }

func (op min2GradOp) Arity() int { return 3 }
func (op min2GradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a, a)
}
func (op min2GradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op min2GradOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(tensor.New(tensor.WithShape(in[0].Shape().Clone()...), tensor.Of(tensor.Float32)), in...)
}
func (op min2GradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	vs, err := f32s(in...)
	if err != nil {
		return nil, err
	}
	d, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	for i := range d {
		if (vs[0][i] <= vs[1][i]) == op.first {
			d[i] = vs[2][i]
		} else {
			d[i] = 0
		}
	}
	return prealloc, nil
}
func (op min2GradOp) ReturnsPtr() bool      { return false }
func (op min2GradOp) CallsExtern() bool     { return false }
func (op min2GradOp) OverwritesInput() int  { return -1 }
func (op min2GradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "Min2Grad{%v}", op.first) }
func (op min2GradOp) Hashcode() uint32      { return hashOf(op) }
func (op min2GradOp) String() string        { return fmt.Sprintf("Min2Grad{%v}", op.first) }

func shapeOf(d G.DimSizer) (tensor.Shape, error) {
	s, ok := d.(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("models: expected a tensor.Shape, got %T", d)
	}
	return s.Clone(), nil
}

func f32(v G.Value) ([]float32, error) {
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("models: expected a tensor, got %T", v)
	}
	d, ok := t.Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("models: expected float32 data, got %T", t.Data())
	}
	return d, nil
}

func f32s(vs ...G.Value) ([][]float32, error) {
	out := make([][]float32, len(vs))
	for i, v := range vs {
		d, err := f32(v)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
