package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ResNet-10 feature extractor of HIL-SERL (HILSERL.md §1.2, §5): a 7×7/2
// stem convolution to 64 channels + norm + ReLU + 3×3/2 max pool, then one
// BasicBlock per stage (64, 128, 256, 512 channels, strides 1, 2, 2, 2) with
// a 1×1 projection shortcut (+ norm) where the shape changes. A 3×128×128
// image gives a 512×4×4 map (the last_hidden_state LeRobot reads).
//
// Two variants share the topology and the parameter names:
//
//   - ResNetBatchNorm: torchvision-style, BatchNorm and symmetric padding
//     (the bench's reference, ../shared/bench/reference_torch.py). e2hil
//     trains it from scratch (BatchNorm in train mode, running statistics
//     kept in the store) or uses it frozen (BatchNorm in eval mode).
//   - ResNetHILSERL: the pretrained Hugging Face helper2424/resnet10, a
//     conversion of HIL-SERL's JAX ResNet-10 (github.com/helper2424/resnet10,
//     resnet_10/modeling_resnet.py): GroupNorm with 4 groups instead of
//     BatchNorm, and JAX "SAME" padding — on even sizes the stride-2 3×3
//     convolutions and the max pool pad one row/column at the bottom/right
//     only. Frozen only (its ops here have no gradient).
//
// Parameters (prefix p, stage i = 0…3):
//
//	p.embedder.conv.weight [64,3,7,7]    p.embedder.norm.{weight,bias}[64]
//	p.stages.i.conv1.weight, .conv2.weight, .norm1.*, .norm2.*
//	p.stages.i.shortcut.conv.weight [O,C,1,1], .shortcut.norm.*   (stages 1–3)
//
// with .running_mean and .running_var beside weight and bias for
// BatchNorm. Training and export walk them in this order.

// ResNet-10 variants.
const (
	ResNetBatchNorm = "batchnorm"
	ResNetHILSERL   = "hilserl"
)

// ResNet-10 shape constants.
var (
	ResNetStages  = [4]int{64, 128, 256, 512}
	resNetStrides = [4]int{1, 2, 2, 2}
)

const (
	resNetStem     = 64
	resNetInputCh  = 3
	resNetGroups   = 4 // GroupNorm groups of the HIL-SERL variant
	resNetNormEps  = 1e-5
	resNetBNMoment = 0.1
)

// ResNet10 names a ResNet-10 in a parameter store.
type ResNet10 struct {
	Prefix  string // parameter name prefix, without the trailing dot
	Variant string // ResNetBatchNorm ("" means it) or ResNetHILSERL
}

func (r ResNet10) variant() string {
	if r.Variant == "" {
		return ResNetBatchNorm
	}
	return r.Variant
}

// Validate checks the variant.
func (r ResNet10) Validate() error {
	switch r.variant() {
	case ResNetBatchNorm, ResNetHILSERL:
		return nil
	}
	return fmt.Errorf("models: ResNet-10 variant %q: want %q or %q", r.Variant, ResNetBatchNorm, ResNetHILSERL)
}

func (r ResNet10) name(s string) string {
	if r.Prefix == "" {
		return s
	}
	return r.Prefix + "." + s
}

// resLayer is one convolution + norm of the network.
type resLayer struct {
	conv, norm     string // parameter prefixes
	in, out, k, st int
	pad            int // symmetric (torch) padding
}

// layers lists the convolutions in walk order; blocks index them.
func (r ResNet10) layers() []resLayer {
	ls := []resLayer{{conv: r.name("embedder.conv"), norm: r.name("embedder.norm"), in: resNetInputCh, out: resNetStem, k: 7, st: 2, pad: 3}}
	in := resNetStem
	for i, c := range ResNetStages {
		s := fmt.Sprintf("stages.%d.", i)
		ls = append(ls,
			resLayer{conv: r.name(s + "conv1"), norm: r.name(s + "norm1"), in: in, out: c, k: 3, st: resNetStrides[i], pad: 1},
			resLayer{conv: r.name(s + "conv2"), norm: r.name(s + "norm2"), in: c, out: c, k: 3, st: 1, pad: 1})
		if in != c || resNetStrides[i] != 1 {
			ls = append(ls, resLayer{conv: r.name(s + "shortcut.conv"), norm: r.name(s + "shortcut.norm"), in: in, out: c, k: 1, st: resNetStrides[i]})
		}
		in = c
	}
	return ls
}

