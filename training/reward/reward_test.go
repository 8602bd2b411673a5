package reward

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/e2hil/e2hil/models"
)

func TestEvaluate(t *testing.T) {
	cases := []struct {
		name                 string
		logits, labels       []float32
		acc, prec, rec, f1   float64
		correct, total, npos int
	}{
		{"all right", []float32{3, -2, 1, -1}, []float32{1, 0, 1, 0}, 100, 1, 1, 1, 4, 4, 2},
		{"one false positive", []float32{3, 2, 1, -1}, []float32{1, 0, 1, 0}, 75, 2.0 / 3, 1, 0.8, 3, 4, 2},
		{"one miss", []float32{3, -2, -1, -1}, []float32{1, 0, 1, 0}, 75, 1, 0.5, 2.0 / 3, 3, 4, 2},
		{"never positive", []float32{-3, -2}, []float32{1, 0}, 50, 0, 0, 0, 1, 2, 1},
	}
	for _, tc := range cases {
		m := Evaluate(tc.logits, tc.labels)
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
		if !near(m.Accuracy, tc.acc) || !near(m.Precision, tc.prec) || !near(m.Recall, tc.rec) || !near(m.F1, tc.f1) ||
			m.Correct != tc.correct || m.Total != tc.total || m.Positives != tc.npos {
			t.Errorf("%s: %+v", tc.name, m)
		}
		var loss float64
		for i, z := range tc.logits {
			p := 1 / (1 + math.Exp(-float64(z)))
			y := float64(tc.labels[i])
			loss -= y*math.Log(p) + (1-y)*math.Log(1-p)
		}
		if !near(math.Round(m.Loss*1e6), math.Round(loss/float64(len(tc.logits))*1e6)) {
			t.Errorf("%s: loss %g, want %g", tc.name, m.Loss, loss/float64(len(tc.logits)))
		}
	}
}

func TestSplitByEpisode(t *testing.T) {
	f := &Frames{}
	for ep := range 10 {
		for range 5 + ep {
			f.Episode = append(f.Episode, ep)
			f.Labels = append(f.Labels, 0)
		}
	}
	train, val := f.SplitByEpisode(0.2, 7)
	if len(train)+len(val) != f.Len() {
		t.Fatalf("%d + %d frames, want %d", len(train), len(val), f.Len())
	}
	inVal := map[int]bool{}
	for _, i := range val {
		inVal[f.Episode[i]] = true
	}
	if len(inVal) != 2 {
		t.Errorf("%d validation episodes, want 2", len(inVal))
	}
	for _, i := range train {
		if inVal[f.Episode[i]] {
			t.Fatalf("episode %d in both splits", f.Episode[i])
		}
	}
	again, _ := f.SplitByEpisode(0.2, 7)
	for i := range train {
		if again[i] != train[i] {
			t.Fatal("the split depends on more than the seed")
		}
	}
}

// TestFillLayout: HWC bytes become CHW floats in [0, 1].
func TestFillLayout(t *testing.T) {
	f := &Frames{Cameras: []string{"a"}, H: 1, W: 2, Pix: [][]uint8{{0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6}}, Labels: []float32{1, 0}}
	img := [][]float32{make([]float32, 6)}
	lab := make([]float32, 1)
	f.Fill([]int{0}, img, lab)
	want := []float32{0, 0.6, 0.2, 0.8, 0.4, 1}
	for i := range want {
		if math.Abs(float64(img[0][i]-want[i])) > 1e-6 {
			t.Fatalf("CHW %v, want %v", img[0], want)
		}
	}
	if lab[0] != 1 {
		t.Errorf("label %g", lab[0])
	}
}

