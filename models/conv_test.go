package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// refConv is the direct nested-loop convolution, in float64.
func refConv(x, w []float32, n, c, h, wd, o, kh, kw, s, p int) ([]float64, int, int) {
	ho, wo := (h+2*p-kh)/s+1, (wd+2*p-kw)/s+1
	y := make([]float64, n*o*ho*wo)
	for b := range n {
		for oc := range o {
			for i := range ho {
				for j := range wo {
					var acc float64
					for ic := range c {
						for ki := range kh {
							for kj := range kw {
								ih, iw := i*s-p+ki, j*s-p+kj
								if ih < 0 || ih >= h || iw < 0 || iw >= wd {
									continue
								}
								acc += float64(x[((b*c+ic)*h+ih)*wd+iw]) * float64(w[((oc*c+ic)*kh+ki)*kw+kj])
							}
						}
					}
					y[((b*o+oc)*ho+i)*wo+j] = acc
				}
			}
		}
	}
	return y, ho, wo
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = normal(rng)
	}
	return v
}

// run builds out = f(inputs) on fresh nodes and returns its value.
func run(t testing.TB, shapes [][]int, vals [][]float32, f func(in ...*G.Node) (*G.Node, error)) []float32 {
	t.Helper()
	g := G.NewGraph()
	nodes := make(G.Nodes, len(shapes))
	for i, s := range shapes {
		nodes[i] = G.NodeFromAny(g, tensor.New(tensor.WithShape(s...), tensor.WithBacking(vals[i])), G.WithName(fmt.Sprint("in", i)))
	}
	out, err := f(nodes...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), out.Value().Data().([]float32)...)
}

