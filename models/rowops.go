package models

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"

	"github.com/e2hil/e2hil/internal/par"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Row-wise ops on [rows, cols] matrices with per-column parameters [1, cols]
// (bias add, LayerNorm with its affine part). Gorgonia's broadcasting ops
// materialise the repeated row and reduce it again in the backward pass;
// these work on the rows in place, with the vectorised kernels of
// kernels.go.

// rowOp is a float32 op whose output has the shape of its first input
// (or [1, cols] when colOut), computed by fn.
type rowOp struct {
	name   string
	arity  int
	colOut bool
	// rowwise: each output row depends on the same input rows only (and on
	// [1, cols] parameters), so large inputs are split by rows across the
	// cores; reductions over rows (colOut) never are.
	rowwise bool
	eps     float32
	fn      func(op *rowOp, out []float32, in [][]float32, rows, cols int)
	diff    func(op *rowOp, in G.Nodes, out, grad *G.Node) (G.Nodes, error)
}

func (op *rowOp) Arity() int { return op.arity }
func (op *rowOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, op.arity+1)
	for i := range ts {
		ts[i] = a
	}
	return hm.NewFnType(ts...)
}
func (op *rowOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if op.colOut {
		return tensor.Shape{1, s[1]}, nil
	}
	return s, nil
}
func (op *rowOp) Do(in ...G.Value) (G.Value, error) {
	s := in[0].Shape().Clone()
	if op.colOut {
		s = tensor.Shape{1, s[1]}
	}
	return op.UsePreallocDo(tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32)), in...)
}
func (op *rowOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	vs, err := f32s(in...)
	if err != nil {
		return nil, err
	}
	out, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	if len(s) != 2 {
		return nil, fmt.Errorf("models: %s wants a matrix, got shape %v", op.name, s)
	}
	rows, cols := s[0], s[1]
	if !op.rowwise || op.colOut {
		op.fn(op, out, vs, rows, cols)
		return prealloc, nil
	}
	par.For(rows, 1, max(1, splitGrain/max(1, cols)), func(lo, hi int) {
		var part [4][]float32
		for i, v := range vs {
			if len(v) == rows*cols { // a row-shaped input; [1, cols] ones are whole
				v = v[lo*cols : hi*cols]
			}
			part[i] = v
		}
		op.fn(op, out[lo*cols:hi*cols], part[:len(vs)], hi-lo, cols)
	})
	return prealloc, nil
}

// splitGrain is the fewest values a piece of a split row or elementwise op
// gets (about 10 µs of work: below it the split costs more than it saves).
const splitGrain = 1 << 14

func (op *rowOp) ReturnsPtr() bool      { return false }
func (op *rowOp) CallsExtern() bool     { return false }
func (op *rowOp) OverwritesInput() int  { return -1 }
func (op *rowOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s{%g}", op.name, op.eps) }
func (op *rowOp) Hashcode() uint32      { return hashOf(op) }
func (op *rowOp) String() string        { return op.name }
func (op *rowOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = op.diff != nil
	}
	return d
}
func (op *rowOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if op.diff == nil {
		return nil, fmt.Errorf("models: %s is not differentiable", op.name)
	}
	return op.diff(op, in, out, grad)
}

// AddRow is x + b with b [1, cols] added to every row.
func AddRow(x, b *G.Node) (*G.Node, error) { return G.ApplyOp(addRowOp, x, b) }

var addRowOp = &rowOp{name: "AddRow", arity: 2, rowwise: true,
	fn: func(_ *rowOp, y []float32, in [][]float32, rows, cols int) {
		addRowKernel(in[0], in[1], y, rows, cols)
	},
	diff: func(_ *rowOp, in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		db, err := G.ApplyOp(colSumOp, grad)
		return G.Nodes{grad, db}, err
	},
}

// colSumOp sums a matrix's rows into [1, cols] (the gradient of a row
// broadcast), accumulating in float64.
var colSumOp = &rowOp{name: "ColSum", arity: 1, colOut: true,
	fn: func(_ *rowOp, y []float32, in [][]float32, rows, cols int) {
		colSumKernel(in[0], y, rows, cols)
	},
}

