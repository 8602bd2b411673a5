package models

import (
	"fmt"
	"strconv"

	"github.com/e2hil/e2hil/internal/version"
	"github.com/e2hil/e2hil/models/onnx"
)

// ONNX export of the vision models: the ResNet-10 backbone (BatchNorm folded
// into the convolutions), the spatial-embedding encoder, and the reward
// classifier built from them. ONNXVision is the reusable part: the SAC image
// policy's export can emit the same frozen backbone and per-camera encoders.

// Classifier ONNX names.
const (
	ONNXOutputProbability = "probability"
	ONNXOutputLogits      = "logits"
	// ClassifierModelVersion versions the exported classifier's layout.
	ClassifierModelVersion = "reward-classifier-v1"
)

// ONNXVision emits vision subgraphs into an onnx.Graph, reading weights from
// a Params store as they are at the call (eval mode: BatchNorm running
// statistics folded, no dropout), each initializer added once however many
// times a subgraph is emitted (cameras share the backbone).
type ONNXVision struct {
	G     *onnx.Graph
	p     *Params
	inits map[string]bool
	err   error
}

// NewONNXVision starts emitting into g from p.
func NewONNXVision(g *onnx.Graph, p *Params) *ONNXVision {
	return &ONNXVision{G: g, p: p, inits: map[string]bool{}}
}

// Err is the first problem met (a missing parameter, bad shapes), if any.
func (v *ONNXVision) Err() error {
	if v.err != nil {
		return v.err
	}
	return v.G.Err()
}

func (v *ONNXVision) fail(err error) {
	if v.err == nil {
		v.err = err
	}
}

func (v *ONNXVision) op(op string, inputs []string, attrs ...onnx.Attr) string {
	out := v.G.UniqueName(op)
	v.G.Node(op, inputs, []string{out}, attrs...)
	return out
}

// init adds a float32 initializer once.
func (v *ONNXVision) init(name string, dims []int64, data []float32) string {
	if !v.inits[name] {
		v.inits[name] = true
		v.G.Initializer(name, dims, data)
	}
	return name
}

func (v *ONNXVision) initInt64(name string, data ...int64) string {
	if !v.inits[name] {
		v.inits[name] = true
		v.G.InitializerInt64(name, []int64{int64(len(data))}, data)
	}
	return name
}

func (v *ONNXVision) data(name string) []float32 {
	t := v.p.Get(name)
	if t == nil {
		v.fail(fmt.Errorf("models: export: parameter %q missing", name))
		return nil
	}
	return v.p.Data(name)
}

// Normalize emits (x − mean)/std per channel of an NCHW value.
func (v *ONNXVision) Normalize(x string, mean, std [3]float32) string {
	var a, b [3]float32
	for c := range 3 {
		a[c], b[c] = 1/std[c], -mean[c]/std[c]
	}
	sc := v.init("image_norm.scale", []int64{3, 1, 1}, a[:])
	sh := v.init("image_norm.shift", []int64{3, 1, 1}, b[:])
	return v.op("Add", []string{v.op("Mul", []string{x, sc}), sh})
}