func TestConv2dMatchesReference(t *testing.T) {
	cases := []struct{ n, c, h, w, o, k, s, p int }{
		{1, 1, 5, 5, 1, 3, 1, 0},
		{2, 3, 9, 7, 4, 3, 1, 1},
		{3, 4, 8, 8, 5, 3, 2, 1},
		{2, 3, 17, 16, 6, 7, 2, 3}, // the stem's 7×7/2 pad 3
		{2, 5, 6, 6, 3, 1, 1, 0},
		{2, 5, 7, 7, 3, 1, 2, 0}, // 1×1/2 projection shortcut
		{1, 2, 4, 4, 2, 3, 2, 1},
		{1, 2, 10, 11, 3, 3, 3, 1}, // stride 3: the generic strided loops
		{2, 2, 3, 3, 2, 7, 2, 3},   // kernel wider than the image
		// Larger: several panels of 32 pixels split across goroutines, O
		// not a multiple of 8, NCHW output written directly (Ho·Wo = 256,
		// 64) or through the CNHW shuffle (Ho·Wo = 72, 16), K cut in blocks.
		{3, 5, 16, 16, 20, 3, 1, 1},
		{4, 16, 17, 15, 12, 3, 2, 1},
		{2, 8, 32, 32, 64, 7, 4, 3},
		{5, 120, 8, 8, 9, 3, 2, 1}, // K = 1080: two K blocks
		{1, 7, 13, 11, 33, 3, 1, 1},
		{2, 3, 32, 32, 8, 3, 1, 1}, // stride 1, Wo = 32: a panel is one row, read with masked loads
		{3, 4, 6, 40, 8, 1, 1, 0},  // 1×1/1: panels contiguous across rows
		{2, 3, 64, 64, 8, 7, 2, 3}, // the stem's shape: a panel is one row at stride 2
		{2, 3, 63, 65, 8, 3, 2, 0}, // Wo = 32 at stride 2, last window at the right edge
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range cases {
		for _, v512 := range isas(t) {
			setAVX512(v512)
			name := fmt.Sprintf("%+v avx512=%v", tc, v512)
			x, w := randVec(rng, tc.n*tc.c*tc.h*tc.w), randVec(rng, tc.o*tc.c*tc.k*tc.k)
			want, _, _ := refConv(x, w, tc.n, tc.c, tc.h, tc.w, tc.o, tc.k, tc.k, tc.s, tc.p)
			got := run(t, [][]int{{tc.n, tc.c, tc.h, tc.w}, {tc.o, tc.c, tc.k, tc.k}}, [][]float32{x, w},
				func(in ...*G.Node) (*G.Node, error) { return Conv2d(in[0], in[1], tc.s, tc.p) })
			if len(got) != len(want) {
				t.Fatalf("%s: %d outputs, want %d", name, len(got), len(want))
			}
			if worst := maxDiff(got, want); worst > 1e-4 {
				t.Errorf("%s: max |diff| %g > 1e-4", name, worst)
			}
		}
	}
	setAVX512(true)
}

// isas lists the kernel variants this CPU can run: the portable ones, and the
// AVX-512 ones where it has them.
func isas(t *testing.T) []bool {
	t.Cleanup(func() { setAVX512(true) })
	if setAVX512(true) {
		return []bool{false, true}
	}
	return []bool{false}
}

func maxDiff(got []float32, want []float64) float64 {
	var worst float64
	for i := range got {
		worst = math.Max(worst, math.Abs(float64(got[i])-want[i]))
	}
	return worst
}

// refConvGrad is the direct nested-loop gradient of refConv for output
// gradient dy: dx [n,c,h,w] and dw [o,c,k,k], in float64.
func refConvGrad(x, w, dy []float32, n, c, h, wd, o, k, s, p int) (dx, dw []float64) {
	ho, wo := (h+2*p-k)/s+1, (wd+2*p-k)/s+1
	dx, dw = make([]float64, n*c*h*wd), make([]float64, o*c*k*k)
	for b := range n {
		for oc := range o {
			for i := range ho {
				for j := range wo {
					g := float64(dy[((b*o+oc)*ho+i)*wo+j])
					for ic := range c {
						for ki := range k {
							for kj := range k {
								ih, iw := i*s-p+ki, j*s-p+kj
								if ih < 0 || ih >= h || iw < 0 || iw >= wd {
									continue
								}
								xi, wi := ((b*c+ic)*h+ih)*wd+iw, ((oc*c+ic)*k+ki)*k+kj
								dx[xi] += g * float64(w[wi])
								dw[wi] += g * float64(x[xi])
							}
						}
					}
				}
			}
		}
	}
	return dx, dw
}

// TestConv2dGradMatchesReference checks Conv2d's dx and dw against the
// direct loops at sizes where every GEMM is split across goroutines and cut
// in blocks (finite differences cover the small ones).
func TestConv2dGradMatchesReference(t *testing.T) {
	cases := []struct{ n, c, h, o, k, s, p int }{
		{4, 16, 16, 24, 3, 1, 1},
		{3, 20, 15, 40, 3, 2, 1},
		{6, 12, 8, 20, 1, 2, 0},
		{2, 300, 4, 16, 3, 1, 1},
		{5, 8, 20, 16, 3, 1, 1}, // 2000 pixels: dw sums two blocks of them
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range cases {
		x, w := randVec(rng, tc.n*tc.c*tc.h*tc.h), randVec(rng, tc.o*tc.c*tc.k*tc.k)
		ho := (tc.h+2*tc.p-tc.k)/tc.s + 1
		dyv := randVec(rng, tc.n*tc.o*ho*ho)
		wantDx, wantDw := refConvGrad(x, w, dyv, tc.n, tc.c, tc.h, tc.h, tc.o, tc.k, tc.s, tc.p)
		for _, v512 := range isas(t) {
			setAVX512(v512)
			name := fmt.Sprintf("%+v avx512=%v", tc, v512)
			g := G.NewGraph()
			xn := G.NodeFromAny(g, tensor.New(tensor.WithShape(tc.n, tc.c, tc.h, tc.h), tensor.WithBacking(x)), G.WithName("x"))
			wn := G.NodeFromAny(g, tensor.New(tensor.WithShape(tc.o, tc.c, tc.k, tc.k), tensor.WithBacking(w)), G.WithName("w"))
			y := G.Must(Conv2d(xn, wn, tc.s, tc.p))
			dy := G.NodeFromAny(g, tensor.New(tensor.WithShape(y.Shape().Clone()...), tensor.WithBacking(dyv)), G.WithName("dy"))
			grads, err := G.Backpropagate(G.Nodes{y}, G.Nodes{dy}, G.Nodes{xn, wn})
			if err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			for run := range 2 { // the second run reuses every scratch buffer
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				dx, dw := grads[0].Value().Data().([]float32), grads[1].Value().Data().([]float32)
				if d := maxDiff(dx, wantDx); d > 1e-3 {
					t.Errorf("%s run %d: dx max |diff| %g > 1e-3", name, run, d)
				}
				if d := maxDiff(dw, wantDw); d > 1e-3 {
					t.Errorf("%s run %d: dw max |diff| %g > 1e-3", name, run, d)
				}
				vm.Reset()
			}
			vm.Close()
		}
	}
}

// TestGemmPanels checks the panel GEMM against direct loops: shapes with
// partial tiles in every dimension, A transposed or not, accumulation, and
// the NCHW placement of C.
func TestGemmPanels(t *testing.T) {
	cases := []struct {
		m, n, k, hw int // hw < n: C is NCHW [n/hw, m, hw]
		ta, acc     bool
	}{
		{8, 32, 1, 0, false, false},
		{5, 7, 3, 0, false, false},
		{17, 65, 40, 0, true, false},
		{64, 1000, 600, 0, false, true},
		{33, 96, 1200, 32, false, false},
		{16, 256, 9, 64, true, true},
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for _, tc := range cases {
		hw := tc.hw
		if hw == 0 {
			hw = tc.n
		}
		a, b, c0 := randVec(rng, tc.m*tc.k), randVec(rng, tc.k*tc.n), randVec(rng, tc.m*tc.n)
		// want in the layout of c: index of (i, q).
		at := func(i, q int) int { return (q/hw)*tc.m*hw + i*hw + q%hw }
		want := make([]float64, tc.m*tc.n)
		for i := range tc.m {
			for q := range tc.n {
				var acc float64
				if tc.acc {
					acc = float64(c0[at(i, q)])
				}
				for l := range tc.k {
					av := a[i*tc.k+l]
					if tc.ta {
						av = a[l*tc.m+i]
					}
					acc += float64(av) * float64(b[l*tc.n+q])
				}
				want[at(i, q)] = acc
			}
		}
		for _, v512 := range isas(t) {
			setAVX512(v512)
			var apBuf []float32
			lda := tc.k
			if tc.ta {
				lda = tc.m
			}
			ap := packA(&apBuf, a, lda, tc.ta, tc.m, tc.k)
			bp := make([]float32, panelsLen(tc.k, tc.n))
			toPanels(b, tc.k, tc.n, tc.n, bp)
			c := append([]float32(nil), c0...)
			out := rowMajor(tc.n)
			if hw < tc.n {
				out = nchw(tc.m, hw)
			}
			gemmPanels(tc.m, tc.n, tc.k, ap, bp, c, out, tc.acc)
			if d := maxDiff(c, want); d > 1e-4*math.Sqrt(float64(tc.k)) {
				t.Errorf("%+v avx512=%v: max |diff| %g", tc, v512, d)
			}
		}
	}
}

// distinct returns a generator of well-separated values in random order, so
// that finite-difference steps never reorder them (max pool, ReLU kinks).
func distinct(n int, seed uint64) func(*rand.Rand) float32 {
	r := rand.New(rand.NewPCG(seed, seed))
	perm := r.Perm(n)
	i := 0
	return func(*rand.Rand) float32 {
		v := float32(perm[i%n]-n/2)*0.1 + 0.05
		i++
		return v
	}
}

func TestConvOpsGradientsFiniteDifference(t *testing.T) {
	conv := func(s, p int) func(in ...*G.Node) *G.Node {
		return func(in ...*G.Node) *G.Node { return G.Must(Conv2d(in[0], in[1], s, p)) }
	}
	fdCheck(t, "Conv2d 3x3/1 pad 1", [][]int{{2, 2, 5, 5}, {3, 2, 3, 3}}, normal, conv(1, 1))
	fdCheck(t, "Conv2d 3x3/2 pad 1", [][]int{{2, 2, 6, 5}, {2, 2, 3, 3}}, normal, conv(2, 1))
	fdCheck(t, "Conv2d 1x1/2", [][]int{{2, 3, 4, 4}, {2, 3, 1, 1}}, normal, conv(2, 0))
	fdCheck(t, "Conv2d 7x7/2 pad 3", [][]int{{1, 2, 7, 7}, {2, 2, 7, 7}}, normal, conv(2, 3))
	fdCheck(t, "Conv2d 3x3/3 pad 1", [][]int{{1, 2, 7, 8}, {2, 2, 3, 3}}, normal, conv(3, 1))
	fdCheck(t, "BatchNorm2d", [][]int{{2, 3, 2, 3}, {3}, {3}}, normal, func(in ...*G.Node) *G.Node {
		return G.Must(BatchNorm2d(in[0], in[1], in[2], 1e-5, nil))
	})
	fdCheck(t, "MaxPool2d 3x3/2 pad 1", [][]int{{2, 2, 5, 6}}, distinct(120, 7), func(in ...*G.Node) *G.Node {
		return G.Must(MaxPool2d(in[0], 3, 2, 1))
	})
	fdCheck(t, "ReLU", [][]int{{2, 3, 2, 2}}, distinct(24, 8), func(in ...*G.Node) *G.Node { return G.Must(ReLU(in[0])) })
	fdCheck(t, "Conv2d→BatchNorm2d→ReLU→MaxPool2d", [][]int{{2, 2, 6, 6}, {3, 2, 3, 3}, {3}, {3}}, normal, func(in ...*G.Node) *G.Node {
		y := G.Must(Conv2d(in[0], in[1], 1, 1))
		y = G.Must(BatchNorm2d(y, in[2], in[3], 1e-5, nil))
		return G.Must(MaxPool2d(G.Must(ReLU(y)), 3, 2, 1))
	})
}

// TestConv2dFrozenInput: the same dw as Conv2d, and no input-gradient op.
func TestConv2dFrozenInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	xv, wv := randVec(rng, 2*3*9*9), randVec(rng, 4*3*3*3)
	var dws [2][]float32
	for i, conv := range []convFn{Conv2d, Conv2dFrozenInput} {
		g := G.NewGraph()
		x := G.NodeFromAny(g, tensor.New(tensor.WithShape(2, 3, 9, 9), tensor.WithBacking(xv)), G.WithName("x"))
		w := G.NodeFromAny(g, tensor.New(tensor.WithShape(4, 3, 3, 3), tensor.WithBacking(wv)), G.WithName("w"))
		y := G.Must(conv(x, w, 2, 1))
		if _, err := G.Grad(G.Must(G.Sum(G.Must(G.Square(y)))), w); err != nil {
			t.Fatal(err)
		}
		gradX := 0
		for _, n := range g.AllNodes() {
			if strings.HasPrefix(n.Name(), "Conv2dGradX") {
				gradX++
			}
		}
		if want := 1 - i; gradX != want {
			t.Errorf("conv %d: %d input-gradient ops, want %d", i, gradX, want)
		}
		vm := G.NewTapeMachine(g, G.BindDualValues(w))
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		gv, err := w.Grad()
		if err != nil {
			t.Fatal(err)
		}
		dws[i] = append([]float32(nil), gv.Data().([]float32)...)
		vm.Close()
	}
	for i := range dws[0] {
		if dws[0][i] != dws[1][i] {
			t.Fatalf("dw[%d]: %g with Conv2d, %g with Conv2dFrozenInput", i, dws[0][i], dws[1][i])
		}
	}
}

func TestBatchNorm2dForward(t *testing.T) {
	const n, c, h, w = 3, 2, 4, 5
	rng := rand.New(rand.NewPCG(9, 9))
	x, gamma, beta := randVec(rng, n*c*h*w), randVec(rng, c), randVec(rng, c)
	for i := range x {
		x[i] = 3*x[i] + 1
	}
	stats := NewBNStats(c)
	got := run(t, [][]int{{n, c, h, w}, {c}, {c}}, [][]float32{x, gamma, beta}, func(in ...*G.Node) (*G.Node, error) {
		return BatchNorm2d(in[0], in[1], in[2], 1e-5, stats)
	})
	m := float64(n * h * w)
	var worst float64
	for ch := range c {
		var s, ss float64
		for b := range n {
			for i := range h * w {
				s += float64(x[(b*c+ch)*h*w+i])
			}
		}
		mean := s / m
		for b := range n {
			for i := range h * w {
				d := float64(x[(b*c+ch)*h*w+i]) - mean
				ss += d * d
			}
		}
		for b := range n {
			for i := range h * w {
				j := (b*c+ch)*h*w + i
				want := float64(gamma[ch])*(float64(x[j])-mean)/math.Sqrt(ss/m+1e-5) + float64(beta[ch])
				worst = math.Max(worst, math.Abs(float64(got[j])-want))
			}
		}
		if d := math.Abs(float64(stats.Mean[ch]) - 0.1*mean); d > 1e-5 {
			t.Errorf("running mean[%d] = %g, want %g", ch, stats.Mean[ch], 0.1*mean)
		}
		if wantVar := 0.9 + 0.1*ss/(m-1); math.Abs(float64(stats.Var[ch])-wantVar) > 1e-4 {
			t.Errorf("running var[%d] = %g, want %g", ch, stats.Var[ch], wantVar)
		}
	}
	t.Logf("max |diff| %.2g", worst)
	if worst > 1e-5 {
		t.Errorf("max |diff| %g > 1e-5", worst)
	}
}

func TestFoldBatchNorm(t *testing.T) {
	const n, c, h, w, o, k = 2, 3, 9, 9, 4, 3
	rng := rand.New(rand.NewPCG(11, 12))
	x, wt := randVec(rng, n*c*h*w), randVec(rng, o*c*k*k)
	gamma, beta, mean, variance := randVec(rng, o), randVec(rng, o), randVec(rng, o), randVec(rng, o)
	for i := range variance {
		variance[i] = variance[i]*variance[i] + 0.1
	}
	shapes := [][]int{{n, c, h, w}, {o, c, k, k}}
	bn := run(t, shapes, [][]float32{x, wt}, func(in ...*G.Node) (*G.Node, error) {
		y, err := Conv2d(in[0], in[1], 2, 1)
		if err != nil {
			return nil, err
		}
		return BatchNorm2dEval(y, gamma, beta, mean, variance, 1e-5)
	})
	wf, bias, err := FoldBatchNorm(wt, gamma, beta, mean, variance, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	folded := run(t, shapes, [][]float32{x, wf}, func(in ...*G.Node) (*G.Node, error) { return Conv2d(in[0], in[1], 2, 1) })
	p := len(folded) / (n * o)
	var worst float64
	for i, v := range folded {
		worst = math.Max(worst, math.Abs(float64(v+bias[(i/p)%o]-bn[i])))
	}
	t.Logf("max |diff| %.2g", worst)
	if worst > 1e-5 {
		t.Errorf("max |diff| %g > 1e-5", worst)
	}
	if _, _, err := FoldBatchNorm(wt[:5], gamma, beta, mean, variance, 1e-5); err == nil {
		t.Error("FoldBatchNorm of 5 weights into 4 channels: no error")
	}
}

func TestMaxPool2dForward(t *testing.T) {
	x := []float32{
		-1, -2, -3, -4,
		-5, -6, -7, -8,
		-9, -10, -11, -12,
		-13, -14, -15, -16,
	}
	got := run(t, [][]int{{1, 1, 4, 4}}, [][]float32{x}, func(in ...*G.Node) (*G.Node, error) { return MaxPool2d(in[0], 3, 2, 1) })
	want := []float32{-1, -2, -5, -6} // padding never wins, even over negatives
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("MaxPool2d = %v, want %v", got, want)
		}
	}
}

// resnet10Convs are the convolutions of the ResNet-10 backbone on a batch of
// 16 3×128×128 images (../shared/bench: classifier_backbone_train_step_ms).
var resnet10Convs = []struct {
	name                string
	n, c, h, o, k, s, p int
	dx                  bool // the stem's input is the image: no input gradient
}{
	{"stem7x7s2_3to64_128", 16, 3, 128, 64, 7, 2, 3, false},
	{"3x3_64to64_32", 16, 64, 32, 64, 3, 1, 1, true},
	{"3x3s2_64to128_32", 16, 64, 32, 128, 3, 2, 1, true},
	{"3x3_128to128_16", 16, 128, 16, 128, 3, 1, 1, true},
	{"1x1s2_64to128_32", 16, 64, 32, 128, 1, 2, 0, true},
	{"3x3s2_128to256_16", 16, 128, 16, 256, 3, 2, 1, true},
	{"3x3_256to256_8", 16, 256, 8, 256, 3, 1, 1, true},
	{"3x3s2_256to512_8", 16, 256, 8, 512, 3, 2, 1, true},
	{"3x3_512to512_4", 16, 512, 4, 512, 3, 1, 1, true},
}

type convFn func(x, w *G.Node, stride, pad int) (*G.Node, error)

func stockConv2d(x, w *G.Node, stride, pad int) (*G.Node, error) {
	k := w.Shape()
	return G.Conv2d(x, w, tensor.Shape{k[2], k[3]}, []int{pad, pad}, []int{stride, stride}, []int{1, 1})
}

// benchConv times one run of a tape holding conv forward, and with backward
// the gradients of w (and x if dx) from a given output gradient.
func benchConv(b *testing.B, conv convFn, n, c, h, o, k, s, p int, backward, dx bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	g := G.NewGraph()
	x := G.NodeFromAny(g, tensor.New(tensor.WithShape(n, c, h, h), tensor.WithBacking(randVec(rng, n*c*h*h))), G.WithName("x"))
	w := G.NodeFromAny(g, tensor.New(tensor.WithShape(o, c, k, k), tensor.WithBacking(randVec(rng, o*c*k*k))), G.WithName("w"))
	y, err := conv(x, w, s, p)
	if err != nil {
		b.Fatal(err)
	}
	if backward {
		dy := G.NodeFromAny(g, tensor.New(tensor.WithShape(y.Shape().Clone()...), tensor.WithBacking(randVec(rng, y.Shape().TotalSize()))), G.WithName("dy"))
		wrt := G.Nodes{w}
		if dx {
			wrt = append(wrt, x)
		}
		if _, err := G.Backpropagate(G.Nodes{y}, G.Nodes{dy}, wrt); err != nil {
			b.Fatal(err)
		}
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil { // warm-up: buffers allocated
		b.Fatal(err)
	}
	vm.Reset()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		vm.Reset()
	}
	reportTimes(b, cpu0)
}

// BenchmarkConv2d: forward and forward+backward of each ResNet-10
// convolution at batch 16 (part of classifier_backbone_train_step_ms), and
// Gorgonia's stock G.Conv2d on the 64→64 3×3 layer for comparison.
func BenchmarkConv2d(b *testing.B) {
	for _, c := range resnet10Convs {
		b.Run(c.name+"/Forward", func(b *testing.B) { benchConv(b, Conv2d, c.n, c.c, c.h, c.o, c.k, c.s, c.p, false, false) })
		conv := Conv2d
		if !c.dx {
			conv = Conv2dFrozenInput
		}
		b.Run(c.name+"/ForwardBackward", func(b *testing.B) {
			benchConv(b, conv, c.n, c.c, c.h, c.o, c.k, c.s, c.p, true, c.dx)
		})
	}
	c := resnet10Convs[1]
	b.Run("Stock/"+c.name+"/Forward", func(b *testing.B) {
		benchConv(b, stockConv2d, c.n, c.c, c.h, c.o, c.k, c.s, c.p, false, false)
	})
	b.Run("Stock/"+c.name+"/ForwardBackward", func(b *testing.B) {
		benchConv(b, stockConv2d, c.n, c.c, c.h, c.o, c.k, c.s, c.p, true, true)
	})
}

// BenchmarkReLU: ours against Gorgonia's Rectify, forward and backward, on
// the stem's output (16×64×64×64).
func BenchmarkReLU(b *testing.B) {
	for _, c := range []struct {
		name string
		f    func(*G.Node) (*G.Node, error)
	}{{"Ours", ReLU}, {"Rectify", G.Rectify}} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			g := G.NewGraph()
			s := []int{16, 64, 64, 64}
			x := G.NodeFromAny(g, tensor.New(tensor.WithShape(s...), tensor.WithBacking(randVec(rng, 16*64*64*64))), G.WithName("x"))
			y, err := c.f(x)
			if err != nil {
				b.Fatal(err)
			}
			dy := G.NodeFromAny(g, tensor.New(tensor.WithShape(s...), tensor.WithBacking(randVec(rng, 16*64*64*64))), G.WithName("dy"))
			if _, err := G.Backpropagate(G.Nodes{y}, G.Nodes{dy}, G.Nodes{x}); err != nil {
				b.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			b.ResetTimer()
			for range b.N {
				if err := vm.RunAll(); err != nil {
					b.Fatal(err)
				}
				vm.Reset()
			}
		})
	}
}

