package models

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestBCEWithLogitsGradientFiniteDifference(t *testing.T) {
	labels := []float32{0, 1, 1, 0, 0.3, 1}
	fdCheck(t, "BCEWithLogits", [][]int{{6, 1}}, normal, func(in ...*G.Node) *G.Node {
		y := G.NodeFromAny(in[0].Graph(), tensor.New(tensor.WithShape(6, 1), tensor.WithBacking(append([]float32(nil), labels...))), G.WithName("y"))
		return G.Must(BCEWithLogits(in[0], y))
	})
}

func TestBCEWithLogitsValues(t *testing.T) {
	z := []float32{-30, -2, 0, 0.5, 3, 40}
	y := []float32{0, 1, 1, 0, 1, 0}
	got := run(t, [][]int{{6, 1}, {6, 1}}, [][]float32{z, y}, func(in ...*G.Node) (*G.Node, error) { return BCEWithLogits(in[0], in[1]) })
	for i := range z {
		p := 1 / (1 + math.Exp(-float64(z[i])))
		want := -(float64(y[i])*math.Log(math.Max(p, 1e-300)) + (1-float64(y[i]))*math.Log(math.Max(1-p, 1e-300)))
		if z[i] == 40 {
			want = 40 // log(1 − σ(40)) underflows in the naive form
		}
		if math.Abs(float64(got[i])-want) > 1e-5*math.Max(1, want) {
			t.Errorf("BCE(%g, %g) = %g, want %g", z[i], y[i], got[i], want)
		}
	}
}

// smallSpec is a classifier small enough for finite differences of its head.
func smallSpec() ClassifierSpec {
	s := DefaultClassifierSpec("observation.images.front", "observation.images.wrist")
	s.ImageHeight, s.ImageWidth = 32, 32 // features 512×1×1
	s.LatentDim, s.HiddenDim, s.SpatialFeatures = 6, 5, 2
	s.TrainBackbone = false
	return s
}

