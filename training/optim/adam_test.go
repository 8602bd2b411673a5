package optim

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// Reference values from torch.optim.Adam(lr=0.1) on p=[1, -2] with the
// gradients g1=[0.5, -1], g2=[0.1, 0.3], computed by hand from the update
// rule in float64:
//
//	step 1: m=[0.05,-0.1] v=[0.00025,0.001] → p = p − 0.1·sign(g) = [0.9, -1.9]
//	step 2: m=[0.055,-0.06] v=[0.00025975,0.001089]
//	        p −= 0.1/(1−0.81) · m / (√v/√(1−0.998001) + 1e-8)
func TestAdamMatchesTorchRule(t *testing.T) {
	p := []float32{1, -2}
	a := NewAdam(0.1, [][]float32{p})
	a.Update([][]float32{{0.5, -1}})
	if math.Abs(float64(p[0])-0.9) > 1e-6 || math.Abs(float64(p[1])+1.9) > 1e-6 {
		t.Fatalf("after step 1: %v", p)
	}
	a.Update([][]float32{{0.1, 0.3}})
	bc1, bc2 := 1-0.81, math.Sqrt(1-0.998001)
	want := []float64{
		0.9 - 0.1/bc1*0.055/(math.Sqrt(0.00025975)/bc2+1e-8),
		-1.9 - 0.1/bc1*(-0.06)/(math.Sqrt(0.001089)/bc2+1e-8),
	}
	for i := range p {
		if math.Abs(float64(p[i])-want[i]) > 1e-5 {
			t.Errorf("after step 2: p[%d] = %.7f, want %.7f", i, p[i], want[i])
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	cases := []struct {
		g        [][]float32
		max      float64
		wantNorm float64
		want     [][]float32
	}{
		{[][]float32{{3}, {4}}, 10, 5, [][]float32{{3}, {4}}},     // under the bound: untouched
		{[][]float32{{3}, {4}}, 1, 5, [][]float32{{0.6}, {0.8}}},  // scaled to norm 1
		{[][]float32{{0, 0}}, 1, 0, [][]float32{{0, 0}}},          // zero stays zero
		{[][]float32{{6, 8}, {}}, 5, 10, [][]float32{{3, 4}, {}}}, // empty groups are fine
	}
	for i, tc := range cases {
		n := ClipGradNorm(tc.g, tc.max)
		if math.Abs(n-tc.wantNorm) > 1e-9 {
			t.Errorf("case %d: norm %g, want %g", i, n, tc.wantNorm)
		}
		for a := range tc.g {
			for b := range tc.g[a] {
				if math.Abs(float64(tc.g[a][b]-tc.want[a][b])) > 1e-5 {
					t.Errorf("case %d: grads %v, want %v", i, tc.g, tc.want)
				}
			}
		}
	}
}

// Parameters split across goroutines (ranges crossing tensor boundaries)
// update bit for bit as one serial pass of the kernel.
func TestAdamSplitMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int{7, adamMinChunk + 5, 3, 2*adamMinChunk - 1, 1000}
	var params, grads, ref [][]float32
	for _, n := range sizes {
		p, g := make([]float32, n), make([]float32, n)
		for i := range p {
			p[i], g[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		params, grads, ref = append(params, p), append(grads, g), append(ref, append([]float32(nil), p...))
	}
	a := NewAdam(1e-3, params)
	m, v := make([][]float32, len(sizes)), make([][]float32, len(sizes))
	for i, n := range sizes {
		m[i], v[i] = make([]float32, n), make([]float32, n)
	}
	for step := 1; step <= 3; step++ {
		a.Update(grads)
		bc1, bc2 := 1-math.Pow(0.9, float64(step)), math.Sqrt(1-math.Pow(0.999, float64(step)))
		for i := range sizes {
			adamKernel(ref[i], grads[i], m[i], v[i], 0.9, 0.999, float32(1e-3/bc1), float32(bc2), 1e-8)
		}
	}
	for i := range sizes {
		for j := range ref[i] {
			if params[i][j] != ref[i][j] || a.M[i][j] != m[i][j] || a.V[i][j] != v[i][j] {
				t.Fatalf("tensor %d element %d: split %v, serial %v", i, j, params[i][j], ref[i][j])
			}
		}
	}
}

// TestClipGradNormLarge: the norm of many blocks summed on the cores equals
// a plain float64 sum, and does not depend on the number of cores.
func TestClipGradNormLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	grads := [][]float32{make([]float32, 70000), make([]float32, 3), make([]float32, 123457)}
	var want float64
	for _, g := range grads {
		for i := range g {
			g[i] = float32(rng.NormFloat64())
			want += float64(g[i]) * float64(g[i])
		}
	}
	want = math.Sqrt(want)
	var norms []float64
	for _, procs := range []int{1, 2, 3} {
		prev := runtime.GOMAXPROCS(procs)
		norms = append(norms, ClipGradNorm(grads, math.Inf(1)))
		runtime.GOMAXPROCS(prev)
	}
	if math.Abs(norms[0]-want) > 1e-12*want {
		t.Errorf("norm %.15g, want %.15g", norms[0], want)
	}
	if norms[1] != norms[0] || norms[2] != norms[0] {
		t.Errorf("norms on 1, 2, 3 cores differ: %v", norms)
	}
}

// TestAdamVectorMatchesScalar: the AVX2 kernel (8 lanes, a padded tail)
// rounds every operation as the scalar loop does: bit-identical parameters
// and moments over three steps, for lengths that leave every tail size.
func TestAdamVectorMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 1000, 1003} {
		var states [2]*Adam
		grads := make([][]float32, 3)
		for s := range grads {
			grads[s] = make([]float32, n)
			for i := range grads[s] {
				grads[s][i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-5)))
			}
		}
		p0 := make([]float32, n)
		for i := range p0 {
			p0[i] = float32(rng.NormFloat64())
		}
		for k, vector := range []bool{false, true} {
			setVectorAdam(vector)
			a := NewAdam(3e-4, [][]float32{slices.Clone(p0)})
			for _, g := range grads {
				a.Update([][]float32{g})
			}
			states[k] = a
		}
		setVectorAdam(true)
		for _, f := range []func(a *Adam) []float32{
			func(a *Adam) []float32 { return a.params[0] }, func(a *Adam) []float32 { return a.M[0] }, func(a *Adam) []float32 { return a.V[0] },
		} {
			s, v := f(states[0]), f(states[1])
			for i := range s {
				if math.Float32bits(s[i]) != math.Float32bits(v[i]) {
					t.Fatalf("n %d, element %d: scalar %g, vector %g", n, i, s[i], v[i])
				}
			}
		}
	}
}
