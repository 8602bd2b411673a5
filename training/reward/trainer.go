// Package reward trains HIL-SERL's reward classifier (HILSERL.md §5): camera
// frames → success probability, from a LeRobot dataset's next.reward labels.
// It owns the training step (BCE, gradient clipping, AdamW), the evaluation
// metrics and the dataset-to-batch pipeline; the network itself is
// models.ClassifierSpec. It must not import drivers or the SAC learner.
package reward

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/optim"
)

// Options are the optimisation settings of a Trainer.
type Options struct {
	Batch        int
	LR           float64 // AdamW learning rate
	WeightDecay  float64 // AdamW decoupled weight decay (0: plain Adam)
	GradClipNorm float64 // global L2 norm bound (0: no clipping)
	Seed         uint64  // dropout masks
}

// Trainer runs training steps of a classifier on fixed-size batches.
// Not safe for concurrent use.
type Trainer struct {
	Spec   models.ClassifierSpec
	Params *models.Params
	opts   Options

	b       *models.Graph
	plan    *models.Plan
	vm      G.VM        // when the graph cannot be planned
	inputs  [][]float32 // per camera: normalised images or backbone features
	masks   [][]float32
	labels  []float32
	logits  *G.Node
	loss    *G.Node
	params  G.Nodes
	names   []string
	grads   [][]float32
	adam    *optim.Adam
	rng     *rand.Rand
	extract *models.FeatureExtractor // frozen backbone
	norm    []float32                // every camera's normalised images
	feats   []float32                // every camera's backbone features
}

// NewTrainer builds the training graph for batches of opts.Batch: with the
// backbone in the graph when spec.TrainBackbone, else on backbone features
// computed by a frozen FeatureExtractor (the weights as they are now).
func NewTrainer(spec models.ClassifierSpec, p *models.Params, opts Options) (*Trainer, error) {
	return newTrainer(spec, p, opts, true)
}

// newTrainer with plan false runs the graph on Gorgonia's tape machine (the
// reference the plan is tested against).
func newTrainer(spec models.ClassifierSpec, p *models.Params, opts Options, plan bool) (*Trainer, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if opts.Batch < 1 || !(opts.LR > 0) || opts.WeightDecay < 0 || opts.GradClipNorm < 0 {
		return nil, fmt.Errorf("reward: batch %d, lr %g, weight decay %g, grad clip %g", opts.Batch, opts.LR, opts.WeightDecay, opts.GradClipNorm)
	}
	t := &Trainer{Spec: spec, Params: p, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0xd207))}
	n := opts.Batch
	t.b = models.NewGraph(p)
	var in models.ClassifierInputs
	c, h, w := spec.FeatureShape()
	for i := range spec.Cameras {
		if spec.TrainBackbone {
			d := make([]float32, n*3*spec.ImageHeight*spec.ImageWidth)
			x := G.NodeFromAny(t.b.G, tensor.New(tensor.WithShape(n, 3, spec.ImageHeight, spec.ImageWidth), tensor.WithBacking(d)), G.WithName(fmt.Sprintf("images%d", i)))
			in.Images = append(in.Images, x)
			t.inputs = append(t.inputs, d)
		} else {
			d := make([]float32, n*c*h*w)
			x := G.NodeFromAny(t.b.G, tensor.New(tensor.WithShape(n, c*h*w), tensor.WithBacking(d)), G.WithName(fmt.Sprintf("features%d", i)))
			in.Features = append(in.Features, x)
			t.inputs = append(t.inputs, d)
		}
	}
	for i, s := range spec.MaskShapes(n) {
		d := make([]float32, s[0]*s[1])
		in.Masks = append(in.Masks, G.NodeFromAny(t.b.G, tensor.New(tensor.WithShape(s[0], s[1]), tensor.WithBacking(d)), G.WithName(fmt.Sprintf("mask%d", i))))
		t.masks = append(t.masks, d)
	}
	logits, err := spec.Logits(t.b, in)
	if err != nil {
		return nil, err
	}
	t.labels = make([]float32, n)
	y := G.NodeFromAny(t.b.G, tensor.New(tensor.WithShape(n, 1), tensor.WithBacking(t.labels)), G.WithName("labels"))
	l, err := models.BCEWithLogits(logits, y)
	if err != nil {
		return nil, err
	}
	if t.loss, err = G.Mean(l); err != nil {
		return nil, err
	}
	t.logits = logits
	t.names = spec.TrainableNames(p)
	t.params = t.b.ParamNodes(t.names)
	if len(t.params) != len(t.names) {
		return nil, fmt.Errorf("reward: the classifier graph uses %d of its %d trainable parameters", len(t.params), len(t.names))
	}
	_, keep, err := models.Grad(t.loss, t.params...)
	if err != nil {
		return nil, fmt.Errorf("reward: differentiate: %w", err)
	}
	if plan { // without the derivatives towards the images, which nothing reads
		t.plan = models.NewPlan(t.b.G, keep...)
	}
	if t.plan == nil {
		t.vm = G.NewTapeMachine(t.b.G, G.BindDualValues(t.params...))
	}
	values := make([][]float32, len(t.names))
	for i, name := range t.names {
		values[i] = p.Data(name)
	}
	t.adam = optim.NewAdam(opts.LR, values)
	if !spec.TrainBackbone {
		// All cameras go through the backbone in one batch, as LeRobot does
		// (eval-mode norms are per image): one wider GEMM per convolution.
		nc := len(spec.Cameras)
		if t.extract, err = spec.ResNet().NewFeatureExtractor(p, n*nc, spec.ImageHeight, spec.ImageWidth); err != nil {
			return nil, err
		}
	}
	t.norm = make([]float32, len(spec.Cameras)*n*3*spec.ImageHeight*spec.ImageWidth)
	if !spec.TrainBackbone {
		c, h, w := spec.FeatureShape()
		t.feats = make([]float32, len(spec.Cameras)*n*c*h*w)
	}
	return t, nil
}

