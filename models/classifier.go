package models

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/e2hil/e2hil/models/preprocess"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ClassifierSpec is the shape of HIL-SERL's reward classifier (HILSERL.md
// §5, LeRobot modeling_classifier.py), binary (num_classes 2 → one logit):
//
//	per camera   ResNet-10 (shared) → SpatialEmbeddings(F) → Dropout
//	             → Linear(C·F → latent) → LayerNorm → Tanh
//	head         concat cameras → Linear(→ hidden) → Dropout → LayerNorm
//	             → ReLU → Linear(→ 1)
//
// Images enter in [0, 1] and are normalised with ImageMean/ImageStd (LeRobot's
// MEAN_STD VISUAL normalisation with ImageNet statistics) before the backbone.
type ClassifierSpec struct {
	Cameras         []string   `json:"cameras"` // image feature names, in input_features order
	ImageHeight     int        `json:"image_height"`
	ImageWidth      int        `json:"image_width"`
	LatentDim       int        `json:"latent_dim"`
	HiddenDim       int        `json:"hidden_dim"`
	SpatialFeatures int        `json:"image_embedding_pooling_dim"`
	DropoutRate     float64    `json:"dropout_rate"`
	Backbone        string     `json:"backbone"` // ResNetBatchNorm or ResNetHILSERL
	TrainBackbone   bool       `json:"train_backbone"`
	ImageMean       [3]float32 `json:"image_mean"`
	ImageStd        [3]float32 `json:"image_std"`
}

// DefaultClassifierSpec is LeRobot's RewardClassifierConfig for the given
// cameras at 128×128: latent 256, hidden 256, 8 spatial features, dropout
// 0.1, ImageNet normalisation; the backbone trained (no pretrained weights).
func DefaultClassifierSpec(cameras ...string) ClassifierSpec {
	return ClassifierSpec{Cameras: cameras, ImageHeight: 128, ImageWidth: 128, LatentDim: 256, HiddenDim: 256,
		SpatialFeatures: 8, DropoutRate: 0.1, Backbone: ResNetBatchNorm, TrainBackbone: true,
		ImageMean: [3]float32(preprocess.ImageNetMean), ImageStd: [3]float32(preprocess.ImageNetStd)}
}

// Validate checks the spec.
func (s ClassifierSpec) Validate() error {
	var errs []error
	if len(s.Cameras) == 0 {
		errs = append(errs, errors.New("models: classifier needs at least one camera"))
	}
	seen := map[string]bool{}
	for _, c := range s.Cameras {
		if c == "" || seen[c] {
			errs = append(errs, fmt.Errorf("models: classifier camera name %q empty or repeated", c))
		}
		seen[c] = true
	}
	if s.ImageHeight < 32 || s.ImageWidth < 32 {
		errs = append(errs, fmt.Errorf("models: classifier image %dx%d: must be at least 32x32", s.ImageHeight, s.ImageWidth))
	}
	if s.LatentDim < 1 || s.HiddenDim < 1 || s.SpatialFeatures < 1 {
		errs = append(errs, fmt.Errorf("models: classifier latent_dim %d, hidden_dim %d, image_embedding_pooling_dim %d: must be ≥ 1", s.LatentDim, s.HiddenDim, s.SpatialFeatures))
	}
	if !(s.DropoutRate >= 0 && s.DropoutRate < 1) {
		errs = append(errs, fmt.Errorf("models: classifier dropout_rate %g: must be in [0, 1)", s.DropoutRate))
	}
	if err := s.ResNet().Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.TrainBackbone && s.Backbone == ResNetHILSERL {
		errs = append(errs, fmt.Errorf("models: classifier backbone %q is frozen only (train_backbone must be false)", ResNetHILSERL))
	}
	for i := range 3 {
		if !(s.ImageStd[i] > 0) {
			errs = append(errs, fmt.Errorf("models: classifier image_std[%d] = %g: must be > 0", i, s.ImageStd[i]))
		}
	}
	return errors.Join(errs...)
}

