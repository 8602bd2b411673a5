package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Sgemm against float64 loops for every transpose, strides longer than the
// rows, accumulation, and sizes that leave partial panels and row blocks;
// it declines small or malformed calls without touching c.
func TestSgemm(t *testing.T) {
	cases := []struct {
		m, n, k, pad int
		ta, tb, acc  bool
	}{
		{256, 256, 256, 0, false, false, false},
		{256, 256, 18, 0, false, true, false},
		{256, 256, 256, 0, true, false, true},
		{33, 70, 300, 3, true, true, false},
		{257, 100, 41, 5, false, true, true},
		{64, 4096, 256, 0, false, false, false},
		{256, 4096, 64, 0, true, false, false},
		{1001, 64, 64, 3, false, true, false}, // A packed by two goroutines, a partial last block
		{1001, 40, 64, 2, true, false, true},
		{771, 256, 256, 0, true, false, false}, // dW of a Linear(771 → 256): a is [256, 771]
		{1001, 33, 16, 0, true, true, false},   // A's second half starts past len(a) as a row offset
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			ar, ac, br, bc := tc.m, tc.k, tc.k, tc.n
			if tc.ta {
				ar, ac = tc.k, tc.m
			}
			if tc.tb {
				br, bc = tc.n, tc.k
			}
			lda, ldb, ldc := ac+tc.pad, bc+tc.pad, tc.n+tc.pad
			a, b := randVec(rng, ar*lda), randVec(rng, br*ldb)
			c0 := randVec(rng, tc.m*ldc)
			want := make([]float64, len(c0))
			for i := range want {
				want[i] = float64(c0[i])
			}
			for i := range tc.m {
				for j := range tc.n {
					var s float64
					if tc.acc {
						s = want[i*ldc+j]
					}
					for l := range tc.k {
						var av, bv float32
						if tc.ta {
							av = a[l*lda+i]
						} else {
							av = a[i*lda+l]
						}
						if tc.tb {
							bv = b[j*ldb+l]
						} else {
							bv = b[l*ldb+j]
						}
						s += float64(av) * float64(bv)
					}
					want[i*ldc+j] = s
				}
			}
			for _, v512 := range isas(t) {
				setAVX512(v512)
				c := append([]float32(nil), c0...)
				if !Sgemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, a, lda, b, ldb, c, ldc, tc.acc) {
					t.Fatal("declined")
				}
				if d := maxDiff(c, want); d > 1e-4*math.Sqrt(float64(tc.k)) {
					t.Errorf("avx512=%v: max |diff| %g", v512, d)
				}
			}
		})
	}
	c := []float32{7, 7}
	for _, call := range []func() bool{
		func() bool { return Sgemm(false, false, 1, 2, 1, []float32{1}, 1, []float32{1, 1}, 2, c, 2, false) }, // too small
		func() bool {
			return Sgemm(false, false, 64, 64, 64, make([]float32, 64*64), 32, make([]float32, 64*64), 64, make([]float32, 64*64), 64, false)
		}, // lda < k
		func() bool {
			return Sgemm(false, false, 64, 64, 64, make([]float32, 64*64-1), 64, make([]float32, 64*64), 64, make([]float32, 64*64), 64, false)
		}, // a short
	} {
		if call() {
			t.Error("Sgemm took a call it should decline")
		}
	}
	if c[0] != 7 || c[1] != 7 {
		t.Error("declined call wrote c")
	}
}

// BenchmarkSgemm times the learner's typical products on the panel GEMM.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{256, 256, 256}, {256, 256, 4096}, {256, 4096, 256}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			a, bb, c := randVec(rng, s.m*s.k), randVec(rng, s.k*s.n), make([]float32, s.m*s.n)
			for range b.N {
				Sgemm(false, false, s.m, s.n, s.k, a, s.k, bb, s.n, c, s.n, false)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