// Close releases the graphs.
func (t *Trainer) Close() error {
	if t.extract != nil {
		t.extract.Close()
	}
	if t.vm != nil {
		return t.vm.Close()
	}
	return nil
}

// Adam exposes the optimiser state (for checkpoints).
func (t *Trainer) Adam() *optim.Adam { return t.adam }

// load fills the camera inputs from raw images ([0, 1], [Batch, 3, H, W]
// per camera): normalised, and through the frozen backbone if any.
func (t *Trainer) load(images [][]float32, dst [][]float32) error {
	if len(images) != len(t.Spec.Cameras) {
		return fmt.Errorf("reward: %d cameras of images, want %d", len(images), len(t.Spec.Cameras))
	}
	per := len(t.norm) / len(images)
	for i, im := range images {
		if len(im) != per {
			return fmt.Errorf("reward: camera %s: %d values, want %d", t.Spec.Cameras[i], len(im), per)
		}
		if t.extract == nil {
			t.Spec.NormalizeImages(im, dst[i])
		} else {
			t.Spec.NormalizeImages(im, t.norm[i*per:(i+1)*per])
		}
	}
	if t.extract == nil {
		return nil
	}
	if err := t.extract.Extract(t.norm, t.feats); err != nil {
		return err
	}
	fs := len(t.feats) / len(images)
	for i := range images {
		copy(dst[i], t.feats[i*fs:(i+1)*fs])
	}
	return nil
}

// StepResult reports one training step.
type StepResult struct {
	Loss     float64
	GradNorm float64 // before clipping
	Correct  int     // predictions (σ(logit) > 0.5) equal to the label
}

// Step trains on one batch: images per camera ([0, 1], [Batch, 3, H, W]),
// labels 0/1. Dropout masks are drawn from the trainer's seeded stream;
// gradients clipped to GradClipNorm; AdamW: p ← p·(1 − lr·wd), then Adam.
func (t *Trainer) Step(images [][]float32, labels []float32) (StepResult, error) {
	if len(labels) != len(t.labels) {
		return StepResult{}, fmt.Errorf("reward: %d labels, want batch %d", len(labels), len(t.labels))
	}
	if err := t.load(images, t.inputs); err != nil {
		return StepResult{}, err
	}
	copy(t.labels, labels)
	for _, m := range t.masks {
		models.FillDropout(t.rng, m, t.Spec.DropoutRate)
	}
	if err := t.run(); err != nil {
		return StepResult{}, err
	}
	var res StepResult
	res.Loss = float64(t.scalar(t.loss))
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		return res, fmt.Errorf("reward: loss is %g", res.Loss)
	}
	if t.opts.GradClipNorm > 0 {
		res.GradNorm = optim.ClipGradNorm(t.grads, t.opts.GradClipNorm)
	} else {
		res.GradNorm = optim.ClipGradNorm(t.grads, math.Inf(1))
	}
	if wd := t.opts.WeightDecay; wd > 0 {
		f := float32(1 - t.opts.LR*wd)
		for _, name := range t.names {
			d := t.Params.Data(name)
			for i := range d {
				d[i] *= f
			}
		}
	}
	t.adam.Update(t.grads)
	for i, z := range t.value(t.logits).Data().([]float32) {
		if (z > 0) == (labels[i] > 0.5) {
			res.Correct++
		}
	}
	return res, nil
}

// run executes the graph and points t.grads at the parameters' gradients.
func (t *Trainer) run() error {
	if t.grads == nil {
		t.grads = make([][]float32, len(t.params))
	}
	if t.plan != nil {
		if err := t.plan.Run(); err != nil {
			return fmt.Errorf("reward: training step: %w", err)
		}
		for i, n := range t.params {
			g := t.plan.Value(n.Deriv())
			if g == nil {
				return fmt.Errorf("reward: no gradient for %s", t.names[i])
			}
			t.grads[i] = g.Data().([]float32)
		}
		return nil
	}
	for _, n := range t.params { // Gorgonia accumulates into the gradient buffers
		if g, err := n.Grad(); err == nil && g != nil {
			clear(g.Data().([]float32))
		}
	}
	if err := models.RunRewind(t.vm); err != nil {
		return fmt.Errorf("reward: training step: %w", err)
	}
	for i, n := range t.params {
		g, err := n.Grad()
		if err != nil {
			return fmt.Errorf("reward: gradient of %s: %w", t.names[i], err)
		}
		t.grads[i] = g.Data().([]float32)
	}
	return nil
}

func (t *Trainer) value(n *G.Node) G.Value {
	if t.plan != nil {
		return t.plan.Value(n)
	}
	return n.Value()
}

func (t *Trainer) scalar(n *G.Node) float32 {
	switch v := t.value(n).Data().(type) {
	case float32:
		return v
	case []float32:
		return v[0]
	}
	return float32(math.NaN())
}