// Classifier parameter prefixes.
const (
	PrefixClassifier = "classifier."
	classifierBB     = "classifier.backbone"
)

// ResNet is the classifier's backbone.
func (s ClassifierSpec) ResNet() ResNet10 { return ResNet10{Prefix: classifierBB, Variant: s.Backbone} }

// FeatureShape is the backbone's output [C, h, w].
func (s ClassifierSpec) FeatureShape() (c, h, w int) {
	return s.ResNet().OutShape(s.ImageHeight, s.ImageWidth)
}

func encoderPrefix(i int) string { return fmt.Sprintf("classifier.encoders.%d", i) }

// NewParams defines and initialises every parameter as PyTorch would:
// the backbone per ResNet10.AddParams, spatial kernels kaiming_normal
// (fan_in), Linear U(±1/√fan_in), LayerNorm 1, 0.
func (s ClassifierSpec) NewParams(seed uint64) (*Params, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0xc1a5))
	p := NewParams()
	if err := s.ResNet().AddParams(p, rng); err != nil {
		return nil, err
	}
	linear := func(name string, in, out int) {
		bound := float32(1 / math.Sqrt(float64(in)))
		uniform(rng, p.Add(name+".weight", in, out), bound)
		uniform(rng, p.Add(name+".bias", 1, out), bound)
	}
	norm := func(name string, d int) {
		fill(p.Add(name+".weight", 1, d), 1)
		p.Add(name+".bias", 1, d)
	}
	c, h, w := s.FeatureShape()
	for i := range s.Cameras {
		e := encoderPrefix(i)
		k := p.Add(e+".spatial.kernel", c*h*w, s.SpatialFeatures)
		InitSpatialKernel(rng, k.Data().([]float32), h*w, s.SpatialFeatures)
		linear(e+".linear", c*s.SpatialFeatures, s.LatentDim)
		norm(e+".norm", s.LatentDim)
	}
	linear("classifier.head.linear", s.LatentDim*len(s.Cameras), s.HiddenDim)
	norm("classifier.head.norm", s.HiddenDim)
	linear("classifier.head.out", s.HiddenDim, 1)
	return p, nil
}

// TrainableNames lists the parameters an optimiser updates, in walk order:
// the backbone's (without running statistics) when TrainBackbone, then the
// encoders' and the head's.
func (s ClassifierSpec) TrainableNames(p *Params) []string {
	var out []string
	if s.TrainBackbone {
		out = s.ResNet().ParamNames(p, true)
	}
	return append(out, p.WithPrefix("classifier.encoders.", "classifier.head.")...)
}

// ClassifierInputs are the graph inputs of one forward pass: per camera
// either normalised images [N, 3, H, W] (Images, when the backbone is in the
// graph) or backbone features [N, C·h·w] (Features, frozen backbone computed
// outside); dropout masks when training (0 or 1/(1−p), filled per step by
// the caller with FillDropout).
type ClassifierInputs struct {
	Images   []*G.Node
	Features []*G.Node
	// Masks: per camera [N, C·F] after the spatial embeddings, then the head
	// [N, hidden]; nil for evaluation.
	Masks []*G.Node
}

