package models

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Convolution building blocks of the ResNet-10 (issue 6): Conv2d, BatchNorm2d
// (train and eval), MaxPool2d and ReLU on float32 NCHW tensors.
//
// Conv2d lowers a whole batch to one GEMM with the batch's output pixels in
// its wide dimension, y = w·im2col(x), whatever the spatial size (the 4×4
// maps of the last stage would give tiny per-image GEMMs). The forward and
// the input gradient run on this package's AVX-512 GEMM (conv_gemm.go), about
// twice OpenBLAS's speed on these machines: the forward builds im2col 32
// output pixels at a time right before the GEMM uses them (never the whole
// matrix: 75 MB for a 3×3 conv at 32×64×32×32) and writes NCHW directly. The
// weight gradient dw = dyᵀ·im2col(x)ᵀ runs on the same kernel, im2colᵀ built a
// block of pixels at a time too; the input gradient is dcol = wᵀ·dyᵀ on it,
// then col2im. dyᵀ is dy in CNHW order, computed once by a shared node for
// both gradients. The GEMMs' rounding differs from a plain loop's only in the
// order of the sums (float32 products, float32 accumulation). Every piece is split across goroutines, one
// per core (conv_parallel.go).
//
// Ops keep their scratch buffers (col, output shuffles, pool arg-maxes) and
// reuse them across runs, so a graph must not be run by two machines at
// once. A gradient op reads the scratch its forward op filled earlier in the
// same run (it depends on the output gradient, so the tape always runs it
// after the forward); it checks that the input is the same buffer and that
// nothing overwrote the scratch, and recomputes otherwise.

// kOp is a float32 op of fixed output shape computed by fn; diff, if set,
// gives the gradients of the inputs marked in wrt.
type kOp struct {
	name  string // with its parameters, for hashing
	arity int
	typ   hm.Type
	shape tensor.Shape
	fn    func(out []float32, in [][]float32)
	wrt   []bool
	diff  func(in G.Nodes, out, grad *G.Node) (G.Nodes, error)
}

func (op *kOp) Arity() int                                     { return op.arity }
func (op *kOp) Type() hm.Type                                  { return op.typ }
func (op *kOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *kOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(tensor.New(tensor.WithShape(op.shape.Clone()...), tensor.Of(tensor.Float32)), in...)
}
func (op *kOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	vs, err := f32s(in...)
	if err != nil {
		return nil, err
	}
	out, err := f32(prealloc)
	if err != nil {
		return nil, err
	}
	if len(out) != op.shape.TotalSize() {
		return nil, fmt.Errorf("models: %s: output of %d values, want shape %v", op.name, len(out), op.shape)
	}
	op.fn(out, vs)
	return prealloc, nil
}
func (op *kOp) ReturnsPtr() bool      { return false }
func (op *kOp) CallsExtern() bool     { return false }
func (op *kOp) OverwritesInput() int  { return -1 }
func (op *kOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.name) }
func (op *kOp) Hashcode() uint32      { return hashOf(op) }
func (op *kOp) String() string        { return op.name }
func (op *kOp) DiffWRT(int) []bool {
	if op.diff == nil {
		return make([]bool, op.arity)
	}
	return op.wrt
}
func (op *kOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if op.diff == nil {
		return nil, fmt.Errorf("models: %s is not differentiable", op.name)
	}
	return op.diff(in, out, grad)
}

// fnType is a → … → a (arity inputs of x's type).
func fnType(arity int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, arity+1)
	for i := range ts {
		ts[i] = a
	}
	return hm.NewFnType(ts...)
}

// tt is the type of a float32 tensor of d dimensions.
func tt(d int) hm.Type { return G.TensorType{Dims: d, Of: tensor.Float32} }

func same(a, b []float32) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// Conv2d is the 2-D cross-correlation of x [N, C, H, W] with w [O, C, kH, kW]
// (torch's nn.Conv2d without bias), the same stride and zero padding on both
// axes. The result is [N, O, Ho, Wo], Ho = (H + 2·pad − kH)/stride + 1.
func Conv2d(x, w *G.Node, stride, pad int) (*G.Node, error) { return conv2d(x, w, stride, pad, true) }

