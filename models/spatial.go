package models

/*
#cgo CFLAGS: -O3 -ffast-math

// Spatial learned embeddings kernels. Each (row, channel) pair is a tiny
// [HW]·[HW, F] product. The SAC shape (HW 16, F 8: one AVX register per
// kernel row) has AVX2+FMA versions with several independent accumulator
// chains, picked at run time on CPUs that have them (the auto-vectorised
// loops keep one chain and run 3× slower, latency-bound); every other shape
// and CPU takes the plain loops.

#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

static int has_avx2(void) {
	static int v = -1;
	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	}
	return v;
}

// y[b, c·F+f] = Σ_hw x[b, c·HW+hw]·k[c·HW+hw, f]
static void spatial_fwd(const float* restrict x, const float* restrict k, float* restrict y, long B, long C, long HW, long F) {
	for (long b = 0; b < B; b++)
	for (long c = 0; c < C; c++) {
		const float* xr = x + (b * C + c) * HW;
		const float* kc = k + c * HW * F;
		float* yr = y + (b * C + c) * F;
		for (long f = 0; f < F; f++) yr[f] = 0;
		for (long hw = 0; hw < HW; hw++) {
			float v = xr[hw];
			const float* kr = kc + hw * F;
			for (long f = 0; f < F; f++) yr[f] += v * kr[f];
		}
	}
}

AVX2 static void spatial_fwd_16x8(const float* restrict x, const float* restrict k, float* restrict y, long B, long C) {
	for (long b = 0; b < B; b++)
	for (long c = 0; c < C; c++) {
		const float* xr = x + (b * C + c) * 16;
		const float* kc = k + c * 128;
		__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (int hw = 0; hw < 16; hw += 4) {
			a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + hw), _mm256_loadu_ps(kc + hw * 8), a0);
			a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + hw + 1), _mm256_loadu_ps(kc + hw * 8 + 8), a1);
			a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + hw + 2), _mm256_loadu_ps(kc + hw * 8 + 16), a2);
			a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + hw + 3), _mm256_loadu_ps(kc + hw * 8 + 24), a3);
		}
		_mm256_storeu_ps(y + (b * C + c) * 8, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
	}
}

static void k_spatial_fwd(const float* x, const float* k, float* y, long B, long C, long HW, long F) {
	if (HW == 16 && F == 8 && has_avx2()) spatial_fwd_16x8(x, k, y, B, C);
	else spatial_fwd(x, k, y, B, C, HW, F);
}

// dx[b, c·HW+hw] = Σ_f dy[b, c·F+f]·k[c·HW+hw, f]
static void spatial_dx(const float* restrict k, const float* restrict dy, float* restrict dx, long B, long C, long HW, long F) {
	for (long b = 0; b < B; b++)
	for (long c = 0; c < C; c++) {
		const float* d = dy + (b * C + c) * F;
		const float* kc = k + c * HW * F;
		float* xr = dx + (b * C + c) * HW;
		for (long hw = 0; hw < HW; hw++) {
			const float* kr = kc + hw * F;
			float s = 0;
			for (long f = 0; f < F; f++) s += d[f] * kr[f];
			xr[hw] = s;
		}
	}
}

// The 16×8 version reads the kernel transposed per channel, kt[c, f, hw],
// so that its vectors run over hw: dx[b,c,:] = Σ_f dy[b,c,f]·kt[c,f,:].
AVX2 static void spatial_dx_16x8(const float* restrict k, const float* restrict dy, float* restrict dx, float* restrict kt, long B, long C) {
	for (long c = 0; c < C; c++)
	for (long hw = 0; hw < 16; hw++)
	for (long f = 0; f < 8; f++) kt[(c * 8 + f) * 16 + hw] = k[(c * 16 + hw) * 8 + f];
	for (long b = 0; b < B; b++)
	for (long c = 0; c < C; c++) {
		const float* d = dy + (b * C + c) * 8;
		const float* kc = kt + c * 128;
		__m256 lo0 = _mm256_setzero_ps(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
		for (int f = 0; f < 8; f += 2) {
			__m256 v0 = _mm256_broadcast_ss(d + f), v1 = _mm256_broadcast_ss(d + f + 1);
			lo0 = _mm256_fmadd_ps(v0, _mm256_loadu_ps(kc + f * 16), lo0);
			hi0 = _mm256_fmadd_ps(v0, _mm256_loadu_ps(kc + f * 16 + 8), hi0);
			lo1 = _mm256_fmadd_ps(v1, _mm256_loadu_ps(kc + f * 16 + 16), lo1);
			hi1 = _mm256_fmadd_ps(v1, _mm256_loadu_ps(kc + f * 16 + 24), hi1);
		}
		float* xr = dx + (b * C + c) * 16;
		_mm256_storeu_ps(xr, _mm256_add_ps(lo0, lo1));
		_mm256_storeu_ps(xr + 8, _mm256_add_ps(hi0, hi1));
	}
}

static void k_spatial_dx(const float* k, const float* dy, float* dx, float* kt, long B, long C, long HW, long F) {
	if (HW == 16 && F == 8 && has_avx2()) spatial_dx_16x8(k, dy, dx, kt, B, C);
	else spatial_dx(k, dy, dx, B, C, HW, F);
}

// dk[c·HW+hw, f] = Σ_b x[b, c·HW+hw]·dy[b, c·F+f], channels [c0, c1)
static void spatial_dk(const float* restrict x, const float* restrict dy, float* restrict dk, long B, long C, long HW, long F, long c0, long c1) {
	for (long c = c0; c < c1; c++) {
		float* kc = dk + c * HW * F;
		for (long i = 0; i < HW * F; i++) kc[i] = 0;
		for (long b = 0; b < B; b++) {
			const float* xr = x + (b * C + c) * HW;
			const float* d = dy + (b * C + c) * F;
			for (long hw = 0; hw < HW; hw++) {
				float v = xr[hw];
				float* kr = kc + hw * F;
				for (long f = 0; f < F; f++) kr[f] += v * d[f];
			}
		}
	}
}

// The 16×8 version keeps half a channel's kernel gradient (8 rows of 8) in
// registers over the whole batch, then the other half.
AVX2 static void spatial_dk_16x8(const float* restrict x, const float* restrict dy, float* restrict dk, long B, long C, long c0, long c1) {
	for (long c = c0; c < c1; c++)
	for (int h0 = 0; h0 < 16; h0 += 8) {
		__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
		for (long b = 0; b < B; b++) {
			const float* xr = x + (b * C + c) * 16 + h0;
			__m256 d = _mm256_loadu_ps(dy + (b * C + c) * 8);
			a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + 0), d, a0);
			a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + 1), d, a1);
			a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + 2), d, a2);
			a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + 3), d, a3);
			a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + 4), d, a4);
			a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + 5), d, a5);
			a6 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + 6), d, a6);
			a7 = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + 7), d, a7);
		}
		float* kr = dk + (c * 16 + h0) * 8;
		_mm256_storeu_ps(kr, a0);
		_mm256_storeu_ps(kr + 8, a1);
		_mm256_storeu_ps(kr + 16, a2);
		_mm256_storeu_ps(kr + 24, a3);
		_mm256_storeu_ps(kr + 32, a4);
		_mm256_storeu_ps(kr + 40, a5);
		_mm256_storeu_ps(kr + 48, a6);
		_mm256_storeu_ps(kr + 56, a7);
	}
}

static void k_spatial_dk(const float* x, const float* dy, float* dk, long B, long C, long HW, long F, long c0, long c1) {
	if (HW == 16 && F == 8 && has_avx2()) spatial_dk_16x8(x, dy, dk, B, C, c0, c1);
	else spatial_dk(x, dy, dk, B, C, HW, F, c0, c1);
}
*/
import "C"

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/e2hil/e2hil/internal/par"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SpatialEmbeddings is LeRobot's SpatialLearnedEmbeddings (modeling_sac.py,
// HILSERL.md §1.2): a learned weighting of each channel's feature map into F
// values, out[b, c·F+f] = Σ_hw x[b, c·HW+hw]·kernel[c·HW+hw, f].
//
// x is [B, C·HW], a batch of NCHW feature maps flattened per row; kernel is
// [C·HW, F], the row-major flattening of LeRobot's [C, H, W, F] parameter
// (so a torch state dict's kernel loads as is). The output is [B, C·F], the
// order of LeRobot's output.view(B, -1). Differentiable in x and kernel.
func SpatialEmbeddings(x, kernel *G.Node, c, hw, f int) (*G.Node, error) {
	xs, ks := x.Shape(), kernel.Shape()
	if c < 1 || hw < 1 || f < 1 {
		return nil, fmt.Errorf("models: SpatialEmbeddings c %d, hw %d, f %d: must be ≥ 1", c, hw, f)
	}
	if xs.Dims() != 2 || xs[1] != c*hw {
		return nil, fmt.Errorf("models: SpatialEmbeddings x %v: want [B, %d] (C %d · HW %d)", xs, c*hw, c, hw)
	}
	if ks.Dims() != 2 || ks[0] != c*hw || ks[1] != f {
		return nil, fmt.Errorf("models: SpatialEmbeddings kernel %v: want [%d, %d]", ks, c*hw, f)
	}
	b := xs[0]
	name := fmt.Sprintf("SpatialEmbeddings{%d,%d,%d,%d}", b, c, hw, f)
	op := &kOp{
		name: name, arity: 2, typ: fnType(2), shape: tensor.Shape{b, c * f},
		fn:  func(y []float32, in [][]float32) { spatialForward(in[0], in[1], y, b, c, hw, f) },
		wrt: []bool{true, true},
	}
	var scratch []float32 // the kernel transposed per channel, for dx
	op.diff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dx, err := G.ApplyOp(&kOp{
			name: name + "GradX", arity: 2, typ: fnType(2), shape: tensor.Shape{b, c * hw},
			fn: func(dx []float32, in [][]float32) {
				kt := grow(&scratch, c*hw*f)
				spatialDx(in[0], in[1], dx, kt, b, c, hw, f)
			},
		}, in[1], grad)
		if err != nil {
			return nil, err
		}
		dk, err := G.ApplyOp(&kOp{
			name: name + "GradKernel", arity: 2, typ: fnType(2), shape: tensor.Shape{c * hw, f},
			fn: func(dk []float32, in [][]float32) {
				spatialDk(in[0], in[1], dk, b, c, hw, f)
			},
		}, in[0], grad)
		return G.Nodes{dx, dk}, err
	}
	return G.ApplyOp(op, x, kernel)
}