// Logits builds the classifier's logits [N, 1]. The backbone runs in train
// mode (BatchNorm batch statistics) when Images are given and TrainBackbone
// is set, frozen otherwise.
func (s ClassifierSpec) Logits(b *Graph, in ClassifierInputs) (*G.Node, error) {
	nc := len(s.Cameras)
	if (len(in.Images) != nc) == (len(in.Features) != nc) {
		return nil, fmt.Errorf("models: classifier needs images or features for its %d cameras, got %d and %d", nc, len(in.Images), len(in.Features))
	}
	if in.Masks != nil && len(in.Masks) != nc+1 {
		return nil, fmt.Errorf("models: classifier needs %d dropout masks, got %d", nc+1, len(in.Masks))
	}
	c, h, w := s.FeatureShape()
	var latent *G.Node
	for i := range nc {
		var f *G.Node
		if in.Images != nil {
			y, err := s.ResNet().Forward(b, in.Images[i], s.TrainBackbone)
			if err != nil {
				return nil, err
			}
			if f, err = G.Reshape(y, tensor.Shape{y.Shape()[0], c * h * w}); err != nil {
				return nil, err
			}
		} else {
			f = in.Features[i]
		}
		e := encoderPrefix(i)
		z, err := SpatialEmbeddings(f, b.Param(e+".spatial.kernel"), c, h*w, s.SpatialFeatures)
		if err != nil {
			return nil, err
		}
		if in.Masks != nil {
			if z, err = G.HadamardProd(z, in.Masks[i]); err != nil {
				return nil, err
			}
		}
		z = G.Must(Tanh(b.LayerNorm(e+".norm", b.Linear(e+".linear", z))))
		if latent == nil {
			latent = z
		} else if latent, err = ConcatCols(latent, z); err != nil {
			return nil, err
		}
	}
	x := b.Linear("classifier.head.linear", latent)
	if in.Masks != nil {
		var err error
		if x, err = G.HadamardProd(x, in.Masks[nc]); err != nil {
			return nil, err
		}
	}
	x, err := ReLU(b.LayerNorm("classifier.head.norm", x))
	if err != nil {
		return nil, err
	}
	return b.Linear("classifier.head.out", x), nil
}

// MaskShapes lists the dropout mask shapes Logits expects for a batch of n.
func (s ClassifierSpec) MaskShapes(n int) [][2]int {
	var out [][2]int
	c, _, _ := s.FeatureShape()
	for range s.Cameras {
		out = append(out, [2]int{n, c * s.SpatialFeatures})
	}
	return append(out, [2]int{n, s.HiddenDim})
}

// FillDropout draws an inverted-dropout mask: each value 0 with probability
// rate, else 1/(1 − rate) (torch's nn.Dropout in train mode).
func FillDropout(rng *rand.Rand, mask []float32, rate float64) {
	keep := float32(1 / (1 - rate))
	for i := range mask {
		if rng.Float64() < rate {
			mask[i] = 0
		} else {
			mask[i] = keep
		}
	}
}

// NormalizeImages maps images in [0, 1] ([n, 3, H, W]) to the backbone's
// input, (x − mean)/std per channel, into out.
func (s ClassifierSpec) NormalizeImages(images, out []float32) {
	p := s.ImageHeight * s.ImageWidth
	for i := 0; i+3*p <= len(images); i += 3 * p {
		for c := range 3 {
			a, b := 1/s.ImageStd[c], -s.ImageMean[c]/s.ImageStd[c]
			src, dst := images[i+c*p:i+(c+1)*p], out[i+c*p:i+(c+1)*p]
			for j, v := range src {
				dst[j] = v*a + b
			}
		}
	}
}

// BCEWithLogits is the per-sample binary cross-entropy of logits z against
// labels y in [0, 1] (torch's binary_cross_entropy_with_logits, reduction
// none): max(z, 0) − z·y + log(1 + e^−|z|). Differentiable in z (its
// gradient σ(z) − y); take G.Mean of it for torch's mean reduction.
func BCEWithLogits(z, y *G.Node) (*G.Node, error) {
	if !z.Shape().Eq(y.Shape()) {
		return nil, fmt.Errorf("models: BCEWithLogits of logits %v and labels %v", z.Shape(), y.Shape())
	}
	s := z.Shape().Clone()
	op := &kOp{
		name: fmt.Sprintf("BCEWithLogits%v", s), arity: 2, typ: fnType(2), shape: s,
		fn: func(l []float32, in [][]float32) {
			for i, v := range in[0] {
				x := float64(v)
				l[i] = float32(math.Max(x, 0) - x*float64(in[1][i]) + math.Log1p(math.Exp(-math.Abs(x))))
			}
		},
		wrt: []bool{true, false},
	}
	op.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dz, err := G.ApplyOp(&kOp{
			name: fmt.Sprintf("BCEWithLogitsGrad%v", s), arity: 3, typ: fnType(3), shape: s,
			fn: func(dz []float32, in [][]float32) {
				for i, v := range in[0] {
					dz[i] = in[2][i] * (float32(1/(1+math.Exp(-float64(v)))) - in[1][i])
				}
			},
		}, in[0], in[1], grad)
		return G.Nodes{dz, nil}, err
	}
	return G.ApplyOp(op, z, y)
}