// Conv2dFrozenInput is Conv2d differentiable with respect to w only, for the
// first layer: Gorgonia builds and runs every gradient an op's SymDiff
// returns, and the image's would cost a GEMM and a col2im per step for nothing.
func Conv2dFrozenInput(x, w *G.Node, stride, pad int) (*G.Node, error) {
	return conv2d(x, w, stride, pad, false)
}

func conv2d(x, w *G.Node, stride, pad int, dx bool) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 || xs[1] != ws[1] {
		return nil, fmt.Errorf("models: Conv2d of x %v and w %v: want [N,C,H,W] and [O,C,kH,kW]", xs, ws)
	}
	if stride < 1 || pad < 0 {
		return nil, fmt.Errorf("models: Conv2d stride %d, pad %d", stride, pad)
	}
	g := convGeom{N: xs[0], C: xs[1], H: xs[2], W: xs[3], O: ws[0], KH: ws[2], KW: ws[3], S: stride, P: pad}
	g.Ho = (g.H+2*pad-g.KH)/stride + 1
	g.Wo = (g.W+2*pad-g.KW)/stride + 1
	if g.Ho < 1 || g.Wo < 1 {
		return nil, fmt.Errorf("models: Conv2d kernel %dx%d larger than padded input %dx%d", g.KH, g.KW, g.H+2*pad, g.W+2*pad)
	}
	if g.N*g.C*g.H*g.W > math.MaxInt32 {
		return nil, fmt.Errorf("models: Conv2d of x %v: more than 2³¹ values (the kernels index it with int32)", xs)
	}
	c := &convState{g: g, dx: dx}
	op := &kOp{
		name:  fmt.Sprintf("Conv2d%v%v", g, dx),
		arity: 2,
		typ:   fnType(2),
		shape: tensor.Shape{g.N, g.O, g.Ho, g.Wo},
		fn:    c.forward,
		wrt:   []bool{dx, true},
		diff:  c.diff,
	}
	return G.ApplyOp(op, x, w)
}

// convState is the scratch of one Conv2d node and its gradient nodes.
type convState struct {
	g       convGeom
	dx      bool      // differentiate with respect to x
	col     []float32 // the input gradient's dcol [C·kH·kW, N·Ho·Wo]
	dyp     []float32 // dyᵀ in panels
	ap, apT []float32 // w and wᵀ packed (packA)
	apDy    []float32 // dyᵀ packed
	tmp     []float32 // GEMM output in CNHW order
}

// forward: y = w·im2col(x) through convPanels (im2col built a panel at a
// time, never whole), the GEMM writing NCHW directly unless a panel of 32
// output pixels would straddle two images (then CNHW and a shuffle).
func (c *convState) forward(y []float32, in [][]float32) {
	g := c.g
	x, w := in[0], in[1]
	ap := packA(&c.ap, w, g.rows(), false, g.O, g.rows())
	p := g.Ho * g.Wo
	if g.N == 1 || nchwOK(p) {
		convPanels(g, ap, x, y, nchw(g.O, p))
		return
	}
	out := grow(&c.tmp, g.O*g.cols())
	convPanels(g, ap, x, out, rowMajor(g.cols()))
	swap01(out, y, g.O, g.N, p)
}

func (c *convState) diff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	g := c.g
	p := g.Ho * g.Wo
	// dyᵀ [O, N, Ho, Wo], shared by both gradients.
	dyT, err := G.ApplyOp(&kOp{
		name: fmt.Sprintf("SwapNC{%d,%d,%d}", g.N, g.O, p), arity: 1, typ: fnType(1),
		shape: tensor.Shape{g.O, g.N, g.Ho, g.Wo},
		fn:    func(out []float32, in [][]float32) { swap01(in[0], out, g.N, g.O, p) },
	}, grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&kOp{
		name: fmt.Sprintf("Conv2dGradW%v", g), arity: 2, typ: fnType(2),
		shape: tensor.Shape{g.O, g.C, g.KH, g.KW},
		fn: func(dw []float32, in [][]float32) {
			apDy := packA(&c.apDy, in[1], g.cols(), false, g.O, g.cols())
			convDw(g, apDy, in[0], dw)
		},
	}, in[0], dyT)
	if err != nil {
		return nil, err
	}
	var dx *G.Node // nil when not differentiable: Gorgonia skips it
	if c.dx {
		dx, err = G.ApplyOp(&kOp{
			name: fmt.Sprintf("Conv2dGradX%v", g), arity: 2, typ: fnType(2),
			shape: tensor.Shape{g.N, g.C, g.H, g.W},
			fn: func(dx []float32, in [][]float32) {
				dcol := grow(&c.col, g.rows()*g.cols())
				dyp := grow(&c.dyp, panelsLen(g.O, g.cols()))
				toPanels(in[1], g.O, g.cols(), g.cols(), dyp)
				apT := packA(&c.apT, in[0], g.rows(), true, g.rows(), g.O)
				gemmPanels(g.rows(), g.cols(), g.O, apT, dyp, dcol, rowMajor(g.cols()), false)
				col2im(g, dcol, dx)
			},
		}, in[1], dyT)
	}
	return G.Nodes{dx, dw}, err
}