// AddParams defines the parameters with torchvision's initialisation:
// convolutions kaiming_normal(fan_out, relu) (std √(2/(O·k·k))), norm
// weight 1, bias 0, running mean 0, running variance 1. A nil rng leaves the
// convolutions zero (names and shapes only, for weights loaded next).
func (r ResNet10) AddParams(p *Params, rng *rand.Rand) error {
	if err := r.Validate(); err != nil {
		return err
	}
	for _, l := range r.layers() {
		w := p.Add(l.conv+".weight", l.out, l.in, l.k, l.k)
		if rng != nil {
			std := math.Sqrt(2 / float64(l.out*l.k*l.k))
			for i, d := 0, w.Data().([]float32); i < len(d); i++ {
				d[i] = float32(std * rng.NormFloat64())
			}
		}
		fill(p.Add(l.norm+".weight", l.out), 1)
		p.Add(l.norm+".bias", l.out)
		if r.variant() == ResNetBatchNorm {
			p.Add(l.norm+".running_mean", l.out)
			fill(p.Add(l.norm+".running_var", l.out), 1)
		}
	}
	return nil
}

// ParamNames lists the network's parameters in walk order; trainable drops
// the BatchNorm running statistics.
func (r ResNet10) ParamNames(p *Params, trainable bool) []string {
	var out []string
	for _, n := range p.WithPrefix(r.name("embedder."), r.name("stages.")) {
		if trainable && (strings.HasSuffix(n, ".running_mean") || strings.HasSuffix(n, ".running_var")) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// OutShape is the feature map's [C, H, W] for an h×w image (the same for
// both variants).
func (r ResNet10) OutShape(h, w int) (c, oh, ow int) {
	oh, ow = (h+6-7)/2+1, (w+6-7)/2+1 // stem
	oh, ow = (oh-1)/2+1, (ow-1)/2+1   // max pool 3/2, pad 1 (or SAME)
	for _, s := range resNetStrides {
		oh, ow = (oh-1)/s+1, (ow-1)/s+1
	}
	return ResNetStages[3], oh, ow
}

// Forward builds the feature map [N, 512, h, w] of images x [N, 3, H, W]
// (already normalised). train selects BatchNorm in train mode, updating the
// running statistics in the store at each run, with weight gradients
// available; otherwise the network is frozen: norms in eval mode, their
// statistics and affine parameters read from the store now (build the graph
// after loading weights). The first convolution never differentiates its
// input (the image).
func (r ResNet10) Forward(b *Graph, x *G.Node, train bool) (*G.Node, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if train && r.variant() != ResNetBatchNorm {
		return nil, fmt.Errorf("models: ResNet-10 %q is frozen only; train the %q variant", r.variant(), ResNetBatchNorm)
	}
	ls := r.layers()
	unit := func(l resLayer, x *G.Node, first bool) (*G.Node, error) {
		y, err := r.conv(b, l, x, first)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.conv, err)
		}
		y, err = r.norm(b, l, y, train)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.norm, err)
		}
		return y, nil
	}
	y, err := unit(ls[0], x, true)
	if err != nil {
		return nil, err
	}
	if y, err = ReLU(y); err != nil {
		return nil, err
	}
	if y, err = r.maxPool(y); err != nil {
		return nil, err
	}
	li := 1
	for i := range ResNetStages {
		c1, c2 := ls[li], ls[li+1]
		li += 2
		var sc *resLayer
		if li < len(ls) && strings.HasPrefix(ls[li].conv, r.name(fmt.Sprintf("stages.%d.shortcut", i))) {
			sc = &ls[li]
			li++
		}
		h, err := unit(c1, y, false)
		if err != nil {
			return nil, err
		}
		if h, err = ReLU(h); err != nil {
			return nil, err
		}
		if h, err = unit(c2, h, false); err != nil {
			return nil, err
		}
		id := y
		if sc != nil {
			if id, err = unit(*sc, y, false); err != nil {
				return nil, err
			}
		}
		if h, err = G.Add(h, id); err != nil {
			return nil, fmt.Errorf("models: ResNet-10 stage %d residual: %w", i, err)
		}
		if y, err = ReLU(h); err != nil {
			return nil, err
		}
	}
	return y, nil
}

func (r ResNet10) conv(b *Graph, l resLayer, x *G.Node, first bool) (*G.Node, error) {
	w := b.Param(l.conv + ".weight")
	conv := Conv2d
	if first {
		conv = Conv2dFrozenInput
	}
	pad := l.pad
	if r.variant() == ResNetHILSERL && l.k != 7 {
		s := x.Shape()
		t, bt := samePads(s[2], l.k, l.st)
		lf, rt := samePads(s[3], l.k, l.st)
		if t != bt || lf != rt || t != lf {
			var err error
			if x, err = padNCHW(x, t, bt, lf, rt, 0); err != nil {
				return nil, err
			}
			pad = 0
		} else {
			pad = t
		}
	}
	return conv(x, w, l.st, pad)
}

