package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// refSpatial is LeRobot's (features.unsqueeze(-1) · kernel.unsqueeze(0)).sum((2,3))
// as a direct loop in float64, x [b, c, hw], kernel [c, hw, f].
func refSpatial(x, k []float32, b, c, hw, f int) []float64 {
	y := make([]float64, b*c*f)
	for i := range b {
		for ch := range c {
			for j := range f {
				var s float64
				for p := range hw {
					s += float64(x[(i*c+ch)*hw+p]) * float64(k[(ch*hw+p)*f+j])
				}
				y[(i*c+ch)*f+j] = s
			}
		}
	}
	return y
}

func TestSpatialEmbeddingsMatchesReference(t *testing.T) {
	cases := []struct{ b, c, hw, f int }{
		{1, 1, 1, 1},
		{2, 3, 4, 8},
		{5, 7, 16, 8},
		{3, 4, 9, 5},
		{4, 512, 16, 8},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			x, k := randVec(rng, tc.b*tc.c*tc.hw), randVec(rng, tc.c*tc.hw*tc.f)
			want := refSpatial(x, k, tc.b, tc.c, tc.hw, tc.f)
			got := run(t, [][]int{{tc.b, tc.c * tc.hw}, {tc.c * tc.hw, tc.f}}, [][]float32{x, k},
				func(in ...*G.Node) (*G.Node, error) { return SpatialEmbeddings(in[0], in[1], tc.c, tc.hw, tc.f) })
			plain := make([]float32, tc.b*tc.c*tc.f)
			if err := SpatialForward(x, k, plain, tc.b, tc.c, tc.hw, tc.f); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if d := math.Abs(float64(got[i]) - want[i]); d > 1e-4*math.Max(1, math.Abs(want[i])) {
					t.Fatalf("y[%d] = %g, want %g", i, got[i], want[i])
				}
				if plain[i] != got[i] {
					t.Fatalf("SpatialForward y[%d] = %g, graph %g", i, plain[i], got[i])
				}
			}
		})
	}
}

func TestSpatialEmbeddingsGradientsFiniteDifference(t *testing.T) {
	for _, tc := range []struct{ b, c, hw, f int }{{2, 3, 4, 2}, {3, 2, 9, 8}} {
		fdCheck(t, fmt.Sprintf("SpatialEmbeddings%+v", tc), [][]int{{tc.b, tc.c * tc.hw}, {tc.c * tc.hw, tc.f}}, normal,
			func(in ...*G.Node) *G.Node { return G.Must(SpatialEmbeddings(in[0], in[1], tc.c, tc.hw, tc.f)) })
	}
}

func TestSpatialEmbeddingsRejectsShapes(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 12), G.WithName("x"))
	k := G.NewMatrix(g, tensor.Float32, G.WithShape(12, 8), G.WithName("k"))
	for _, tc := range []struct{ c, hw, f int }{{3, 5, 8}, {3, 4, 4}, {0, 4, 8}} {
		if _, err := SpatialEmbeddings(x, k, tc.c, tc.hw, tc.f); err == nil {
			t.Errorf("c %d hw %d f %d: no error", tc.c, tc.hw, tc.f)
		}
	}
	if err := SpatialForward(make([]float32, 24), make([]float32, 96), make([]float32, 47), 2, 3, 4, 8); err == nil {
		t.Error("SpatialForward with a short output: no error")
	}
}

func TestInitSpatialKernelStd(t *testing.T) {
	const c, hw, f = 512, 16, 8
	k := make([]float32, c*hw*f)
	InitSpatialKernel(rand.New(rand.NewPCG(1, 1)), k, hw, f)
	var ss float64
	for _, v := range k {
		ss += float64(v) * float64(v)
	}
	std, want := math.Sqrt(ss/float64(len(k))), 1/math.Sqrt(hw*f)
	if math.Abs(std-want) > 0.02*want {
		t.Errorf("std %g, want kaiming fan_in %g", std, want)
	}
}

// BenchmarkSpatialEmbeddings: the SAC learner's shape (B 256, C 512, HW 16,
// F 8), the kernels of the forward and of both gradients (the graph ops'
// work without Gorgonia's per-run output allocation).
func BenchmarkSpatialEmbeddings(b *testing.B) {
	const n, c, hw, f = 256, 512, 16, 8
	rng := rand.New(rand.NewPCG(1, 2))
	x, k, dy := randVec(rng, n*c*hw), randVec(rng, c*hw*f), randVec(rng, n*c*f)
	y, dx, dk, kt := make([]float32, n*c*f), make([]float32, n*c*hw), make([]float32, c*hw*f), make([]float32, c*hw*f)
	b.ResetTimer()
	for range b.N {
		spatialForward(x, k, y, n, c, hw, f)
		spatialDx(k, dy, dx, kt, n, c, hw, f)
		spatialDk(x, dy, dk, n, c, hw, f)
	}
}

// TestSpatialGradKernelsMatchReference checks both gradient kernels against
// direct loops, for the vectorised SAC shape (HW 16, F 8) and a generic one.
func TestSpatialGradKernelsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ b, c, hw, f int }{{3, 5, 16, 8}, {2, 3, 4, 2}, {17, 64, 16, 8}} {
		x, k, dy := randVec(rng, tc.b*tc.c*tc.hw), randVec(rng, tc.c*tc.hw*tc.f), randVec(rng, tc.b*tc.c*tc.f)
		dx, dk, kt := make([]float32, len(x)), make([]float32, len(k)), make([]float32, len(k))
		spatialDx(k, dy, dx, kt, tc.b, tc.c, tc.hw, tc.f)
		spatialDk(x, dy, dk, tc.b, tc.c, tc.hw, tc.f)
		wantDx, wantDk := make([]float64, len(x)), make([]float64, len(k))
		for b := range tc.b {
			for c := range tc.c {
				for p := range tc.hw {
					for j := range tc.f {
						d := float64(dy[(b*tc.c+c)*tc.f+j])
						wantDx[(b*tc.c+c)*tc.hw+p] += d * float64(k[(c*tc.hw+p)*tc.f+j])
						wantDk[(c*tc.hw+p)*tc.f+j] += d * float64(x[(b*tc.c+c)*tc.hw+p])
					}
				}
			}
		}
		for name, pair := range map[string]struct {
			got  []float32
			want []float64
		}{"dx": {dx, wantDx}, "dk": {dk, wantDk}} {
			for i := range pair.want {
				if d := math.Abs(float64(pair.got[i]) - pair.want[i]); d > 1e-4*math.Max(1, math.Abs(pair.want[i])) {
					t.Fatalf("%+v %s[%d] = %g, want %g", tc, name, i, pair.got[i], pair.want[i])
				}
			}
		}
	}
}
