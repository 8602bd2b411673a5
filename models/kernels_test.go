package models

import (
	"math"
	"testing"
)

// TestKernelsAccuracy: the vectorised kernels against float64 math on a
// wide range of inputs.
func TestKernelsAccuracy(t *testing.T) {
	const n = 100_003 // not a multiple of any vector width
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(-20 + 40*float64(i)/n)
	}
	y, dx, ones := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	for _, c := range []struct {
		name string
		run  func()
		out  []float32
		want func(v float64) float64
	}{
		{"silu", func() { siluRows(x, y) }, y, func(v float64) float64 { return v / (1 + math.Exp(-v)) }},
		{"silu grad", func() { siluGradRows(x, ones, dx) }, dx, func(v float64) float64 {
			s := 1 / (1 + math.Exp(-v))
			return s * (1 + v*(1-s))
		}},
		{"tanh", func() { tanhRows(x, y) }, y, math.Tanh},
	} {
		c.run()
		var worst float64
		for i, v := range x {
			want := c.want(float64(v))
			if d := math.Abs(float64(c.out[i])-want) / math.Max(1, math.Abs(want)); d > worst {
				worst = d
			}
		}
		t.Logf("%s: max error %.3g", c.name, worst)
		// float32: 1 + x·(1 − σ) cancels for large |x| in the SiLU
		// gradient; 4e-6 is a few ulps of its terms at |x| = 20.
		if worst > 4e-6 {
			t.Errorf("%s: max error %.3g > 4e-6", c.name, worst)
		}
	}
}

func BenchmarkSiLU(b *testing.B) {
	x, y := make([]float32, 256*256), make([]float32, 256*256)
	for i := range x {
		x[i] = float32(i%200)/10 - 10
	}
	b.Run("kernel", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			siluRows(x, y)
		}
	})
	b.Run("go", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, v := range x {
				y[j] = v / (1 + float32(math.Exp(float64(-v))))
			}
		}
	})
}
