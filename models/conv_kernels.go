package models

/*
#cgo CFLAGS: -O3 -ffast-math
#include <string.h>

// Convolution kernels besides the GEMMs of conv_gemm.go: col2im, the
// NCHW⇄CNHW shuffles that let a whole batch go through one GEMM, and the
// BatchNorm and max-pool loops. target_clones as in kernels.go.

#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

// owRange gives the output columns [lo, hi) whose input column ow·s − p + kj
// falls inside [0, W): the loops then run without bounds tests and vectorise.
static inline void ow_range(long W, long kj, long s, long p, long Wo, long* lo, long* hi) {
	long a = p - kj, b = W - 1 + p - kj;
	*lo = a > 0 ? (a + s - 1) / s : 0;
	*hi = b < 0 ? 0 : b / s + 1;
	if (*hi > Wo) *hi = Wo;
	if (*lo > *hi) *lo = *hi;
}

// col2im accumulates col (layout of k_im2col) into dx [C,H,W], which it zeroes first.
CLONES static void k_col2im(const float* col, float* dx, long ld, long C, long H, long W,
		long kh, long kw, long s, long p, long Ho, long Wo) {
	memset(dx, 0, C * H * W * sizeof(float));
	for (long c = 0; c < C; c++)
	for (long ki = 0; ki < kh; ki++)
	for (long kj = 0; kj < kw; kj++) {
		const float* row = col + ((c * kh + ki) * kw + kj) * ld;
		float* xc = dx + c * H * W;
		long lo, hi;
		ow_range(W, kj, s, p, Wo, &lo, &hi);
		for (long oh = 0; oh < Ho; oh++) {
			long ih = oh * s - p + ki;
			if (ih < 0 || ih >= H) continue;
			const float* r = row + oh * Wo + lo;
			float* xr = xc + ih * W + (lo * s - p + kj); // input of column lo
			long m = hi - lo;
			if (s == 1) for (long i = 0; i < m; i++) xr[i] += r[i];
			else for (long i = 0; i < m; i++) xr[i * s] += r[i];
		}
	}
}

// k_swap01 turns [A,B,P] into [B,A,P] (NCHW ⇄ CNHW with P = H·W).
// Rows [0, A) of x go to y, whose full first dimension is lda.
static void k_swap01(const float* x, float* y, long A, long B, long P, long lda) {
	for (long a = 0; a < A; a++)
	for (long b = 0; b < B; b++)
		memcpy(y + (b * lda + a) * P, x + (a * B + b) * P, P * sizeof(float));
}

// Per-channel sums of x and x² over N and P = H·W, in double.
CLONES static void k_chan_stats(const float* x, long N, long C, long P, double* sum, double* sq) {
	for (long c = 0; c < C; c++) { sum[c] = 0; sq[c] = 0; }
	for (long n = 0; n < N; n++)
	for (long c = 0; c < C; c++) {
		const float* r = x + (n * C + c) * P;
		float s = 0; // float along a row, double across rows
		for (long i = 0; i < P; i++) s += r[i];
		sum[c] += s;
	}
	for (long c = 0; c < C; c++) {
		double m = sum[c] / (double)(N * P);
		double acc = 0;
		for (long n = 0; n < N; n++) {
			const float* r = x + (n * C + c) * P;
			float q = 0, mf = (float)m;
			for (long i = 0; i < P; i++) { float d = r[i] - mf; q += d * d; }
			acc += q;
		}
		sq[c] = acc;
	}
}

// y = x·a[c] + b[c].
CLONES static void k_chan_affine(const float* x, float* y, const float* a, const float* b, long N, long C, long P) {
	for (long n = 0; n < N; n++)
	for (long c = 0; c < C; c++) {
		const float* r = x + (n * C + c) * P;
		float* o = y + (n * C + c) * P;
		float ac = a[c], bc = b[c];
		for (long i = 0; i < P; i++) o[i] = r[i] * ac + bc;
	}
}

// Per-channel Σdy and Σdy·(x − mean[c]), in double.
CLONES static void k_chan_dot(const float* x, const float* dy, const float* mean, long N, long C, long P, double* sdy, double* sdyx) {
	for (long c = 0; c < C; c++) { sdy[c] = 0; sdyx[c] = 0; }
	for (long n = 0; n < N; n++)
	for (long c = 0; c < C; c++) {
		const float* r = x + (n * C + c) * P;
		const float* g = dy + (n * C + c) * P;
		float m = mean[c], s = 0, q = 0;
		for (long i = 0; i < P; i++) { s += g[i]; q += g[i] * (r[i] - m); }
		sdy[c] += s;
		sdyx[c] += q;
	}
}

// dx = k1[c]·dy + k2[c]·(x − mean[c]) + k3[c].
CLONES static void k_bn_dx(const float* x, const float* dy, float* dx, const float* mean,
		const float* k1, const float* k2, const float* k3, long N, long C, long P) {
	for (long n = 0; n < N; n++)
	for (long c = 0; c < C; c++) {
		const float* r = x + (n * C + c) * P;
		const float* g = dy + (n * C + c) * P;
		float* o = dx + (n * C + c) * P;
		float m = mean[c], a = k1[c], b = k2[c], d = k3[c];
		for (long i = 0; i < P; i++) o[i] = a * g[i] + b * (r[i] - m) + d;
	}
}

// Max pool of planes [NC,H,W] (padding never wins: it is −∞); arg, if not
// NULL, gets the flat index in the plane of each maximum (first on ties).
CLONES static void k_maxpool(const float* x, float* y, int* arg, long NC, long H, long W,
		long k, long s, long p, long Ho, long Wo) {
	for (long q = 0; q < NC; q++) {
		const float* xp = x + q * H * W;
		float* yp = y + q * Ho * Wo;
		int* ap = arg ? arg + q * Ho * Wo : 0;
		for (long oh = 0; oh < Ho; oh++)
		for (long ow = 0; ow < Wo; ow++) {
			float best = -__builtin_inff();
			long bi = -1;
			for (long ki = 0; ki < k; ki++) {
				long ih = oh * s - p + ki;
				if (ih < 0 || ih >= H) continue;
				for (long kj = 0; kj < k; kj++) {
					long iw = ow * s - p + kj;
					if (iw < 0 || iw >= W) continue;
					float v = xp[ih * W + iw];
					if (v > best || bi < 0) { best = v; bi = ih * W + iw; }
				}
			}
			yp[oh * Wo + ow] = best;
			if (ap) ap[oh * Wo + ow] = (int)bi;
		}
	}
}

// dx[arg] += dy per plane; dx zeroed first.
static void k_maxpool_grad(const float* dy, const int* arg, float* dx, long NC, long HW, long P) {
	memset(dx, 0, NC * HW * sizeof(float));
	for (long q = 0; q < NC; q++)
		for (long i = 0; i < P; i++) dx[q * HW + arg[q * P + i]] += dy[q * P + i];
}

CLONES static void k_relu(const float* x, float* y, long n) {
	for (long i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
}

CLONES static void k_relu_grad(const float* y, const float* dy, float* dx, long n) {
	for (long i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0.0f;
}
*/
import "C"

