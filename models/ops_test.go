package models

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// fdCheck compares Gorgonia's gradient of sum(f(inputs)·w) (w random) with
// central finite differences, for every element of every input.
func fdCheck(t *testing.T, name string, shapes [][]int, gen func(rng *rand.Rand) float32, f func(in ...*G.Node) *G.Node) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([][]float32, len(shapes))
	for i, s := range shapes {
		n := 1
		for _, d := range s {
			n *= d
		}
		vals[i] = make([]float32, n)
		for j := range vals[i] {
			vals[i][j] = gen(rng)
		}
	}
	// loss evaluates the scalar objective (forward only) at vals.
	var weights []float32
	build := func(withGrad bool) (float64, [][]float32) {
		g := G.NewGraph()
		nodes := make(G.Nodes, len(shapes))
		for i, s := range shapes {
			tv := tensor.New(tensor.WithShape(s...), tensor.WithBacking(append([]float32(nil), vals[i]...)))
			nodes[i] = G.NodeFromAny(g, tv, G.WithName(string(rune('a'+i))))
		}
		out := f(nodes...)
		if weights == nil {
			weights = make([]float32, out.Shape().TotalSize())
			for j := range weights {
				weights[j] = float32(rng.Float64()*2 - 1)
			}
		}
		w := G.NodeFromAny(g, tensor.New(tensor.WithShape(out.Shape().Clone()...), tensor.WithBacking(append([]float32(nil), weights...))), G.WithName("w"))
		loss := G.Must(G.Sum(G.Must(G.HadamardProd(out, w))))
		if withGrad {
			if _, err := G.Grad(loss, nodes...); err != nil {
				t.Fatalf("%s: grad: %v", name, err)
			}
		}
		vm := G.NewTapeMachine(g, G.BindDualValues(nodes...))
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatalf("%s: run: %v", name, err)
		}
		var grads [][]float32
		if withGrad {
			for _, n := range nodes {
				gv, err := n.Grad()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				grads = append(grads, append([]float32(nil), gv.Data().([]float32)...))
			}
		}
		return float64(loss.Value().Data().(float32)), grads
	}
	_, grads := build(true)
	const eps = 1e-2
	for i := range vals {
		for j := range vals[i] {
			orig := vals[i][j]
			vals[i][j] = orig + eps
			up, _ := build(false)
			vals[i][j] = orig - eps
			down, _ := build(false)
			vals[i][j] = orig
			num := (up - down) / (2 * eps)
			if d := math.Abs(num - float64(grads[i][j])); d > 2e-3*math.Max(1, math.Abs(num)) {
				t.Errorf("%s: d/dinput%d[%d]: autodiff %.6g, finite difference %.6g", name, i, j, grads[i][j], num)
			}
		}
	}
}

func normal(rng *rand.Rand) float32 { return float32(rng.NormFloat64()) }

func TestOpGradientsFiniteDifference(t *testing.T) {
	fdCheck(t, "SiLU", [][]int{{3, 4}}, normal, func(in ...*G.Node) *G.Node { return G.Must(SiLU(in[0])) })
	fdCheck(t, "Tanh", [][]int{{3, 4}}, normal, func(in ...*G.Node) *G.Node { return G.Must(Tanh(in[0])) })
	fdCheck(t, "TanhLogJacobian", [][]int{{3, 4}}, func(r *rand.Rand) float32 { return 3 * normal(r) },
		func(in ...*G.Node) *G.Node { return G.Must(TanhLogJacobian(in[0])) })
	// Clamp: keep values away from the kinks (the FD step would straddle them).
	fdCheck(t, "Clamp", [][]int{{4, 5}}, func(r *rand.Rand) float32 {
		v := 2 * normal(r)
		if math.Abs(math.Abs(float64(v))-1) < 0.05 {
			v *= 1.2
		}
		return v
	}, func(in ...*G.Node) *G.Node { return G.Must(Clamp(in[0], -1, 1)) })
	fdCheck(t, "Normalize", [][]int{{3, 6}}, normal, func(in ...*G.Node) *G.Node { return G.Must(Normalize(in[0], 1e-5)) })
	fdCheck(t, "Min2", [][]int{{5, 1}, {5, 1}}, normal, func(in ...*G.Node) *G.Node { return G.Must(Min2(in[0], in[1])) })
	fdCheck(t, "ConcatCols", [][]int{{3, 4}, {3, 2}}, normal, func(in ...*G.Node) *G.Node { return G.Must(ConcatCols(in[0], in[1])) })
	fdCheck(t, "AddRow", [][]int{{3, 4}, {1, 4}}, normal, func(in ...*G.Node) *G.Node { return G.Must(AddRow(in[0], in[1])) })
	fdCheck(t, "LayerNormAffine", [][]int{{3, 6}, {1, 6}, {1, 6}}, normal, func(in ...*G.Node) *G.Node {
		return G.Must(LayerNormAffine(in[0], in[1], in[2], 1e-5))
	})

}

