package models

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestSplitOpsMatchWhole: the elementwise and row ops split large inputs
// across the cores; every value must be bit-identical to one pass over the
// whole input (vector bodies and scalar tails on the same elements), so a
// run does not depend on the core count.
func TestSplitOpsMatchWhole(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // the split depends on GOMAXPROCS
	}
	const rows, cols = 301, 259 // 77,959 values: several pieces, odd tails
	rng := rand.New(rand.NewPCG(7, 7))
	mat := func(r, c int) []float32 {
		d := make([]float32, r*c)
		for i := range d {
			d[i] = float32(3 * rng.NormFloat64())
		}
		return d
	}
	dense := func(d []float32, r, c int) *tensor.Dense {
		return tensor.New(tensor.WithShape(r, c), tensor.WithBacking(d))
	}
	x, y, dy := mat(rows, cols), mat(rows, cols), mat(rows, cols)
	bias, gamma, beta := mat(1, cols), mat(1, cols), mat(1, cols)
	for _, fn := range []*elemFn{siluFn, tanhFn, tanhLogJacFn, clampFn(-1, 2)} {
		want := make([]float32, len(x))
		fn.fwd(x, want)
		got, err := (&elemOp{fn}).UsePreallocDo(dense(make([]float32, len(x)), rows, cols), dense(x, rows, cols))
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, fn.name, got.Data().([]float32), want)

		fn.bwd(x, y, dy, want)
		got, err = (&elemGradOp{fn}).UsePreallocDo(dense(make([]float32, len(x)), rows, cols),
			dense(x, rows, cols), dense(y, rows, cols), dense(dy, rows, cols))
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, fn.name+"Grad", got.Data().([]float32), want)
	}
	ln := &rowOp{name: "LayerNorm", arity: 3, rowwise: true, eps: LayerNormEps, fn: layerNormFwd}
	lnx := &rowOp{name: "LayerNormGradX", arity: 3, rowwise: true, eps: LayerNormEps, fn: layerNormGradX}
	for _, tc := range []struct {
		op *rowOp
		in [][]float32
	}{
		{addRowOp, [][]float32{x, bias}},
		{ln, [][]float32{x, gamma, beta}},
		{lnx, [][]float32{x, gamma, dy}},
	} {
		want := make([]float32, len(x))
		tc.op.fn(tc.op, want, tc.in, rows, cols)
		var in []G.Value
		for _, v := range tc.in {
			in = append(in, dense(v, len(v)/cols, cols))
		}
		got, err := tc.op.UsePreallocDo(dense(make([]float32, len(x)), rows, cols), in...)
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, tc.op.name, got.Data().([]float32), want)
	}
}

// TestSplitImageOpsMatchWhole: Dropout, the spatial embeddings and their
// kernel gradient split across the cores, bit-identical to one pass.
func TestSplitImageOpsMatchWhole(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	const b, c = 37, 96 // a ragged batch
	rng := rand.New(rand.NewPCG(9, 9))
	vec := func(n int) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
		return d
	}
	for _, shape := range [][2]int{{16, 8}, {9, 5}} { // HW, F: the SAC shape's AVX2 kernels, the plain loops
		hw, f := shape[0], shape[1]
		x, k, dy := vec(b*c*hw), vec(c*hw*f), vec(b*c*f)
		got, want := make([]float32, b*c*f), make([]float32, b*c*f)
		spatialForward(x, k, got, b, c, hw, f)
		spatialForwardRows(x, k, want, c, hw, f, 0, b)
		sameBits(t, "SpatialEmbeddings", got, want)
		gotK, wantK := make([]float32, c*hw*f), make([]float32, c*hw*f)
		spatialDk(x, dy, gotK, b, c, hw, f)
		spatialDkChannels(x, dy, wantK, b, c, hw, f, 0, c)
		sameBits(t, "SpatialEmbeddingsGradKernel", gotK, wantK)
	}
	x := vec(b * c * 16)
	got, want := make([]float32, len(x)), make([]float32, len(x))
	dropout(x, got, 0.1, 12345)
	dropoutRange(x, want, 0.1, 12345, 0, len(x))
	sameBits(t, "Dropout", got, want)
}

// sameBits fails t unless got and want are bit-identical.
func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d]: split %g, whole %g", name, i, got[i], want[i])
		}
	}
}