// Sigmoid32 is the logistic function, for turning logits into the success
// probability.
func Sigmoid32(z float32) float32 { return float32(1 / (1 + math.Exp(-float64(z)))) }

// ClassifierPredictor evaluates a classifier (eval mode: no dropout,
// backbone norms with their running statistics) on batches of raw images.
// The backbone's weights are read when it is built (rebuild it after
// training the backbone); the head's are read live. Not safe for concurrent
// use.
type ClassifierPredictor struct {
	spec    ClassifierSpec
	batch   int
	extract *FeatureExtractor
	feats   [][]float32
	norm    []float32
	logits  *G.Node
	plan    *Plan
	vm      G.VM // when the graph cannot be planned
}

// NewPredictor builds a predictor for up to batch images per camera.
func (s ClassifierSpec) NewPredictor(p *Params, batch int) (*ClassifierPredictor, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	e, err := s.ResNet().NewFeatureExtractor(p, batch, s.ImageHeight, s.ImageWidth)
	if err != nil {
		return nil, err
	}
	b := NewGraph(p)
	var in ClassifierInputs
	fs := e.FeatureSize()
	pr := &ClassifierPredictor{spec: s, batch: batch, extract: e, norm: make([]float32, batch*3*s.ImageHeight*s.ImageWidth)}
	for i := range s.Cameras {
		d := make([]float32, batch*fs)
		in.Features = append(in.Features, G.NodeFromAny(b.G, tensor.New(tensor.WithShape(batch, fs), tensor.WithBacking(d)), G.WithName(fmt.Sprintf("features%d", i))))
		pr.feats = append(pr.feats, d)
	}
	if pr.logits, err = s.Logits(b, in); err != nil {
		e.Close()
		return nil, err
	}
	if pr.plan = NewPlan(b.G); pr.plan == nil {
		pr.vm = G.NewTapeMachine(b.G)
	}
	return pr, nil
}

// Logits returns the logits of n samples: images per camera, [n, 3, H, W]
// in [0, 1]. σ(logit) is the success probability.
func (pr *ClassifierPredictor) Logits(images [][]float32, n int) ([]float32, error) {
	s := pr.spec
	per := 3 * s.ImageHeight * s.ImageWidth
	if len(images) != len(s.Cameras) {
		return nil, fmt.Errorf("models: classifier: %d cameras of images, want %d", len(images), len(s.Cameras))
	}
	for i, im := range images {
		if len(im) != n*per {
			return nil, fmt.Errorf("models: classifier: camera %s: %d values, want %d", s.Cameras[i], len(im), n*per)
		}
	}
	out := make([]float32, 0, n)
	fs := pr.extract.FeatureSize()
	for at := 0; at < n; at += pr.batch {
		k := min(pr.batch, n-at)
		for i, im := range images {
			norm := pr.norm[:k*per]
			s.NormalizeImages(im[at*per:(at+k)*per], norm)
			if err := pr.extract.Extract(norm, pr.feats[i][:k*fs]); err != nil {
				return nil, err
			}
			clear(pr.feats[i][k*fs:])
		}
		z := pr.logits.Value()
		if pr.plan != nil {
			if err := pr.plan.Run(); err != nil {
				return nil, fmt.Errorf("models: classifier: %w", err)
			}
			z = pr.plan.Value(pr.logits)
		} else if err := runRewind(pr.vm); err != nil {
			return nil, fmt.Errorf("models: classifier: %w", err)
		} else {
			z = pr.logits.Value()
		}
		out = append(out, z.Data().([]float32)[:k]...)
	}
	return out, nil
}

// Close releases the graphs.
func (pr *ClassifierPredictor) Close() error {
	pr.extract.Close()
	if pr.vm != nil {
		return pr.vm.Close()
	}
	return nil
}