// TestClassifierHeadGradientsFiniteDifference: the BCE loss of the head
// (spatial embeddings → … → logit, on backbone features, with fixed dropout
// masks) against central differences, for sampled elements of every
// trainable parameter and of the features.
func TestClassifierHeadGradientsFiniteDifference(t *testing.T) {
	s := smallSpec()
	p, err := s.NewParams(3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	const n = 5
	c, h, w := s.FeatureShape()
	feats := [][]float32{randVec(rng, n*c*h*w), randVec(rng, n*c*h*w)}
	var masks [][]float32
	for _, ms := range s.MaskShapes(n) {
		m := make([]float32, ms[0]*ms[1])
		FillDropout(rng, m, 0.3)
		masks = append(masks, m)
	}
	labels := []float32{1, 0, 1, 1, 0}
	names := s.TrainableNames(p)
	for _, nm := range names {
		if strings.HasPrefix(nm, classifierBB) {
			t.Fatalf("frozen backbone parameter %s is trainable", nm)
		}
	}
	loss := func(withGrad bool) (float64, [][]float32) {
		b := NewGraph(p)
		var in ClassifierInputs
		var fnodes G.Nodes
		for i, f := range feats {
			x := G.NodeFromAny(b.G, tensor.New(tensor.WithShape(n, c*h*w), tensor.WithBacking(f)), G.WithName("f"+string(rune('0'+i))))
			in.Features = append(in.Features, x)
			fnodes = append(fnodes, x)
		}
		for i, m := range masks {
			ms := s.MaskShapes(n)[i]
			in.Masks = append(in.Masks, G.NodeFromAny(b.G, tensor.New(tensor.WithShape(ms[0], ms[1]), tensor.WithBacking(m)), G.WithName("m"+string(rune('0'+i)))))
		}
		z, err := s.Logits(b, in)
		if err != nil {
			t.Fatal(err)
		}
		y := G.NodeFromAny(b.G, tensor.New(tensor.WithShape(n, 1), tensor.WithBacking(labels)), G.WithName("y"))
		l := G.Must(G.Mean(G.Must(BCEWithLogits(z, y))))
		wrt := append(b.ParamNodes(names), fnodes...)
		if withGrad {
			if _, err := G.Grad(l, wrt...); err != nil {
				t.Fatal(err)
			}
		}
		vm := G.NewTapeMachine(b.G, G.BindDualValues(wrt...))
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		var grads [][]float32
		if withGrad {
			for _, nd := range wrt {
				gv, err := nd.Grad()
				if err != nil {
					t.Fatal(err)
				}
				grads = append(grads, append([]float32(nil), gv.Data().([]float32)...))
			}
		}
		return float64(scalarOf(l)), grads
	}
	_, grads := loss(true)
	vals := make([][]float32, 0, len(names)+2)
	for _, nm := range names {
		vals = append(vals, p.Data(nm))
	}
	vals = append(vals, feats...)
	labelsOf := append(append([]string(nil), names...), "features0", "features1")
	for k, d := range vals {
		for j := 0; j < 4; j++ {
			i := rng.IntN(len(d))
			orig := d[i]
			const eps = 1e-2
			d[i] = orig + eps
			up, _ := loss(false)
			d[i] = orig - eps
			down, _ := loss(false)
			d[i] = orig
			num := (up - down) / (2 * eps)
			if diff := math.Abs(num - float64(grads[k][i])); diff > 2e-3*math.Max(1, math.Abs(num))+1e-5 {
				t.Errorf("d/d%s[%d]: autodiff %.6g, finite difference %.6g", labelsOf[k], i, grads[k][i], num)
			}
		}
	}
}

func scalarOf(n *G.Node) float32 {
	switch v := n.Value().Data().(type) {
	case float32:
		return v
	case []float32:
		return v[0]
	}
	return float32(math.NaN())
}

func TestFillDropout(t *testing.T) {
	m := make([]float32, 100000)
	FillDropout(rand.New(rand.NewPCG(1, 1)), m, 0.1)
	zeros, sum := 0, 0.0
	for _, v := range m {
		if v == 0 {
			zeros++
		} else if math.Abs(float64(v)-1/0.9) > 1e-6 {
			t.Fatalf("kept value %g, want 1/0.9", v)
		}
		sum += float64(v)
	}
	if f := float64(zeros) / float64(len(m)); math.Abs(f-0.1) > 0.005 {
		t.Errorf("dropped fraction %g, want 0.1", f)
	}
	if mean := sum / float64(len(m)); math.Abs(mean-1) > 0.01 {
		t.Errorf("mean %g, want 1 (inverted dropout)", mean)
	}
}

func TestClassifierSpecValidate(t *testing.T) {
	s := DefaultClassifierSpec("observation.images.front")
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*ClassifierSpec){
		"no cameras":       func(s *ClassifierSpec) { s.Cameras = nil },
		"repeated camera":  func(s *ClassifierSpec) { s.Cameras = []string{"a", "a"} },
		"tiny image":       func(s *ClassifierSpec) { s.ImageHeight = 16 },
		"dropout 1":        func(s *ClassifierSpec) { s.DropoutRate = 1 },
		"unknown backbone": func(s *ClassifierSpec) { s.Backbone = "resnet50" },
		"train pretrained": func(s *ClassifierSpec) { s.Backbone, s.TrainBackbone = ResNetHILSERL, true },
		"zero std":         func(s *ClassifierSpec) { s.ImageStd[1] = 0 },
		"zero hidden":      func(s *ClassifierSpec) { s.HiddenDim = 0 },
	} {
		c := s
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestClassifierTrainGraphEndToEnd: with the backbone in the graph (train
// mode), the BCE gradient reaches the stem.
func TestClassifierTrainGraphEndToEnd(t *testing.T) {
	s := smallSpec()
	s.TrainBackbone = true
	p, err := s.NewParams(5)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	const n = 4
	b := NewGraph(p)
	var in ClassifierInputs
	for range s.Cameras {
		in.Images = append(in.Images, G.NodeFromAny(b.G, tensor.New(tensor.WithShape(n, 3, 32, 32), tensor.WithBacking(randVec(rng, n*3*32*32)))))
	}
	z, err := s.Logits(b, in)
	if err != nil {
		t.Fatal(err)
	}
	y := G.NodeFromAny(b.G, tensor.New(tensor.WithShape(n, 1), tensor.WithBacking([]float32{1, 0, 0, 1})))
	l := G.Must(G.Mean(G.Must(BCEWithLogits(z, y))))
	names := s.TrainableNames(p)
	params := b.ParamNodes(names)
	if len(params) != len(names) || !strings.HasPrefix(names[0], classifierBB) {
		t.Fatalf("%d of %d trainable parameters in the graph; first %s", len(params), len(names), names[0])
	}
	if _, err := G.Grad(l, params...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(b.G, G.BindDualValues(params...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	g, err := params[0].Grad()
	if err != nil {
		t.Fatal(err)
	}
	var norm float64
	for _, v := range g.Data().([]float32) {
		norm += float64(v) * float64(v)
	}
	if !(norm > 0) || math.IsInf(norm, 0) {
		t.Errorf("stem gradient norm² %g", norm)
	}
}