// samePads is JAX/TF "SAME" padding of one axis of size n for a kernel k and
// stride s: total max(0, (⌈n/s⌉−1)·s + k − n), the extra one after.
func samePads(n, k, s int) (before, after int) {
	total := max(0, ((n+s-1)/s-1)*s+k-n)
	return total / 2, total - total/2
}

func (r ResNet10) norm(b *Graph, l resLayer, x *G.Node, train bool) (*G.Node, error) {
	if r.variant() == ResNetHILSERL {
		return groupNorm(x, b.params.Data(l.norm+".weight"), b.params.Data(l.norm+".bias"), resNetGroups, resNetNormEps)
	}
	if train {
		stats := &BNStats{Mean: b.params.Data(l.norm + ".running_mean"), Var: b.params.Data(l.norm + ".running_var"), Momentum: resNetBNMoment}
		return BatchNorm2d(x, b.Param(l.norm+".weight"), b.Param(l.norm+".bias"), resNetNormEps, stats)
	}
	p := b.params
	return BatchNorm2dEval(x, p.Data(l.norm+".weight"), p.Data(l.norm+".bias"), p.Data(l.norm+".running_mean"), p.Data(l.norm+".running_var"), resNetNormEps)
}

func (r ResNet10) maxPool(x *G.Node) (*G.Node, error) {
	if r.variant() != ResNetHILSERL {
		return MaxPool2d(x, 3, 2, 1)
	}
	s := x.Shape()
	t, bt := samePads(s[2], 3, 2)
	lf, rt := samePads(s[3], 3, 2)
	if t != bt || lf != rt {
		var err error
		if x, err = padNCHW(x, t, bt, lf, rt, float32(math.Inf(-1))); err != nil {
			return nil, err
		}
		return MaxPool2d(x, 3, 2, 0)
	}
	return MaxPool2d(x, 3, 2, t)
}

// padNCHW pads the two spatial axes of x [N, C, H, W] with value:
// top/bottom rows, left/right columns. Forward only.
func padNCHW(x *G.Node, top, bottom, left, right int, value float32) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 || top < 0 || bottom < 0 || left < 0 || right < 0 {
		return nil, fmt.Errorf("models: pad %v by %d,%d,%d,%d", s, top, bottom, left, right)
	}
	n, h, w := s[0]*s[1], s[2], s[3]
	ho, wo := h+top+bottom, w+left+right
	return G.ApplyOp(&kOp{
		name: fmt.Sprintf("PadNCHW{%v,%d,%d,%d,%d,%g}", s, top, bottom, left, right, value), arity: 1, typ: fnType(1),
		shape: tensor.Shape{s[0], s[1], ho, wo},
		fn: func(y []float32, in [][]float32) {
			for i := range y {
				y[i] = value
			}
			for c := range n {
				for i := range h {
					copy(y[(c*ho+i+top)*wo+left:], in[0][(c*h+i)*w:(c*h+i+1)*w])
				}
			}
		},
	}, x)
}

// groupNorm is torch's nn.GroupNorm(groups, C, eps) of x [N, C, H, W] with
// per-channel affine γ, β read now. Forward only.
func groupNorm(x *G.Node, gamma, beta []float32, groups int, eps float32) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 || s[1]%groups != 0 || len(gamma) != s[1] || len(beta) != s[1] {
		return nil, fmt.Errorf("models: GroupNorm(%d) of %v with %d, %d affine values", groups, s, len(gamma), len(beta))
	}
	g, b := append([]float32(nil), gamma...), append([]float32(nil), beta...)
	return G.ApplyOp(&kOp{
		name: fmt.Sprintf("GroupNorm{%v,%d,%g,%p}", s, groups, eps, &g[0]), arity: 1, typ: fnType(1), shape: s.Clone(),
		fn: func(y []float32, in [][]float32) {
			groupNormForward(in[0], y, g, b, s[0], s[1], s[2]*s[3], groups, eps)
		},
	}, x)
}

func groupNormForward(x, y, gamma, beta []float32, n, c, p, groups int, eps float32) {
	cg := c / groups
	m := cg * p
	for i := range n * groups {
		seg := x[i*m : (i+1)*m]
		var sum, sq float64
		for _, v := range seg {
			sum += float64(v)
		}
		mean := sum / float64(m)
		for _, v := range seg {
			d := float64(v) - mean
			sq += d * d
		}
		rstd := 1 / math.Sqrt(sq/float64(m)+float64(eps))
		for j := range cg {
			ch := (i%groups)*cg + j
			a := float32(rstd) * gamma[ch]
			bb := beta[ch] - float32(mean)*a
			off := i*m + j*p
			for k := range p {
				y[off+k] = x[off+k]*a + bb
			}
		}
	}
}