// TestConvOpsSplitMatchesSerial: the work split across goroutines gives the
// same bits as one goroutine, forward and backward, at sizes above every
// split threshold.
func TestConvOpsSplitMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	x, w := randVec(rng, 4*16*40*40), randVec(rng, 16*16*3*3)
	gamma, beta := randVec(rng, 16), randVec(rng, 16)
	dyv := randVec(rng, 4*16*20*20)
	results := func() [][]float32 {
		g := G.NewGraph()
		xn := G.NodeFromAny(g, tensor.New(tensor.WithShape(4, 16, 40, 40), tensor.WithBacking(x)), G.WithName("x"))
		wn := G.NodeFromAny(g, tensor.New(tensor.WithShape(16, 16, 3, 3), tensor.WithBacking(w)), G.WithName("w"))
		gn := G.NodeFromAny(g, tensor.New(tensor.WithShape(16), tensor.WithBacking(gamma)), G.WithName("g"))
		bn := G.NodeFromAny(g, tensor.New(tensor.WithShape(16), tensor.WithBacking(beta)), G.WithName("b"))
		y := G.Must(Conv2d(xn, wn, 1, 1))
		y = G.Must(BatchNorm2d(y, gn, bn, 1e-5, nil))
		y = G.Must(MaxPool2d(G.Must(ReLU(y)), 3, 2, 1))
		dy := G.NodeFromAny(g, tensor.New(tensor.WithShape(y.Shape().Clone()...), tensor.WithBacking(dyv)), G.WithName("dy"))
		grads, err := G.Backpropagate(G.Nodes{y}, G.Nodes{dy}, G.Nodes{xn, wn, gn, bn})
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		out := [][]float32{append([]float32(nil), y.Value().Data().([]float32)...)}
		for _, gr := range grads {
			out = append(out, append([]float32(nil), gr.Value().Data().([]float32)...))
		}
		return out
	}
	prev := runtime.GOMAXPROCS(1)
	serial := results()
	runtime.GOMAXPROCS(max(2, prev))
	split := results()
	runtime.GOMAXPROCS(prev)
	for i := range serial {
		for j := range serial[i] {
			if serial[i][j] != split[i][j] {
				t.Fatalf("output %d [%d]: %g with one goroutine, %g split", i, j, serial[i][j], split[i][j])
			}
		}
	}
}
