package features

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/preprocess"
)

// The ResNet-10 as a cache backbone: Normalized feeds it ImageNet-normalised
// images and its features are the extractor's on those.
func TestNormalizedResNet(t *testing.T) {
	r := models.ResNet10{Prefix: "backbone"}
	p := models.NewParams()
	if err := r.AddParams(p, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
	const n, h, w = 3, 32, 32
	e, err := r.NewFeatureExtractor(p, 2, h, w)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b := &Normalized{Net: e}
	copy(b.Mean[:], preprocess.ImageNetMean)
	copy(b.Std[:], preprocess.ImageNetStd)
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n*3*h*w)
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	norm := make([]float32, len(x))
	for i, v := range x {
		c := (i / (h * w)) % 3
		norm[i] = (v - preprocess.ImageNetMean[c]) / preprocess.ImageNetStd[c]
	}
	want := make([]float32, n*e.FeatureSize())
	if err := e.Extract(norm, want); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(want))
	if err := b.Features(got, x, n); err != nil {
		t.Fatal(err)
	}
	var nonzero int
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4*math.Max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("feature %d = %g, want %g", i, got[i], want[i])
		}
		if want[i] != 0 {
			nonzero++
		}
	}
	if c, fh, fw := r.OutShape(h, w); e.FeatureSize() != c*fh*fw || nonzero == 0 {
		t.Errorf("feature size %d (want %d), %d nonzero", e.FeatureSize(), c*fh*fw, nonzero)
	}
}