// TestTrainerLearnsBrightness: a frozen-backbone classifier learns to tell
// bright from dark frames within a few dozen steps, and its predictor then
// agrees with the labels.
func TestTrainerLearnsBrightness(t *testing.T) {
	spec := models.DefaultClassifierSpec("observation.images.front")
	spec.ImageHeight, spec.ImageWidth = 32, 32
	spec.LatentDim, spec.HiddenDim = 32, 32
	spec.TrainBackbone = false
	p, err := spec.NewParams(1)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 8
	tr, err := NewTrainer(spec, p, Options{Batch: batch, LR: 1e-3, WeightDecay: 0.01, GradClipNorm: 10, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rng := rand.New(rand.NewPCG(4, 5))
	per := 3 * 32 * 32
	draw := func(n int) ([]float32, []float32) {
		im, lab := make([]float32, n*per), make([]float32, n)
		for i := range n {
			lab[i] = float32(rng.IntN(2))
			base := 0.2 + 0.5*lab[i]
			for j := range per {
				im[i*per+j] = base + 0.3*rng.Float32()
			}
		}
		return im, lab
	}
	var first, last float64
	for step := range 60 {
		im, lab := draw(batch)
		r, err := tr.Step([][]float32{im}, lab)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = r.Loss
		}
		last = r.Loss
	}
	if !(last < first/2) {
		t.Errorf("loss %g → %g: not learning", first, last)
	}
	pr, err := spec.NewPredictor(p, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	im, lab := draw(40)
	z, err := pr.Logits([][]float32{im}, 40)
	if err != nil {
		t.Fatal(err)
	}
	if m := Evaluate(z, lab); m.Accuracy < 95 {
		t.Errorf("held-out accuracy %.1f%%", m.Accuracy)
	}
	if _, err := tr.Step([][]float32{im[:per]}, lab[:1]); err == nil {
		t.Error("a batch of the wrong size was accepted")
	}
}

// TestTrainerPlanMatchesTapeMachine: two steps through models.Plan give the
// parameters (and BatchNorm running statistics) Gorgonia's tape machine
// gives, for the trained and the frozen backbone.
func TestTrainerPlanMatchesTapeMachine(t *testing.T) {
	for _, train := range []bool{true, false} {
		spec := models.DefaultClassifierSpec("observation.images.front", "observation.images.wrist")
		spec.ImageHeight, spec.ImageWidth = 32, 32
		spec.LatentDim, spec.HiddenDim = 16, 8
		spec.TrainBackbone = train
		const batch = 4
		rng := rand.New(rand.NewPCG(8, 9))
		per := 3 * 32 * 32
		var ims [2][][]float32
		for s := range ims {
			ims[s] = [][]float32{make([]float32, batch*per), make([]float32, batch*per)}
			for _, im := range ims[s] {
				for j := range im {
					im[j] = rng.Float32()
				}
			}
		}
		labels := []float32{1, 0, 0, 1}
		var stores [2]*models.Params
		var grads [2][][]float32
		var losses [2]float64
		for k, plan := range []bool{true, false} {
			p, err := spec.NewParams(1)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := newTrainer(spec, p, Options{Batch: batch, LR: 1e-3, WeightDecay: 0.01, GradClipNorm: 1, Seed: 3}, plan)
			if err != nil {
				t.Fatal(err)
			}
			if (tr.plan != nil) != plan {
				t.Fatalf("plan %v: trainer plan %v", plan, tr.plan != nil)
			}
			for s := range ims {
				r, err := tr.Step(ims[s], labels)
				if err != nil {
					t.Fatal(err)
				}
				if s == 0 { // the first step's (clipped) gradients
					losses[k] = r.Loss
					for _, g := range tr.grads {
						grads[k] = append(grads[k], append([]float32(nil), g...))
					}
				}
			}
			tr.Close()
			stores[k] = p
		}
		if math.Abs(losses[0]-losses[1]) > 1e-6 {
			t.Errorf("train backbone %v: loss %g with the plan, %g with the tape machine", train, losses[0], losses[1])
		}
		for i := range grads[0] {
			for j := range grads[0][i] {
				a, b := grads[0][i][j], grads[1][i][j]
				if d := math.Abs(float64(a - b)); d > 1e-5*math.Max(1e-2, math.Abs(float64(b))) {
					t.Fatalf("train backbone %v: gradient %d[%d]: plan %g, tape machine %g", train, i, j, a, b)
				}
			}
		}
		for _, n := range stores[0].Names() {
			a, b := stores[0].Data(n), stores[1].Data(n)
			for i := range a {
				if d := math.Abs(float64(a[i] - b[i])); d > 1e-5*math.Max(1, math.Abs(float64(b[i]))) {
					t.Fatalf("train backbone %v: %s[%d]: plan %g, tape machine %g", train, n, i, a[i], b[i])
				}
			}
		}
	}
}

// TestTrainerFrozenFeaturesPerCamera: batching the cameras through the
// frozen backbone together gives each camera the features it alone gets.
func TestTrainerFrozenFeaturesPerCamera(t *testing.T) {
	for _, v := range []string{models.ResNetBatchNorm, models.ResNetHILSERL} {
		t.Run(v, func(t *testing.T) { testFrozenFeaturesPerCamera(t, v) })
	}
}

func testFrozenFeaturesPerCamera(t *testing.T, variant string) {
	spec := models.DefaultClassifierSpec("a", "b", "c")
	spec.Backbone = variant
	spec.ImageHeight, spec.ImageWidth = 32, 32
	spec.LatentDim, spec.HiddenDim = 8, 8
	spec.TrainBackbone = false
	p, err := spec.NewParams(2)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 3
	tr, err := NewTrainer(spec, p, Options{Batch: batch, LR: 1e-3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	per := batch * 3 * 32 * 32
	images := make([][]float32, 3)
	for i := range images {
		images[i] = make([]float32, per)
		for j := range images[i] {
			images[i][j] = rng.Float32() * float32(i+1) / 3
		}
	}
	if err := tr.load(images, tr.inputs); err != nil {
		t.Fatal(err)
	}
	e, err := spec.ResNet().NewFeatureExtractor(p, batch, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	norm, want := make([]float32, per), make([]float32, batch*e.FeatureSize())
	for i := range images {
		spec.NormalizeImages(images[i], norm)
		if err := e.Extract(norm, want); err != nil {
			t.Fatal(err)
		}
		for j := range want {
			if d := math.Abs(float64(tr.inputs[i][j] - want[j])); d > 1e-5*math.Max(1, math.Abs(float64(want[j]))) {
				t.Fatalf("camera %d feature %d: %g batched, %g alone", i, j, tr.inputs[i][j], want[j])
			}
		}
	}
}
