package replay

/*
#cgo CFLAGS: -O3

// float16 ↔ float32 conversion of stored camera features. The x86-64-v3
// clone uses F16C (vcvtph2ps / vcvtps2ph, round to nearest even); the
// default one calls libgcc's software conversions.

#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

CLONES static void k_half_to_float_impl(const _Float16* x, float* y, long n) {
	for (long i = 0; i < n; i++) y[i] = (float)x[i];
}

CLONES static void k_float_to_half_impl(const float* x, _Float16* y, long n) {
	for (long i = 0; i < n; i++) y[i] = (_Float16)x[i];
}

// cgo has no 2-byte float type: the Go side passes uint16 pointers.
static void k_half_to_float(const unsigned short* x, float* y, long n) { k_half_to_float_impl((const _Float16*)x, y, n); }
static void k_float_to_half(const float* x, unsigned short* y, long n) { k_float_to_half_impl(x, (_Float16*)y, n); }
*/
import "C"

import "unsafe"

// halfToFloat widens IEEE binary16 values (stored as uint16) into dst.
func halfToFloat(dst []float32, src []uint16) {
	n := min(len(dst), len(src))
	if n == 0 {
		return
	}
	C.k_half_to_float((*C.ushort)(unsafe.Pointer(&src[0])), (*C.float)(unsafe.Pointer(&dst[0])), C.long(n))
}

// floatToHalf rounds float32 values to binary16 (nearest even; beyond
// ±65504 to ±Inf).
func floatToHalf(dst []uint16, src []float32) {
	n := min(len(dst), len(src))
	if n == 0 {
		return
	}
	C.k_float_to_half((*C.float)(unsafe.Pointer(&src[0])), (*C.ushort)(unsafe.Pointer(&dst[0])), C.long(n))
}