// ResNet emits the frozen ResNet-10 r on x [N, 3, h, w] (normalised) and
// returns its feature map [N, 512, h', w'].
func (v *ONNXVision) ResNet(r ResNet10, x string, h, w int) string {
	if err := r.Validate(); err != nil {
		v.fail(err)
		return x
	}
	ls := r.layers()
	type dims struct{ h, w int }
	unit := func(l resLayer, x string, d dims) (string, dims) {
		wt := v.data(l.conv + ".weight")
		var pt, pb, pl, pr int
		if r.variant() == ResNetHILSERL && l.k != 7 {
			pt, pb = samePads(d.h, l.k, l.st)
			pl, pr = samePads(d.w, l.k, l.st)
		} else {
			pt, pb, pl, pr = l.pad, l.pad, l.pad, l.pad
		}
		oh, ow := (d.h+pt+pb-l.k)/l.st+1, (d.w+pl+pr-l.k)/l.st+1
		attrs := []onnx.Attr{onnx.AttrInts("kernel_shape", int64(l.k), int64(l.k)), onnx.AttrInts("strides", int64(l.st), int64(l.st)),
			onnx.AttrInts("pads", int64(pt), int64(pl), int64(pb), int64(pr))}
		wdims := []int64{int64(l.out), int64(l.in), int64(l.k), int64(l.k)}
		if r.variant() == ResNetHILSERL {
			y := v.op("Conv", []string{x, v.init(l.conv+".weight", wdims, wt)}, attrs...)
			return v.groupNorm(l.norm, y, l.out), dims{oh, ow}
		}
		wf, bias, err := FoldBatchNorm(wt, v.data(l.norm+".weight"), v.data(l.norm+".bias"), v.data(l.norm+".running_mean"), v.data(l.norm+".running_var"), resNetNormEps)
		if err != nil {
			v.fail(fmt.Errorf("models: export %s: %w", l.conv, err))
			return x, d
		}
		wn := v.init(l.conv+".weight_bn_folded", wdims, wf)
		bn := v.init(l.conv+".bias_bn_folded", []int64{int64(l.out)}, bias)
		return v.op("Conv", []string{x, wn, bn}, attrs...), dims{oh, ow}
	}
	y, d := unit(ls[0], x, dims{h, w})
	y = v.op("Relu", []string{y})
	pt, pb, pl, pr := 1, 1, 1, 1
	if r.variant() == ResNetHILSERL {
		pt, pb = samePads(d.h, 3, 2)
		pl, pr = samePads(d.w, 3, 2)
	}
	y = v.op("MaxPool", []string{y}, onnx.AttrInts("kernel_shape", 3, 3), onnx.AttrInts("strides", 2, 2), onnx.AttrInts("pads", int64(pt), int64(pl), int64(pb), int64(pr)))
	d = dims{(d.h+pt+pb-3)/2 + 1, (d.w+pl+pr-3)/2 + 1}
	li := 1
	for i := range ResNetStages {
		c1, c2 := ls[li], ls[li+1]
		li += 2
		hdn, dh := unit(c1, y, d)
		hdn = v.op("Relu", []string{hdn})
		hdn, _ = unit(c2, hdn, dh)
		id := y
		if li < len(ls) && ls[li].conv == r.name(fmt.Sprintf("stages.%d.shortcut.conv", i)) {
			id, _ = unit(ls[li], y, d)
			li++
		}
		y = v.op("Relu", []string{v.op("Add", []string{hdn, id})})
		d = dh
	}
	return y
}

// groupNorm emits torch's GroupNorm(4) of x [N, C, h, w]:
// InstanceNormalization over [N, groups, C/groups·h·w], then the
// per-channel affine.
func (v *ONNXVision) groupNorm(name, x string, c int) string {
	shape := v.op("Shape", []string{x})
	g := v.op("Reshape", []string{x, v.initInt64("groupnorm.shape", 0, resNetGroups, -1)})
	ones, zeros := make([]float32, resNetGroups), make([]float32, resNetGroups)
	for i := range ones {
		ones[i] = 1
	}
	g = v.op("InstanceNormalization", []string{g, v.init("groupnorm.ones", []int64{resNetGroups}, ones), v.init("groupnorm.zeros", []int64{resNetGroups}, zeros)},
		onnx.AttrFloat("epsilon", resNetNormEps))
	y := v.op("Reshape", []string{g, shape})
	gm := v.init(name+".weight", []int64{int64(c), 1, 1}, v.data(name+".weight"))
	bt := v.init(name+".bias", []int64{int64(c), 1, 1}, v.data(name+".bias"))
	return v.op("Add", []string{v.op("Mul", []string{y, gm}), bt})
}

// SpatialEncoder emits one camera's post-backbone encoder in eval mode:
// SpatialEmbeddings (kernel prefix.spatial.kernel [C·HW, F]) as a batched
// MatMul over channels, then Linear (prefix.linear) → LayerNorm
// (prefix.norm) → Tanh. feat is [N, C, h, w]; the result [N, latent].
func (v *ONNXVision) SpatialEncoder(prefix, feat string, c, hw, f int) string {
	x := v.op("Reshape", []string{feat, v.initInt64(fmt.Sprintf("spatial.shape_%d_%d", c, hw), 0, int64(c), int64(hw))})
	x = v.op("Transpose", []string{x}, onnx.AttrInts("perm", 1, 0, 2)) // [C, N, HW]
	k := v.init(prefix+".spatial.kernel", []int64{int64(c), int64(hw), int64(f)}, v.data(prefix+".spatial.kernel"))
	x = v.op("MatMul", []string{x, k})                                 // [C, N, F]
	x = v.op("Transpose", []string{x}, onnx.AttrInts("perm", 1, 0, 2)) // [N, C, F]
	x = v.op("Reshape", []string{x, v.initInt64(fmt.Sprintf("spatial.flat_%d", c*f), 0, int64(c*f))})
	x = v.Linear(prefix+".linear", x)
	return v.op("Tanh", []string{v.LayerNorm(prefix+".norm", x)})
}