func TestOpForwardValues(t *testing.T) {
	cases := []struct {
		name string
		f    func(x *G.Node) *G.Node
		x    []float32
		want func(x float64) float64
	}{
		{"SiLU", func(x *G.Node) *G.Node { return G.Must(SiLU(x)) }, []float32{-3, -0.5, 0, 0.7, 4},
			func(x float64) float64 { return x / (1 + math.Exp(-x)) }},
		{"TanhLogJacobian", func(x *G.Node) *G.Node { return G.Must(TanhLogJacobian(x)) }, []float32{-30, -2, 0, 0.3, 5, 40},
			func(x float64) float64 { // the naive formula, in float64, where it is still accurate
				if math.Abs(x) > 15 {
					return 2 * (math.Ln2 - math.Abs(x))
				}
				th := math.Tanh(x)
				return math.Log(1 - th*th)
			}},
		{"Clamp", func(x *G.Node) *G.Node { return G.Must(Clamp(x, -1, 2)) }, []float32{-5, -1, 0.5, 2, 9},
			func(x float64) float64 { return math.Max(-1, math.Min(2, x)) }},
	}
	for _, tc := range cases {
		g := G.NewGraph()
		x := G.NodeFromAny(g, tensor.New(tensor.WithShape(1, len(tc.x)), tensor.WithBacking(tc.x)))
		y := tc.f(x)
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		got := y.Value().Data().([]float32)
		for i, v := range tc.x {
			if w := tc.want(float64(v)); math.Abs(float64(got[i])-w) > 1e-5*math.Max(1, math.Abs(w)) {
				t.Errorf("%s(%g) = %g, want %g", tc.name, v, got[i], w)
			}
		}
		vm.Close()
	}
}

func TestNormalizeMatchesLayerNorm(t *testing.T) {
	x := []float32{1, 2, 3, 4, -1, 0, 1, 10}
	g := G.NewGraph()
	n := G.NodeFromAny(g, tensor.New(tensor.WithShape(2, 4), tensor.WithBacking(x)))
	y := G.Must(Normalize(n, 1e-5))
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	got := y.Value().Data().([]float32)
	for r := 0; r < 2; r++ {
		row := x[r*4 : r*4+4]
		var m, v float64
		for _, e := range row {
			m += float64(e) / 4
		}
		for _, e := range row {
			v += (float64(e) - m) * (float64(e) - m) / 4
		}
		for i, e := range row {
			want := (float64(e) - m) / math.Sqrt(v+1e-5)
			if math.Abs(float64(got[r*4+i])-want) > 1e-6 {
				t.Errorf("row %d[%d] = %g, want %g", r, i, got[r*4+i], want)
			}
		}
	}
}

// TestRowKernelsMatchRowByRow: on a large matrix every row kernel gives
// exactly what it gives one row at a time (no cross-row mixing, no
// vector-tail bugs).
func TestRowKernelsMatchRowByRow(t *testing.T) {
	const rows, cols = 130, 128
	rng := rand.New(rand.NewPCG(3, 3))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = normal(rng)
		}
		return v
	}
	x, dy, g, b := vec(rows*cols), vec(rows*cols), vec(cols), vec(cols)
	op := &rowOp{eps: 1e-5}
	for _, c := range []struct {
		name string
		f    func(out []float32, x, dy []float32, rows int)
	}{
		{"LayerNorm", func(out, x, _ []float32, r int) { layerNormFwd(op, out, [][]float32{x, g, b}, r, cols) }},
		{"LayerNormGradX", func(out, x, dy []float32, r int) { layerNormGradX(op, out, [][]float32{x, g, dy}, r, cols) }},
		{"AddRow", func(out, x, _ []float32, r int) { addRowOp.fn(addRowOp, out, [][]float32{x, b}, r, cols) }},
		{"SiLU", func(out, x, _ []float32, r int) { siluRows(x, out) }},
		{"SiLUGrad", func(out, x, dy []float32, r int) { siluGradRows(x, dy, out) }},
	} {
		full := make([]float32, rows*cols)
		c.f(full, x, dy, rows)
		for r := 0; r < rows; r++ {
			one := make([]float32, cols)
			c.f(one, x[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], 1)
			for j := range one {
				if one[j] != full[r*cols+j] {
					t.Fatalf("%s: row %d col %d: %v split, %v alone", c.name, r, j, full[r*cols+j], one[j])
				}
			}
		}
	}
}
