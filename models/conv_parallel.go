package models

import (
	"runtime"
	"sync"
)

// Convolutions use every core by splitting their work — the GEMMs' panels
// of 32 columns, the images of col2im, the rows of the shuffles — across
// goroutines, each running a single-threaded C piece. The convolution GEMMs
// are this package's own (conv_gemm.go), so OpenBLAS's process-wide thread
// policy (training/sac.UseBLAS: one thread) neither helps nor hurts them.

// convWorkers is the number of pieces a convolution's work is split into.
func convWorkers() int {
	return min(runtime.GOMAXPROCS(0), 8)
}

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