// LayerNormAffine is torch's nn.LayerNorm over the last axis:
// γ·(x − mean)/sqrt(var + eps) + β, var biased.
func LayerNormAffine(x, gamma, beta *G.Node, eps float32) (*G.Node, error) {
	if x.Shape().Dims() != 2 {
		return nil, fmt.Errorf("models: LayerNormAffine wants a matrix, got shape %v", x.Shape())
	}
	return G.ApplyOp(&rowOp{name: "LayerNorm", arity: 3, rowwise: true, eps: eps, fn: layerNormFwd, diff: layerNormDiff}, x, gamma, beta)
}

func layerNormFwd(op *rowOp, y []float32, in [][]float32, rows, cols int) {
	layerNormKernel(in[0], in[1], in[2], y, rows, cols, op.eps)
}

func layerNormDiff(op *rowOp, in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&rowOp{name: "LayerNormGradX", arity: 3, rowwise: true, eps: op.eps, fn: layerNormGradX}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dg, err := G.ApplyOp(&rowOp{name: "LayerNormGradGamma", arity: 2, colOut: true, eps: op.eps, fn: layerNormGradGamma}, in[0], grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(colSumOp, grad)
	return G.Nodes{dx, dg, db}, err
}

// layerNormGradX: with x̂ the normalised row and h = γ·dy,
// dx = rstd·(h − mean(h) − x̂·mean(h·x̂)).
func layerNormGradX(op *rowOp, dx []float32, in [][]float32, rows, cols int) {
	layerNormGradXKernel(in[0], in[1], in[2], dx, rows, cols, op.eps)
}

// layerNormGradGamma: dγ_j = Σ_rows dy·x̂.
func layerNormGradGamma(op *rowOp, dg []float32, in [][]float32, rows, cols int) {
	layerNormGradGammaKernel(in[0], in[1], dg, rows, cols, op.eps)
}

// ConcatCols joins [rows, a] and [rows, b] into [rows, a+b] (the critic's
// [latent, action] input); Gorgonia's Concat walks both with a generic
// iterator.
func ConcatCols(x, y *G.Node) (*G.Node, error) {
	if x.Shape().Dims() != 2 || y.Shape().Dims() != 2 || x.Shape()[0] != y.Shape()[0] {
		return nil, fmt.Errorf("models: ConcatCols of shapes %v and %v", x.Shape(), y.Shape())
	}
	return G.ApplyOp(&concatColsOp{a: x.Shape()[1], b: y.Shape()[1]}, x, y)
}

type concatColsOp struct{ a, b int }

func (op *concatColsOp) Arity() int { return 2 }
func (op *concatColsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op *concatColsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[0], op.a + op.b}, nil
}
func (op *concatColsOp) Do(in ...G.Value) (G.Value, error) {
	rows := in[0].Shape()[0]
	return op.UsePreallocDo(tensor.New(tensor.WithShape(rows, op.a+op.b), tensor.Of(tensor.Float32)), in...)
}
func (op *concatColsOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	vs, err := f32s(in...)
	if err != nil {
		return nil, err
	}
	out, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	w := op.a + op.b
	for r := 0; r < in[0].Shape()[0]; r++ {
		copy(out[r*w:r*w+op.a], vs[0][r*op.a:(r+1)*op.a])
		copy(out[r*w+op.a:(r+1)*w], vs[1][r*op.b:(r+1)*op.b])
	}
	return prealloc, nil
}
func (op *concatColsOp) ReturnsPtr() bool      { return false }
func (op *concatColsOp) CallsExtern() bool     { return false }
func (op *concatColsOp) OverwritesInput() int  { return -1 }
func (op *concatColsOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "ConcatCols{%d,%d}", op.a, op.b) }
func (op *concatColsOp) Hashcode() uint32      { return hashOf(op) }
func (op *concatColsOp) String() string        { return fmt.Sprintf("ConcatCols{%d,%d}", op.a, op.b) }
func (op *concatColsOp) DiffWRT(int) []bool    { return []bool{true, true} }
func (op *concatColsOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&colsOp{from: 0, to: op.a, width: op.a + op.b}, grad)
	if err != nil {
		return nil, err
	}
	dy, err := G.ApplyOp(&colsOp{from: op.a, to: op.a + op.b, width: op.a + op.b}, grad)
	return G.Nodes{dx, dy}, err
}

