package models

/*
#cgo CFLAGS: -O3 -ffast-math
#cgo LDFLAGS: -lmvec -lm
#include <math.h>

// Elementwise and row-wise float32 kernels of the training graphs. GCC
// vectorises the loops and, with -ffast-math, calls glibc's vector math
// (libmvec) for expf/tanhf; target_clones adds an AVX2+FMA version picked at
// load time on CPUs that have it, with a baseline SSE2 one for the rest.
// Sums over a row accumulate in double, as the Go versions did.

#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

CLONES static void k_silu(const float* x, float* y, long n) {
	for (long i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}

CLONES static void k_silu_grad(const float* x, const float* dy, float* dx, long n) {
	for (long i = 0; i < n; i++) {
		float s = 1.0f / (1.0f + expf(-x[i]));
		dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
	}
}

CLONES static void k_tanh(const float* x, float* y, long n) {
	for (long i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

CLONES static void k_add_row(const float* x, const float* b, float* y, long rows, long cols) {
	for (long r = 0; r < rows; r++) {
		const float* xr = x + r * cols;
		float* yr = y + r * cols;
		for (long j = 0; j < cols; j++) yr[j] = xr[j] + b[j];
	}
}

CLONES static void k_col_sum(const float* g, float* out, double* acc, long rows, long cols) {
	for (long j = 0; j < cols; j++) acc[j] = 0;
	for (long r = 0; r < rows; r++) {
		const float* gr = g + r * cols;
		for (long j = 0; j < cols; j++) acc[j] += gr[j];
	}
	for (long j = 0; j < cols; j++) out[j] = (float)acc[j];
}

static inline void row_stats(const float* x, long cols, float eps, float* mean, float* rstd) {
	double s = 0, ss = 0;
	for (long j = 0; j < cols; j++) s += x[j];
	double m = s / cols;
	for (long j = 0; j < cols; j++) { double d = x[j] - m; ss += d * d; }
	*mean = (float)m;
	*rstd = (float)(1.0 / sqrt(ss / cols + eps));
}

CLONES static void k_layernorm(const float* x, const float* g, const float* b, float* y, long rows, long cols, float eps) {
	for (long r = 0; r < rows; r++) {
		const float* xr = x + r * cols;
		float* yr = y + r * cols;
		float mean, rstd;
		row_stats(xr, cols, eps, &mean, &rstd);
		for (long j = 0; j < cols; j++) yr[j] = (xr[j] - mean) * rstd * g[j] + b[j];
	}
}

// dx = rstd·(h − mean(h) − x̂·mean(h·x̂)), h = γ·dy.
CLONES static void k_layernorm_grad_x(const float* x, const float* g, const float* dy, float* dx, long rows, long cols, float eps) {
	for (long r = 0; r < rows; r++) {
		const float* xr = x + r * cols;
		const float* dyr = dy + r * cols;
		float* dxr = dx + r * cols;
		float mean, rstd;
		row_stats(xr, cols, eps, &mean, &rstd);
		double mh = 0, mhx = 0;
		for (long j = 0; j < cols; j++) {
			double h = (double)dyr[j] * g[j];
			mh += h;
			mhx += h * (double)((xr[j] - mean) * rstd);
		}
		mh /= cols;
		mhx /= cols;
		for (long j = 0; j < cols; j++) {
			double h = (double)dyr[j] * g[j];
			dxr[j] = rstd * (float)(h - mh - (double)((xr[j] - mean) * rstd) * mhx);
		}
	}
}

// dγ_j = Σ_rows dy·x̂.
CLONES static void k_layernorm_grad_gamma(const float* x, const float* dy, float* dg, double* acc, long rows, long cols, float eps) {
	for (long j = 0; j < cols; j++) acc[j] = 0;
	for (long r = 0; r < rows; r++) {
		const float* xr = x + r * cols;
		const float* dyr = dy + r * cols;
		float mean, rstd;
		row_stats(xr, cols, eps, &mean, &rstd);
		for (long j = 0; j < cols; j++) acc[j] += (double)dyr[j] * (double)((xr[j] - mean) * rstd);
	}
	for (long j = 0; j < cols; j++) dg[j] = (float)acc[j];
}
*/
import "C"

import "unsafe"

func fp(v []float32) *C.float {
	if len(v) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&v[0]))
}

func dp(v []float64) *C.double { return (*C.double)(unsafe.Pointer(&v[0])) }

func siluRows(x, y []float32) {
	if len(x) > 0 {
		C.k_silu(fp(x), fp(y), C.long(len(x)))
	}
}

func siluGradRows(x, dy, dx []float32) {
	if len(x) > 0 {
		C.k_silu_grad(fp(x), fp(dy), fp(dx), C.long(len(x)))
	}
}

func tanhRows(x, y []float32) {
	if len(x) > 0 {
		C.k_tanh(fp(x), fp(y), C.long(len(x)))
	}
}

func addRowKernel(x, b, y []float32, rows, cols int) {
	C.k_add_row(fp(x), fp(b), fp(y), C.long(rows), C.long(cols))
}

func colSumKernel(g, out []float32, rows, cols int) {
	acc := make([]float64, cols)
	C.k_col_sum(fp(g), fp(out), dp(acc), C.long(rows), C.long(cols))
}

func layerNormKernel(x, g, b, y []float32, rows, cols int, eps float32) {
	C.k_layernorm(fp(x), fp(g), fp(b), fp(y), C.long(rows), C.long(cols), C.float(eps))
}

func layerNormGradXKernel(x, g, dy, dx []float32, rows, cols int, eps float32) {
	C.k_layernorm_grad_x(fp(x), fp(g), fp(dy), fp(dx), C.long(rows), C.long(cols), C.float(eps))
}

func layerNormGradGammaKernel(x, dy, dg []float32, rows, cols int, eps float32) {
	acc := make([]float64, cols)
	C.k_layernorm_grad_gamma(fp(x), fp(dy), fp(dg), dp(acc), C.long(rows), C.long(cols), C.float(eps))
}