import "unsafe"

func ip(v []int32) *C.int { return (*C.int)(unsafe.Pointer(&v[0])) }

// convGeom is the static geometry of a convolution.
type convGeom struct {
	N, C, H, W, O, KH, KW, S, P, Ho, Wo int
}

func (g convGeom) rows() int { return g.C * g.KH * g.KW } // K of the GEMMs
func (g convGeom) cols() int { return g.N * g.Ho * g.Wo } // N·Ho·Wo

// col2im writes dx [N,C,H,W] from col [C·KH·KW, N·Ho·Wo].
func col2im(g convGeom, col, dx []float32) {
	p := g.Ho * g.Wo
	parallelFor(g.N, 1, 1, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			C.k_col2im(fp(col[n*p:]), fp(dx[n*g.C*g.H*g.W:]), C.long(g.cols()), C.long(g.C), C.long(g.H), C.long(g.W),
				C.long(g.KH), C.long(g.KW), C.long(g.S), C.long(g.P), C.long(g.Ho), C.long(g.Wo))
		}
	})
}

// swap01 turns x [a,b,p] into y [b,a,p].
func swap01(x, y []float32, a, b, p int) {
	parallelFor(a, 1, max(1, (1<<16)/max(1, b*p)), func(lo, hi int) {
		C.k_swap01(fp(x[lo*b*p:]), fp(y[lo*p:]), C.long(hi-lo), C.long(b), C.long(p), C.long(a))
	})
}