// spatialForward is SpatialEmbeddings on plain slices: x [b, c·hw], kernel
// [c·hw, f] → y [b, c·f]. For graph-free inference paths.
// The batch rows are split across the cores (each row's output depends on
// that row only).
func spatialForward(x, kernel, y []float32, b, c, hw, f int) {
	par.For(b, 1, max(1, splitGrain/max(1, c*hw)), func(lo, hi int) { spatialForwardRows(x, kernel, y, c, hw, f, lo, hi) })
}

// spatialForwardRows is spatialForward on batch rows [lo, hi) in the
// calling goroutine.
func spatialForwardRows(x, kernel, y []float32, c, hw, f, lo, hi int) {
	if lo >= hi {
		return
	}
	C.k_spatial_fwd(fp(x[lo*c*hw:]), fp(kernel), fp(y[lo*c*f:]), C.long(hi-lo), C.long(c), C.long(hw), C.long(f))
}

func spatialDx(k, dy, dx, kt []float32, b, c, hw, f int) {
	if b > 0 {
		C.k_spatial_dx(fp(k), fp(dy), fp(dx), fp(kt), C.long(b), C.long(c), C.long(hw), C.long(f))
	}
}

// spatialDk sums over the batch per channel: the channels are split across
// the cores (each channel's sum runs in one goroutine, in batch order).
func spatialDk(x, dy, dk []float32, b, c, hw, f int) {
	par.For(c, 1, max(1, splitGrain/max(1, b*hw)), func(lo, hi int) { spatialDkChannels(x, dy, dk, b, c, hw, f, lo, hi) })
}

