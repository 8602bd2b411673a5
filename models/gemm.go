package models

import "sync"

// gemmBufs holds packing buffers for Sgemm calls (which may come from
// several goroutines).
var gemmBufs = sync.Pool{New: func() any { return new([2][]float32) }}

// SgemmMinWork is the m·n·k below which Sgemm declines (a call's packing
// and goroutine start-up would outweigh the product).
const SgemmMinWork = 1 << 18

// Sgemm computes the row-major product c = op(a)·op(b) (c += op(a)·op(b)
// with acc), op(a) [m, k], op(b) [k, n], c [m, n] with row stride ldc, on
// the AVX-512 panel GEMM of the convolutions, split across goroutines. It
// reports false, leaving c untouched, for shapes it does not take (work
// below SgemmMinWork, fewer than 8 rows or 32 columns, or strides shorter
// than the rows): the caller then uses another BLAS.
func Sgemm(ta, tb bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) bool {
	if m < 8 || n < gemmPanelNR || k < 1 || m*n*k < SgemmMinWork || ldc < n {
		return false
	}
	ar, ac, br, bc := m, k, k, n
	if ta {
		ar, ac = k, m
	}
	if tb {
		br, bc = n, k
	}
	if lda < ac || ldb < bc || len(a) < (ar-1)*lda+ac || len(b) < (br-1)*ldb+bc || len(c) < (m-1)*ldc+n {
		return false
	}
	bufs := gemmBufs.Get().(*[2][]float32)
	defer gemmBufs.Put(bufs)
	ap := packARows(&bufs[0], a, lda, ta, m, k)
	bp := grow(&bufs[1], panelsLen(k, n))
	// One pass of goroutines: each packs its own panels of op(b), then
	// multiplies them.
	parallelFor((n+gemmPanelNR-1)/gemmPanelNR, 1, gemmGrain(m, k), func(lo, hi int) {
		packB(b, ldb, tb, k, n, bp, lo, hi)
		gemmPanelRange(m, n, k, ap, bp, c, panelOut{ldc: ldc, hw: n}, acc, lo, hi)
	})
	return true
}
