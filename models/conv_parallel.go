package models

// #cgo LDFLAGS: -lopenblas
// int openblas_get_num_threads(void);
import "C"

import (
	"runtime"
	"sync"
)

// Convolutions use every core by splitting their work — GEMM columns or
// rows, images of im2col/col2im — across goroutines, each running a
// single-threaded piece (training/sac.UseBLAS keeps OpenBLAS on one thread:
// see its comment). This leaves OpenBLAS's process-wide thread count alone:
// when it runs several threads of its own (OPENBLAS_NUM_THREADS > 1), a GEMM
// is one call that OpenBLAS threads, never two concurrent threaded calls
// fighting over the same cores.

// convWorkers is the number of pieces a convolution's work is split into.
func convWorkers() int {
	return min(runtime.GOMAXPROCS(0), 8)
}

// blasThreaded reports whether OpenBLAS threads its own calls.
func blasThreaded() bool { return C.openblas_get_num_threads() > 1 }

// parallelFor runs f over [0, n) in up to convWorkers() contiguous chunks,
// each a multiple of align (except the last), and waits for all of them.
// Work smaller than minChunk per piece is not split.
func parallelFor(n, align, minChunk int, f func(lo, hi int)) {
	w := convWorkers()
	if minChunk > 0 {
		w = min(w, n/minChunk)
	}
	if w <= 1 {
		f(0, n)
		return
	}
	chunk := (n + w - 1) / w
	chunk = (chunk + align - 1) / align * align
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(lo, min(lo+chunk, n))
	}
	f(0, min(chunk, n))
	wg.Wait()
}

// sgemmPar is sgemm with the work split across goroutines along n (the
// columns of c) or, when n is too narrow, along m (its rows).
func sgemmPar(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	const minFlops = 4 << 20 // below this a goroutine costs more than it saves
	if blasThreaded() || 2*m*n*k < 2*minFlops {
		sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if n >= 256 {
		parallelFor(n, 64, 64, func(lo, hi int) {
			bo := lo // offset of column lo in op(b)
			if tb {
				bo = lo * ldb
			}
			sgemm(ta, tb, m, hi-lo, k, alpha, a, lda, b[bo:], ldb, beta, c[lo:], ldc)
		})
		return
	}
	parallelFor(m, 16, 16, func(lo, hi int) {
		ao := lo * lda // offset of row lo in op(a)
		if ta {
			ao = lo
		}
		sgemm(ta, tb, hi-lo, n, k, alpha, a[ao:], lda, b, ldb, beta, c[lo*ldc:], ldc)
	})
}