// colsOp takes columns [from, to) of a [rows, width] matrix.
type colsOp struct{ from, to, width int }

func (op *colsOp) Arity() int { return 1 }
func (op *colsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *colsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[0], op.to - op.from}, nil
}
func (op *colsOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(tensor.New(tensor.WithShape(in[0].Shape()[0], op.to-op.from), tensor.Of(tensor.Float32)), in...)
}
func (op *colsOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	x, err := f32(in[0])
	if err != nil {
		return nil, err
	}
	out, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	n := op.to - op.from
	for r := 0; r < in[0].Shape()[0]; r++ {
		copy(out[r*n:(r+1)*n], x[r*op.width+op.from:r*op.width+op.to])
	}
	return prealloc, nil
}
func (op *colsOp) ReturnsPtr() bool     { return false }
func (op *colsOp) CallsExtern() bool    { return false }
func (op *colsOp) OverwritesInput() int { return -1 }
func (op *colsOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "Cols{%d,%d,%d}", op.from, op.to, op.width)
}
func (op *colsOp) Hashcode() uint32   { return hashOf(op) }
func (op *colsOp) String() string     { return fmt.Sprintf("Cols{%d:%d}", op.from, op.to) }
func (op *colsOp) DiffWRT(int) []bool { return []bool{false} }
func (op *colsOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("models: Cols is a gradient op and is not differentiated")
}

// RepeatRows repeats each row of a [rows, cols] matrix k times in place
// order ([r0×k, r1×k, …]), for forward-only graphs (E2HiL's K policy
// samples per state share that state's latent, mean and std).
func RepeatRows(x *G.Node, k int) (*G.Node, error) {
	if x.Shape().Dims() != 2 || k < 1 {
		return nil, fmt.Errorf("models: RepeatRows of shape %v, k %d", x.Shape(), k)
	}
	return G.ApplyOp(&repeatRowsOp{k: k}, x)
}

type repeatRowsOp struct{ k int }

func (op *repeatRowsOp) Arity() int { return 1 }
func (op *repeatRowsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *repeatRowsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[0] * op.k, s[1]}, nil
}
func (op *repeatRowsOp) Do(in ...G.Value) (G.Value, error) {
	s := in[0].Shape()
	return op.UsePreallocDo(tensor.New(tensor.WithShape(s[0]*op.k, s[1]), tensor.Of(tensor.Float32)), in...)
}
func (op *repeatRowsOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	x, err := f32(in[0])
	if err != nil {
		return nil, err
	}
	out, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	rows, cols := in[0].Shape()[0], in[0].Shape()[1]
	for r := 0; r < rows; r++ {
		src := x[r*cols : (r+1)*cols]
		for j := 0; j < op.k; j++ {
			copy(out[(r*op.k+j)*cols:], src)
		}
	}
	return prealloc, nil
}
func (op *repeatRowsOp) ReturnsPtr() bool      { return false }
func (op *repeatRowsOp) CallsExtern() bool     { return false }
func (op *repeatRowsOp) OverwritesInput() int  { return -1 }
func (op *repeatRowsOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "RepeatRows{%d}", op.k) }
func (op *repeatRowsOp) Hashcode() uint32      { return hashOf(op) }
func (op *repeatRowsOp) String() string        { return fmt.Sprintf("RepeatRows{%d}", op.k) }
func (op *repeatRowsOp) DiffWRT(int) []bool    { return []bool{false} }
func (op *repeatRowsOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("models: RepeatRows is forward-only")
}