// BNStats holds BatchNorm running statistics, updated by each training
// forward pass as torch does: r ← (1 − momentum)·r + momentum·batch, the
// variance unbiased there (the normalisation itself uses the biased one).
type BNStats struct {
	Mean, Var []float32
	Momentum  float32
}

// NewBNStats starts running statistics at mean 0, variance 1, momentum 0.1
// (torch's defaults).
func NewBNStats(channels int) *BNStats {
	s := &BNStats{Mean: make([]float32, channels), Var: make([]float32, channels), Momentum: 0.1}
	for i := range s.Var {
		s.Var[i] = 1
	}
	return s
}

// BatchNorm2d is training-mode batch normalisation of x [N, C, H, W] with
// the batch's per-channel statistics (biased variance) and affine γ, β [C]:
// y = γ·(x − mean)/sqrt(var + eps) + β. stats, if not nil, gets its running
// mean and variance updated at each forward run.
func BatchNorm2d(x, gamma, beta *G.Node, eps float32, stats *BNStats) (*G.Node, error) {
	xs := x.Shape()
	if xs.Dims() != 4 {
		return nil, fmt.Errorf("models: BatchNorm2d wants [N,C,H,W], got %v", xs)
	}
	n, c, p := xs[0], xs[1], xs[2]*xs[3]
	if gamma.Shape().TotalSize() != c || beta.Shape().TotalSize() != c || gamma.Shape().Dims() != 1 || beta.Shape().Dims() != 1 {
		return nil, fmt.Errorf("models: BatchNorm2d of %v wants γ, β [%d], got %v, %v", xs, c, gamma.Shape(), beta.Shape())
	}
	if stats != nil && (len(stats.Mean) != c || len(stats.Var) != c) {
		return nil, fmt.Errorf("models: BatchNorm2d running stats of %d, %d channels, want %d", len(stats.Mean), len(stats.Var), c)
	}
	st := &bnState{n: n, c: c, p: p, eps: eps, mean: make([]float32, c), rstd: make([]float32, c),
		sum: make([]float64, c), sq: make([]float64, c), a: make([]float32, c), b: make([]float32, c),
		k2: make([]float32, c), k3: make([]float32, c)}
	a, b := tt(4), tt(1)
	name := fmt.Sprintf("BatchNorm2d{%v,%g,%p}", xs, eps, stats)
	op := &kOp{
		name: name, arity: 3, typ: hm.NewFnType(a, b, b, a), shape: xs.Clone(),
		fn: func(y []float32, in [][]float32) {
			st.stats(in[0])
			for i := range c {
				st.a[i] = in[1][i] * st.rstd[i]
				st.b[i] = in[2][i] - st.mean[i]*st.a[i]
			}
			chanAffine(in[0], y, st.a, st.b, n, c, p)
			if stats != nil {
				m, unbias := stats.Momentum, float64(n*p)/math.Max(1, float64(n*p-1))
				for i := range c {
					stats.Mean[i] = (1-m)*stats.Mean[i] + m*st.mean[i]
					stats.Var[i] = (1-m)*stats.Var[i] + m*float32(st.sq[i]/float64(n*p)*unbias)
				}
			}
		},
		wrt: []bool{true, true, true},
	}
	op.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		// dx = γr·dy − γr³·Σdy(x−m)/M·(x−m) − γr·Σdy/M (M = N·H·W).
		dx, err := G.ApplyOp(&kOp{
			name: name + "GradX", arity: 3, typ: hm.NewFnType(a, b, a, a), shape: xs.Clone(),
			fn: func(dx []float32, in [][]float32) {
				st.stats(in[0])
				st.dots(in[0], in[2])
				m := float64(n * p)
				for i := range c {
					r := float64(st.rstd[i])
					gr := float64(in[1][i]) * r
					st.a[i] = float32(gr)
					st.k2[i] = float32(-gr * r * r * st.sdyx[i] / m)
					st.k3[i] = float32(-gr * st.sdy[i] / m)
				}
				bnDx(in[0], in[2], dx, st.mean, st.a, st.k2, st.k3, n, c, p)
			},
		}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		// dγ = Σ dy·x̂, dβ = Σ dy; γ is an input only to type the result.
		dg, err := G.ApplyOp(&kOp{
			name: name + "GradGamma", arity: 3, typ: hm.NewFnType(a, b, a, b), shape: tensor.Shape{c},
			fn: func(dg []float32, in [][]float32) {
				st.stats(in[0])
				st.dots(in[0], in[2])
				for i := range c {
					dg[i] = float32(st.sdyx[i] * float64(st.rstd[i]))
				}
			},
		}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		db, err := G.ApplyOp(&kOp{
			name: name + "GradBeta", arity: 3, typ: hm.NewFnType(a, b, a, b), shape: tensor.Shape{c},
			fn: func(db []float32, in [][]float32) {
				st.stats(in[0])
				st.dots(in[0], in[2])
				for i := range c {
					db[i] = float32(st.sdy[i])
				}
			},
		}, in[0], in[1], grad)
		return G.Nodes{dx, dg, db}, err
	}
	return G.ApplyOp(op, x, gamma, beta)
}

// bnState is the scratch of one BatchNorm2d node and its gradients.
type bnState struct {
	n, c, p            int
	eps                float32
	mean, rstd         []float32
	sum, sq, sdy, sdyx []float64
	a, b, k2, k3       []float32
}

// stats computes the batch mean and 1/sqrt(var+eps) per channel of x.
// The gradients recompute them: each op may be the first to run after the
// forward, and x is not known to be unchanged since an earlier run.
func (st *bnState) stats(x []float32) {
	chanStats(x, st.n, st.c, st.p, st.sum, st.sq)
	m := float64(st.n * st.p)
	for i := range st.c {
		st.mean[i] = float32(st.sum[i] / m)
		st.rstd[i] = float32(1 / math.Sqrt(st.sq[i]/m+float64(st.eps)))
	}
}

// dots computes Σdy and Σdy·(x − mean) per channel.
func (st *bnState) dots(x, dy []float32) {
	if st.sdy == nil {
		st.sdy, st.sdyx = make([]float64, st.c), make([]float64, st.c)
	}
	chanDot(x, dy, st.mean, st.n, st.c, st.p, st.sdy, st.sdyx)
}

// BatchNorm2dEval is eval-mode batch normalisation of x [N, C, H, W] with
// fixed statistics and affine parameters (torch's module.eval()): the
// per-channel affine y = x·a + b, a = γ/sqrt(var + eps), b = β − mean·a. It
// differentiates with respect to x only (a frozen backbone).
func BatchNorm2dEval(x *G.Node, gamma, beta, mean, variance []float32, eps float32) (*G.Node, error) {
	xs := x.Shape()
	if xs.Dims() != 4 {
		return nil, fmt.Errorf("models: BatchNorm2dEval wants [N,C,H,W], got %v", xs)
	}
	a, b, err := bnFold(gamma, beta, mean, variance, eps)
	if err != nil {
		return nil, err
	}
	if len(a) != xs[1] {
		return nil, fmt.Errorf("models: BatchNorm2dEval of %v with %d channels of parameters", xs, len(a))
	}
	return chanAffineNode(x, a, b)
}

func chanAffineNode(x *G.Node, a, b []float32) (*G.Node, error) {
	xs := x.Shape()
	n, c, p := xs[0], xs[1], xs[2]*xs[3]
	op := &kOp{
		name: fmt.Sprintf("ChanAffine{%v,%p,%p}", xs, &a[0], &b[0]), arity: 1, typ: fnType(1), shape: xs.Clone(),
		fn:  func(y []float32, in [][]float32) { chanAffine(in[0], y, a, b, n, c, p) },
		wrt: []bool{true},
	}
	op.diff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dx, err := chanAffineNode(grad, a, make([]float32, c))
		return G.Nodes{dx}, err
	}
	return G.ApplyOp(op, x)
}