// chanStats returns per-channel Σx and Σ(x − mean)² of x [N,C,P].
func chanStats(x []float32, n, c, p int, sum, sq []float64) {
	C.k_chan_stats(fp(x), C.long(n), C.long(c), C.long(p), dp(sum), dp(sq))
}

// elemGrain is the least number of values worth a goroutine in the
// memory-bound loops below.
const elemGrain = 1 << 16

func chanAffine(x, y, a, b []float32, n, c, p int) {
	parallelFor(n, 1, max(1, elemGrain/(c*p)), func(lo, hi int) {
		C.k_chan_affine(fp(x[lo*c*p:]), fp(y[lo*c*p:]), fp(a), fp(b), C.long(hi-lo), C.long(c), C.long(p))
	})
}

func chanDot(x, dy, mean []float32, n, c, p int, sdy, sdyx []float64) {
	C.k_chan_dot(fp(x), fp(dy), fp(mean), C.long(n), C.long(c), C.long(p), dp(sdy), dp(sdyx))
}

func bnDx(x, dy, dx, mean, k1, k2, k3 []float32, n, c, p int) {
	parallelFor(n, 1, max(1, elemGrain/(c*p)), func(lo, hi int) {
		o := lo * c * p
		C.k_bn_dx(fp(x[o:]), fp(dy[o:]), fp(dx[o:]), fp(mean), fp(k1), fp(k2), fp(k3), C.long(hi-lo), C.long(c), C.long(p))
	})
}

func maxPool(x, y []float32, arg []int32, nc, h, w, k, s, p, ho, wo int) {
	var a *C.int
	if arg != nil {
		a = ip(arg)
	}
	parallelFor(nc, 1, max(1, elemGrain/(h*w)), func(lo, hi int) {
		al := a
		if arg != nil {
			al = ip(arg[lo*ho*wo:])
		}
		C.k_maxpool(fp(x[lo*h*w:]), fp(y[lo*ho*wo:]), al, C.long(hi-lo), C.long(h), C.long(w), C.long(k), C.long(s), C.long(p), C.long(ho), C.long(wo))
	})
}

func maxPoolGrad(dy []float32, arg []int32, dx []float32, nc, hw, p int) {
	parallelFor(nc, 1, max(1, elemGrain/hw), func(lo, hi int) {
		C.k_maxpool_grad(fp(dy[lo*p:]), ip(arg[lo*p:]), fp(dx[lo*hw:]), C.long(hi-lo), C.long(hw), C.long(p))
	})
}

func reluRows(x, y []float32) {
	parallelFor(len(x), 16, elemGrain, func(lo, hi int) {
		if hi > lo {
			C.k_relu(fp(x[lo:]), fp(y[lo:]), C.long(hi-lo))
		}
	})
}

func reluGradRows(y, dy, dx []float32) {
	parallelFor(len(y), 16, elemGrain, func(lo, hi int) {
		if hi > lo {
			C.k_relu_grad(fp(y[lo:]), fp(dy[lo:]), fp(dx[lo:]), C.long(hi-lo))
		}
	})
}
