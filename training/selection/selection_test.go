package selection

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQuantileMatchesTorch: expected values are torch.quantile(v, q) (1.13,
// default interpolation='linear') on the same vectors.
func TestQuantileMatchesTorch(t *testing.T) {
	qs := []float64{0, 0.05, 0.25, 0.5, 0.9, 1}
	for _, c := range []struct {
		name string
		v    []float64
		want []float64
	}{
		{"seven", []float64{3, 1, 4, 1.5, 9, 2.6, 5}, []float64{1, 1.15, 2.05, 3, 6.600000000000001, 9}},
		{"one", []float64{0.5}, []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}},
		{"ties and spread", []float64{10, -2, 7, 7, 0.25, 1e-6, 300, -5.5},
			[]float64{-5.5, -4.2749999999999995, -0.49999925000000006, 3.625, 96.99999999999994, 300}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sorted := append([]float64(nil), c.v...)
			sortFloats(sorted)
			for i, q := range qs {
				if got := Quantile(sorted, q); math.Abs(got-c.want[i]) > 1e-12*math.Max(1, math.Abs(c.want[i])) {
					t.Errorf("quantile %g = %.17g, torch %.17g", q, got, c.want[i])
				}
			}
		})
	}
}

func sortFloats(v []float64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// TestKeepCount256: with distinct |c|, ℓ sits at position 12.75 and u at
// 229.5 of 255, so sorted indices 13…229 are kept: 217 of 256.
func TestKeepCount256(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, 9))
		c := make([]float64, 256)
		for i := range c {
			c[i] = rng.NormFloat64() * math.Exp(4*rng.NormFloat64()) // heavy tails, both signs
		}
		r := Select(c, 0.05, 0.90, make([]float32, 256))
		if r.Kept != 217 {
			t.Errorf("seed %d: kept %d of 256, want 217", seed, r.Kept)
		}
	}
}

// TestMaskInvariantToScale: c·η for any η > 0 selects the same samples.
func TestMaskInvariantToScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	c := make([]float64, 100)
	for i := range c {
		c[i] = rng.NormFloat64()
	}
	base := Select(c, 0.05, 0.9, make([]float32, len(c)))
	for _, eta := range []float64{1e-6, 0.3, 7, 1e5} {
		scaled := make([]float64, len(c))
		for i := range c {
			scaled[i] = eta * c[i]
		}
		r := Select(scaled, 0.05, 0.9, make([]float32, len(c)))
		for i := range c {
			if r.Mask[i] != base.Mask[i] {
				t.Fatalf("η=%g: sample %d mask %v, unscaled %v", eta, i, r.Mask[i], base.Mask[i])
			}
		}
	}
}

func TestAllEqualKeepsAll(t *testing.T) {
	c := []float64{2, -2, 2, 2}
	if r := Select(c, 0.05, 0.9, make([]float32, 4)); r.Kept != 4 || r.Lower != 2 || r.Upper != 2 {
		t.Errorf("%+v", r)
	}
}

func TestSoftAdvantageSumsToZero(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for trial := 0; trial < 50; trial++ {
		k := 2 + rng.IntN(15)
		lp, q := make([]float32, k), make([]float32, k)
		for j := range lp {
			lp[j], q[j] = float32(5*rng.NormFloat64()), float32(100*rng.NormFloat64())
		}
		adv := make([]float64, k)
		SoftAdvantage(lp, q, rng.Float64(), adv)
		var s, scale float64
		for _, a := range adv {
			s += a
			scale += math.Abs(a)
		}
		if math.Abs(s) > 1e-12*scale {
			t.Fatalf("K=%d: Σ A = %g", k, s)
		}
	}
}

// TestInfluenceMatchesReference: expected c are the released code's
// formulas evaluated in torch (float64) on the same numbers; state 3's
// log π = 16 exercises the 1e6 density clamp.
func TestInfluenceMatchesReference(t *testing.T) {
	// Inputs are exact in float32, so the float64 arithmetic here and in
	// torch agree to rounding.
	lp := []float32{-1, 0.5, 2, -3, 1.25, 1.125, 0.875, 1.375, 16, -2, 0, 1}
	q := []float32{2, 1, -0.5, 0.25, 0, 0.125, 0.25, 0.375, 5, 4, 3, 2}
	want := []float64{7.872553687678279, 0.00961487131112062, 4785155.518670919}
	c := make([]float64, 3)
	if err := Influence(lp, q, 0.25, 4, c); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(c[i]-want[i]) > 1e-12*math.Abs(want[i]) {
			t.Errorf("c[%d] = %.17g, reference %.17g", i, c[i], want[i])
		}
	}
}

// TestCovarianceDividesByK: two actions, lp = ±1, A = ±d, no density
// weighting differences beyond exp(lp): the population covariance is
// Σ(lp−m)(y−ȳ)/2, not /1.
func TestCovarianceDividesByK(t *testing.T) {
	lp := []float32{-1, 1}
	q := []float32{0, 2} // α = 0: g = q, A = (−1, 1)
	c := make([]float64, 1)
	if err := Influence(lp, q, 0, 2, c); err != nil {
		t.Fatal(err)
	}
	y0, y1 := -math.Exp(-1), math.Exp(1)
	ym := (y0 + y1) / 2
	want := -((-1)*(y0-ym) + 1*(y1-ym)) / 2
	if math.Abs(c[0]-want) > 1e-12 {
		t.Errorf("c = %g, want %g (population covariance)", c[0], want)
	}
}

func TestWeights(t *testing.T) {
	mask := []float32{1, 0, 1, 1}
	w := make([]float32, 4)
	Weights(mask, true, w)
	if math.Abs(float64(w[0])-1.0/3) > 1e-7 || w[1] != 0 {
		t.Errorf("by kept: %v", w)
	}
	Weights(mask, false, w)
	if w[0] != 0.25 || w[1] != 0 {
		t.Errorf("by batch: %v", w)
	}
}

func TestByTag(t *testing.T) {
	s := ByTag([]float64{1, -3, 5, 7}, []float32{1, 1, 0, 1}, []uint8{0, 1, 1, 0})
	if s[0].Count != 2 || s[0].Kept != 2 || s[0].MeanAbsC != 4 || s[1].Count != 2 || s[1].Kept != 1 || s[1].MeanAbsC != 4 {
		t.Errorf("%+v", s)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{{K: 1, QuantileHigh: 1}, {K: 8, QuantileLow: 0.9, QuantileHigh: 0.1}, {K: 8, QuantileHigh: 1.5}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}

func BenchmarkInfluenceSelect(b *testing.B) {
	const B, K = 256, 8
	rng := rand.New(rand.NewPCG(1, 1))
	lp, q := make([]float32, B*K), make([]float32, B*K)
	for i := range lp {
		lp[i], q[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	c, mask := make([]float64, B), make([]float32, B)
	for i := 0; i < b.N; i++ {
		Influence(lp, q, 0.1, K, c)
		Select(c, 0.05, 0.9, mask)
	}
}