// bnFold returns the per-channel a = γ/sqrt(var + eps), b = β − mean·a.
func bnFold(gamma, beta, mean, variance []float32, eps float32) (a, b []float32, err error) {
	c := len(gamma)
	if len(beta) != c || len(mean) != c || len(variance) != c {
		return nil, nil, fmt.Errorf("models: BatchNorm parameters of lengths γ %d, β %d, mean %d, var %d", c, len(beta), len(mean), len(variance))
	}
	a, b = make([]float32, c), make([]float32, c)
	for i := range c {
		s := 1 / math.Sqrt(float64(variance[i])+float64(eps))
		a[i] = float32(float64(gamma[i]) * s)
		b[i] = float32(float64(beta[i]) - float64(mean[i])*float64(gamma[i])*s)
	}
	return a, b, nil
}

// FoldBatchNorm folds an eval-mode BatchNorm into the convolution before it:
// conv(x, w') + b' = BN(conv(x, w)) for weights w [O, C, kH, kW] (flat,
// row-major) and BatchNorm parameters of O channels. For ONNX export.
func FoldBatchNorm(w, gamma, beta, mean, variance []float32, eps float32) (wf, bias []float32, err error) {
	a, b, err := bnFold(gamma, beta, mean, variance, eps)
	if err != nil {
		return nil, nil, err
	}
	if len(a) == 0 || len(w)%len(a) != 0 {
		return nil, nil, fmt.Errorf("models: FoldBatchNorm of %d weights into %d output channels", len(w), len(a))
	}
	k := len(w) / len(a)
	wf = make([]float32, len(w))
	for o := range a {
		for i := o * k; i < (o+1)*k; i++ {
			wf[i] = w[i] * a[o]
		}
	}
	return wf, b, nil
}

