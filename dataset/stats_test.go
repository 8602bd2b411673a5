package dataset

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestComputeStatsEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		f32    bool
		want   float64 // every quantile
	}{
		{"one frame: quantiles are the mean", []float64{3.5}, false, 3.5},
		{"constant", []float64{2, 2, 2, 2}, false, 2},
		{"constant, float32 edges", []float64{2, 2, 2, 2}, true, 2},
		// 1e7 ± 1e-10 rounds to 1e7: numpy's zero-step linspace branch.
		{"constant large", []float64{1e7, 1e7, 1e7}, false, 1e7},
		{"constant large, float32 edges", []float64{1e7, 1e7, 1e7}, true, 1e7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := computeStats(tc.values, 1, tc.f32)
			if s.Count != int64(len(tc.values)) || s.Std[0] != 0 || s.Min[0] != s.Max[0] {
				t.Errorf("stats %+v", s)
			}
			for _, q := range quantileLevels {
				if got := (*s.quantile(q.key))[0]; math.Abs(got-tc.want) > 1e-9*math.Abs(tc.want) {
					t.Errorf("%s = %v, want %v", q.key, got, tc.want)
				}
			}
		})
	}
}

// TestAggregateMatchesWhole checks aggregateStats against the stats of the
// concatenated episodes: min, max, count, mean and std must agree.
func TestAggregateMatchesWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const dim = 3
	var all []float64
	var parts []Stats
	for _, n := range []int{1, 17, 250, 40} {
		ep := make([]float64, n*dim)
		for i := range ep {
			ep[i] = rng.NormFloat64()*10 + float64(i%dim)*100
		}
		all = append(all, ep...)
		parts = append(parts, computeStats(ep, dim, false))
	}
	got, err := aggregateStats(parts)
	if err != nil {
		t.Fatal(err)
	}
	want := computeStats(all, dim, false)
	if got.Count != want.Count {
		t.Errorf("count %d, want %d", got.Count, want.Count)
	}
	for d := 0; d < dim; d++ {
		for name, p := range map[string][2]float64{
			"min": {got.Min[d], want.Min[d]}, "max": {got.Max[d], want.Max[d]},
			"mean": {got.Mean[d], want.Mean[d]}, "std": {got.Std[d], want.Std[d]},
		} {
			if math.Abs(p[0]-p[1]) > 1e-9*math.Max(1, math.Abs(p[1])) {
				t.Errorf("%s[%d] = %v, want %v", name, d, p[0], p[1])
			}
		}
		// Quantiles are a count-weighted mean of the episodes' (lerobot 0.4-0.6.1).
		var q50 float64
		for _, p := range parts {
			q50 += p.Q50[d] * float64(p.Count)
		}
		if q50 /= float64(want.Count); math.Abs(got.Q50[d]-q50) > 1e-12*math.Abs(q50) {
			t.Errorf("q50[%d] = %v, want %v", d, got.Q50[d], q50)
		}
	}
	if _, err := aggregateStats(nil); err == nil {
		t.Error("aggregateStats(nil) succeeded")
	}
}
