package models

import (
	"fmt"
	"hash"
	"math"
	"runtime"
	"sync"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Row-wise ops on [rows, cols] matrices with per-column parameters [1, cols]
// (bias add, LayerNorm with its affine part). Gorgonia's broadcasting ops
// materialise the repeated row and reduce it again in the backward pass;
// these work in place on the rows, and split large matrices across cores.

// rowOp is a float32 op whose output has the shape of its first input
// (or [1, cols] when colOut), computed by fn.
type rowOp struct {
	name   string
	arity  int
	colOut bool
	eps    float32
	fn     func(op *rowOp, out []float32, in [][]float32, rows, cols int)
	diff   func(op *rowOp, in G.Nodes, out, grad *G.Node) (G.Nodes, error)
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
	op.fn(op, out, vs, s[0], s[1])
	return prealloc, nil
}
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

// parallelRows runs f over row ranges, on all cores when the matrix is big
// enough to pay for the goroutines.
func parallelRows(rows, cols int, f func(r0, r1 int)) {
	n := runtime.GOMAXPROCS(0)
	if n < 2 || rows*cols < 1<<14 || rows < 2 {
		f(0, rows)
		return
	}
	n = min(n, rows)
	var wg sync.WaitGroup
	per := (rows + n - 1) / n
	for r := 0; r < rows; r += per {
		wg.Add(1)
		go func(r0, r1 int) {
			defer wg.Done()
			f(r0, r1)
		}(r, min(r+per, rows))
	}
	wg.Wait()
}

// AddRow is x + b with b [1, cols] added to every row.
func AddRow(x, b *G.Node) (*G.Node, error) { return G.ApplyOp(addRowOp, x, b) }

var addRowOp = &rowOp{name: "AddRow", arity: 2,
	fn: func(_ *rowOp, y []float32, in [][]float32, rows, cols int) {
		x, b := in[0], in[1]
		parallelRows(rows, cols, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
				for j, v := range xr {
					yr[j] = v + b[j]
				}
			}
		})
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
		acc := make([]float64, cols)
		g := in[0]
		for r := 0; r < rows; r++ {
			for j, v := range g[r*cols : (r+1)*cols] {
				acc[j] += float64(v)
			}
		}
		for j := range y {
			y[j] = float32(acc[j])
		}
	},
}

// LayerNormAffine is torch's nn.LayerNorm over the last axis:
// γ·(x − mean)/sqrt(var + eps) + β, var biased.
func LayerNormAffine(x, gamma, beta *G.Node, eps float32) (*G.Node, error) {
	if x.Shape().Dims() != 2 {
		return nil, fmt.Errorf("models: LayerNormAffine wants a matrix, got shape %v", x.Shape())
	}
	return G.ApplyOp(&rowOp{name: "LayerNorm", arity: 3, eps: eps, fn: layerNormFwd, diff: layerNormDiff}, x, gamma, beta)
}

func layerNormFwd(op *rowOp, y []float32, in [][]float32, rows, cols int) {
	x, g, b := in[0], in[1], in[2]
	parallelRows(rows, cols, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
			mean, rstd := rowStats(xr, op.eps)
			for j, v := range xr {
				yr[j] = (v-mean)*rstd*g[j] + b[j]
			}
		}
	})
}

func layerNormDiff(op *rowOp, in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&rowOp{name: "LayerNormGradX", arity: 3, eps: op.eps, fn: layerNormGradX}, in[0], in[1], grad)
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
	x, g, dy := in[0], in[1], in[2]
	parallelRows(rows, cols, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			xr, dyr, dxr := x[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
			mean, rstd := rowStats(xr, op.eps)
			var mh, mhx float64
			for j, v := range xr {
				h := float64(dyr[j]) * float64(g[j])
				mh += h
				mhx += h * float64((v-mean)*rstd)
			}
			mh /= float64(cols)
			mhx /= float64(cols)
			for j, v := range xr {
				h := float64(dyr[j]) * float64(g[j])
				dxr[j] = rstd * float32(h-mh-float64((v-mean)*rstd)*mhx)
			}
		}
	})
}

// layerNormGradGamma: dγ_j = Σ_rows dy·x̂.
func layerNormGradGamma(op *rowOp, dg []float32, in [][]float32, rows, cols int) {
	x, dy := in[0], in[1]
	acc := make([]float64, cols)
	for r := 0; r < rows; r++ {
		xr, dyr := x[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols]
		mean, rstd := rowStats(xr, op.eps)
		for j, v := range xr {
			acc[j] += float64(dyr[j]) * float64((v-mean)*rstd)
		}
	}
	for j := range dg {
		dg[j] = float32(acc[j])
	}
}

// SiLUFast is SiLU split across cores for large inputs.
func siluRows(x, y []float32) {
	parallelRows(len(x)/256+1, 256, func(r0, r1 int) {
		lo, hi := min(r0*256, len(x)), min(r1*256, len(x))
		for i := lo; i < hi; i++ {
			v := x[i]
			y[i] = v / (1 + float32(math.Exp(float64(-v))))
		}
	})
}

// siluGradRows: d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))); σ = y/x when x ≠ 0
// would lose precision near 0, so σ is recomputed.
func siluGradRows(x, dy, dx []float32) {
	parallelRows(len(x)/256+1, 256, func(r0, r1 int) {
		lo, hi := min(r0*256, len(x)), min(r1*256, len(x))
		for i := lo; i < hi; i++ {
			v := x[i]
			s := 1 / (1 + float32(math.Exp(float64(-v))))
			dx[i] = dy[i] * s * (1 + v*(1-s))
		}
	})
}