// MaxPool2d is max pooling of x [N, C, H, W] over k×k windows with the given
// stride and padding that never wins (torch's nn.MaxPool2d); the gradient
// goes to the first maximum of each window.
func MaxPool2d(x *G.Node, k, stride, pad int) (*G.Node, error) {
	xs := x.Shape()
	if xs.Dims() != 4 || k < 1 || stride < 1 || pad < 0 || 2*pad > k {
		return nil, fmt.Errorf("models: MaxPool2d of %v, kernel %d, stride %d, pad %d", xs, k, stride, pad)
	}
	nc, h, w := xs[0]*xs[1], xs[2], xs[3]
	ho, wo := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	if ho < 1 || wo < 1 {
		return nil, fmt.Errorf("models: MaxPool2d kernel %d larger than padded input %v", k, xs)
	}
	var arg []int32
	var argX []float32
	pool := func(x, y []float32) {
		if len(arg) != nc*ho*wo {
			arg = make([]int32, nc*ho*wo)
		}
		maxPool(x, y, arg, nc, h, w, k, stride, pad, ho, wo)
		argX = x
	}
	name := fmt.Sprintf("MaxPool2d{%v,%d,%d,%d}", xs, k, stride, pad)
	op := &kOp{
		name: name, arity: 1, typ: fnType(1), shape: tensor.Shape{xs[0], xs[1], ho, wo},
		fn:  func(y []float32, in [][]float32) { pool(in[0], y) },
		wrt: []bool{true},
	}
	var scratch []float32
	op.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dx, err := G.ApplyOp(&kOp{
			name: name + "Grad", arity: 2, typ: fnType(2), shape: xs.Clone(),
			fn: func(dx []float32, in [][]float32) {
				if !same(argX, in[0]) {
					pool(in[0], grow(&scratch, nc*ho*wo))
				}
				maxPoolGrad(in[1], arg, dx, nc, h*w, ho*wo)
			},
		}, in[0], grad)
		return G.Nodes{dx}, err
	}
	return G.ApplyOp(op, x)
}

// ReLU is max(x, 0), its gradient 0 at 0 (torch).
func ReLU(x *G.Node) (*G.Node, error) { return G.ApplyOp(&elemOp{reluFn}, x) }

var reluFn = &elemFn{
	name: "ReLU",
	fwd:  reluRows,
	bwd:  func(_, y, dy, dx []float32) { reluGradRows(y, dy, dx) },
}