// Linear emits x·W + b (W stored [in, out], b [1, out]).
func (v *ONNXVision) Linear(name, x string) string {
	w, b := v.p.Get(name+".weight"), v.p.Get(name+".bias")
	if w == nil || b == nil {
		v.fail(fmt.Errorf("models: export: linear %q missing", name))
		return x
	}
	ws := w.Shape()
	wn := v.init(name+".weight", []int64{int64(ws[0]), int64(ws[1])}, v.data(name+".weight"))
	bn := v.init(name+".bias", []int64{int64(ws[1])}, v.data(name+".bias"))
	return v.op("Add", []string{v.op("MatMul", []string{x, wn}), bn})
}

// LayerNorm emits LayerNormalization over the last axis (eps 1e-5).
func (v *ONNXVision) LayerNorm(name, x string) string {
	t := v.p.Get(name + ".weight")
	if t == nil {
		v.fail(fmt.Errorf("models: export: layer norm %q missing", name))
		return x
	}
	d := int64(t.Shape().TotalSize())
	g := v.init(name+".weight", []int64{d}, v.data(name+".weight"))
	b := v.init(name+".bias", []int64{d}, v.data(name+".bias"))
	return v.op("LayerNormalization", []string{x, g, b}, onnx.AttrInt("axis", -1), onnx.AttrFloat("epsilon", LayerNormEps))
}

// ExportONNX writes the classifier as an ONNX model (classifier.onnx): one
// float32 input [N, 3, H, W] per camera, named as the camera feature, with
// pixel values in [0, 1] (the ImageNet normalisation is in the graph);
// outputs probability [N, 1] = σ(logits) and logits [N, 1]. The backbone is
// in eval mode with its BatchNorm folded into the convolutions; no dropout.
func (s ClassifierSpec) ExportONNX(p *Params) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	g := onnx.NewGraph("e2hil_reward_classifier")
	v := NewONNXVision(g, p)
	c, h, w := s.FeatureShape()
	var latent string
	for i, cam := range s.Cameras {
		g.Input(cam, -1, 3, int64(s.ImageHeight), int64(s.ImageWidth))
		x := v.Normalize(cam, s.ImageMean, s.ImageStd)
		f := v.ResNet(s.ResNet(), x, s.ImageHeight, s.ImageWidth)
		z := v.SpatialEncoder(encoderPrefix(i), f, c, h*w, s.SpatialFeatures)
		if i == 0 {
			latent = z
		} else {
			latent = v.op("Concat", []string{latent, z}, onnx.AttrInt("axis", 1))
		}
	}
	x := v.Linear("classifier.head.linear", latent)
	x = v.op("Relu", []string{v.LayerNorm("classifier.head.norm", x)})
	x = v.Linear("classifier.head.out", x)
	g.Node("Identity", []string{x}, []string{ONNXOutputLogits})
	g.Node("Sigmoid", []string{x}, []string{ONNXOutputProbability})
	g.Output(ONNXOutputProbability, -1, 1)
	g.Output(ONNXOutputLogits, -1, 1)
	if err := v.Err(); err != nil {
		return nil, err
	}
	meta := []onnx.KV{
		{Key: "e2hil.version", Value: version.Version},
		{Key: "e2hil.model", Value: ClassifierModelVersion},
		{Key: "e2hil.parameters", Value: strconv.Itoa(p.Count(s.TrainableNames(p)...))},
		{Key: "image_features", Value: jsonString(s.Cameras)},
		{Key: "image_size", Value: jsonString([]int{s.ImageHeight, s.ImageWidth})},
		{Key: "image_range", Value: "[0, 1]"},
		{Key: "normalization_mapping", Value: jsonString(map[string]string{"VISUAL": "MEAN_STD"})},
		{Key: "image_mean", Value: jsonString(s.ImageMean)},
		{Key: "image_std", Value: jsonString(s.ImageStd)},
		{Key: "backbone", Value: s.Backbone},
		{Key: "success_threshold", Value: "0.5"},
	}
	return onnx.Model{Graph: g, ProducerVersion: version.Version, DocString: "e2hil HIL-SERL reward classifier: camera images in [0, 1] → success probability", Metadata: meta}.Marshal()
}
