// Package optim holds the optimisers e2hil trains with, with PyTorch's exact
// update rules so hyperparameters carry over from LeRobot configs.
package optim

import (
	"math"

	"github.com/e2hil/e2hil/internal/par"
)

// Adam is torch.optim.Adam (no weight decay, no amsgrad) over float32
// parameter slices, updated in place.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	params                [][]float32
	// M, V and Step are the optimiser state (saved in checkpoints).
	M, V [][]float32
	Step int
}

// NewAdam returns Adam with torch's defaults (β 0.9, 0.999; ε 1e-8).
func NewAdam(lr float64, params [][]float32) *Adam {
	a := &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, params: params}
	for _, p := range params {
		a.M = append(a.M, make([]float32, len(p)))
		a.V = append(a.V, make([]float32, len(p)))
	}
	return a
}

// Update applies one step with grads (same layout as the parameters):
// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε),
// in float32 like torch (a vectorised C loop, kernel.go).
func (a *Adam) Update(grads [][]float32) {
	a.Step++
	bc1 := 1 - math.Pow(a.Beta1, float64(a.Step))
	bc2 := math.Sqrt(1 - math.Pow(a.Beta2, float64(a.Step)))
	stepSize := a.LR / bc1
	total := 0
	for i, p := range a.params {
		if len(grads[i]) != len(p) {
			panic("optim: Adam.Update: gradient and parameter sizes differ")
		}
		total += len(p)
	}
	// The update is elementwise: the flattened parameters are cut into one
	// contiguous ranges run on the cores (par.For; the same result as one pass).
	step := func(lo, hi int) {
		off := 0
		for i, p := range a.params {
			s, e := max(lo-off, 0), min(hi-off, len(p))
			if s < e {
				adamKernel(p[s:e], grads[i][s:e], a.M[i][s:e], a.V[i][s:e], float32(a.Beta1), float32(a.Beta2), float32(stepSize), float32(bc2), float32(a.Eps))
			}
			off += len(p)
		}
	}
	par.For(total, 16, adamMinChunk, step)
}

// adamMinChunk is the fewest parameters worth a goroutine of Adam.
const adamMinChunk = 1 << 15

// ClipGradNorm scales grads in place so their global L2 norm is at most
// maxNorm (torch.nn.utils.clip_grad_norm_: coefficient maxNorm/(norm+1e-6),
// applied when below 1) and returns the norm before clipping.
func ClipGradNorm(grads [][]float32, maxNorm float64) float64 {
	s := sumSquares(grads)
	norm := math.Sqrt(s)
	if c := maxNorm / (norm + 1e-6); c < 1 {
		cf := float32(c)
		for _, g := range grads {
			for j := range g {
				g[j] *= cf
			}
		}
	}
	return norm
}

// normBlock is the block of a gradient whose squares are summed as one
// piece: fixed, so the norm does not depend on the number of cores.
const normBlock = 4096

// sumSquares is Σ g² over all gradients in float64: per block of normBlock
// values (four accumulators), the blocks on the cores, their sums added in
// order.
func sumSquares(grads [][]float32) float64 {
	type block struct{ g []float32 }
	var blocks []block
	for _, g := range grads {
		for lo := 0; lo < len(g); lo += normBlock {
			blocks = append(blocks, block{g[lo:min(lo+normBlock, len(g))]})
		}
	}
	sums := make([]float64, len(blocks))
	par.For(len(blocks), 1, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var a0, a1, a2, a3 float64
			g := blocks[i].g
			j := 0
			for ; j+4 <= len(g); j += 4 {
				a0 += float64(g[j]) * float64(g[j])
				a1 += float64(g[j+1]) * float64(g[j+1])
				a2 += float64(g[j+2]) * float64(g[j+2])
				a3 += float64(g[j+3]) * float64(g[j+3])
			}
			for ; j < len(g); j++ {
				a0 += float64(g[j]) * float64(g[j])
			}
			sums[i] = (a0 + a1) + (a2 + a3)
		}
	})
	var s float64
	for _, v := range sums {
		s += v
	}
	return s
}
