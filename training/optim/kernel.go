package optim

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include <immintrin.h>
#include <math.h>

// One Adam step over n parameters, in float32 as torch's single-tensor
// Adam: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
// p ← p − step·m / (√v / bc2 + ε), each operation rounded in this order (no
// fused multiply-add). GCC does not vectorise the plain loop (sqrtf may set
// errno, and cgo refuses -fno-math-errno), so AVX2 machines run the
// same operations 8 lanes at a time; the last n % 8 go through the vector
// code too, padded, so every element sees the same instructions.
static void adam_scalar(float* p, const float* g, float* m, float* v, long n,
                        float b1, float b2, float step, float bc2, float eps) {
	for (long i = 0; i < n; i++) {
		m[i] = b1 * m[i] + (1.0f - b1) * g[i];
		v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
		p[i] -= step * m[i] / (sqrtf(v[i]) / bc2 + eps);
	}
}

__attribute__((target("avx2"))) static void adam8(float* p, const float* g, float* m, float* v,
		__m256 b1, __m256 c1, __m256 b2, __m256 c2, __m256 step, __m256 bc2, __m256 eps) {
	__m256 gi = _mm256_loadu_ps(g);
	__m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m)), _mm256_mul_ps(c1, gi));
	__m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v)), _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
	_mm256_storeu_ps(m, mi);
	_mm256_storeu_ps(v, vi);
	__m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2), eps);
	_mm256_storeu_ps(p, _mm256_sub_ps(_mm256_loadu_ps(p), _mm256_div_ps(_mm256_mul_ps(step, mi), den)));
}

__attribute__((target("avx2"))) static void adam_avx2(float* p, const float* g, float* m, float* v, long n,
		float b1, float b2, float step, float bc2, float eps) {
	__m256 vb1 = _mm256_set1_ps(b1), vc1 = _mm256_set1_ps(1.0f - b1), vb2 = _mm256_set1_ps(b2),
	       vc2 = _mm256_set1_ps(1.0f - b2), vstep = _mm256_set1_ps(step), vbc2 = _mm256_set1_ps(bc2),
	       veps = _mm256_set1_ps(eps);
	long i = 0;
	for (; i + 8 <= n; i += 8) adam8(p + i, g + i, m + i, v + i, vb1, vc1, vb2, vc2, vstep, vbc2, veps);
	if (i < n) {
		float tp[8] = {0}, tg[8] = {0}, tm[8] = {0}, tv[8] = {0};
		long r = n - i;
		for (long j = 0; j < r; j++) { tp[j] = p[i + j]; tg[j] = g[i + j]; tm[j] = m[i + j]; tv[j] = v[i + j]; }
		adam8(tp, tg, tm, tv, vb1, vc1, vb2, vc2, vstep, vbc2, veps);
		for (long j = 0; j < r; j++) { p[i + j] = tp[j]; m[i + j] = tm[j]; v[i + j] = tv[j]; }
	}
}

// use_avx2: -1 until detected; tests set 0 to compare with the scalar loop.
static int use_avx2 = -1;
static void set_avx2(int on) { use_avx2 = on && __builtin_cpu_supports("avx2"); }

static void k_adam(float* p, const float* g, float* m, float* v, long n,
                   float b1, float b2, float step, float bc2, float eps) {
	if (use_avx2 < 0) set_avx2(1);
	if (use_avx2) adam_avx2(p, g, m, v, n, b1, b2, step, bc2, eps);
	else adam_scalar(p, g, m, v, n, b1, b2, step, bc2, eps);
}
*/
import "C"

import "unsafe"

func adamKernel(p, g, m, v []float32, b1, b2, step, bc2, eps float32) {
	if len(p) == 0 {
		return
	}
	f := func(s []float32) *C.float { return (*C.float)(unsafe.Pointer(&s[0])) }
	C.k_adam(f(p), f(g), f(m), f(v), C.long(len(p)), C.float(b1), C.float(b2), C.float(step), C.float(bc2), C.float(eps))
}

// setVectorAdam switches the AVX2 kernel on or off (for tests; on by
// default where the CPU has AVX2).
func setVectorAdam(on bool) {
	v := C.int(0)
	if on {
		v = 1
	}
	C.set_avx2(v)
}