// spatialDkChannels is spatialDk on channels [lo, hi) in the calling
// goroutine.
func spatialDkChannels(x, dy, dk []float32, b, c, hw, f, lo, hi int) {
	if lo >= hi {
		return
	}
	C.k_spatial_dk(fp(x), fp(dy), fp(dk), C.long(b), C.long(c), C.long(hw), C.long(f), C.long(lo), C.long(hi))
}

// SpatialForward is the graph-free SpatialEmbeddings: y [b, c·f] from x
// [b, c·hw] and kernel [c·hw, f], all row-major.
func SpatialForward(x, kernel, y []float32, b, c, hw, f int) error {
	if len(x) != b*c*hw || len(kernel) != c*hw*f || len(y) != b*c*f {
		return fmt.Errorf("models: SpatialForward of %d, %d, %d values: want x %d, kernel %d, y %d",
			len(x), len(kernel), len(y), b*c*hw, c*hw*f, b*c*f)
	}
	spatialForward(x, kernel, y, b, c, hw, f)
	return nil
}

// InitSpatialKernel fills a [C·HW, F] kernel as LeRobot does:
// nn.init.kaiming_normal_(kernel [C,H,W,F], mode="fan_in",
// nonlinearity="linear"), i.e. N(0, 1/fan_in) with torch's fan_in of a 4-D
// tensor, size(1)·size(2)·size(3) = H·W·F.
func InitSpatialKernel(rng *rand.Rand, kernel []float32, hw, f int) {
	std := 1 / math.Sqrt(float64(hw*f))
	for i := range kernel {
		kernel[i] = float32(std * rng.NormFloat64())
	}
}
