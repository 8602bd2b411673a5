package optim

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#pragma GCC optimize("no-math-errno")
#include <math.h>

// One Adam step over n parameters, in float32 as torch's single-tensor
// Adam: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
// p ← p − step·m / (√v / bc2 + ε). Vectorised by GCC (sqrtf is an
// instruction); no -ffast-math, so the arithmetic is exactly this order
// (no-math-errno only lets sqrtf be the instruction).
__attribute__((target_clones("arch=x86-64-v3", "default")))
static void k_adam(float* p, const float* g, float* m, float* v, long n,
                   float b1, float b2, float step, float bc2, float eps) {
	for (long i = 0; i < n; i++) {
		m[i] = b1 * m[i] + (1.0f - b1) * g[i];
		v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
		p[i] -= step * m[i] / (sqrtf(v[i]) / bc2 + eps);
	}
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
