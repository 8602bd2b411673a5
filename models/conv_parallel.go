package models

import "github.com/e2hil/e2hil/internal/par"

// Convolutions and GEMMs use every core by splitting their work — the GEMMs'
// panels of 32 columns, the images of col2im, the rows of the shuffles —
// into pieces, each running a single-threaded C piece, on internal/par's
// helpers. The convolution GEMMs are this package's own (conv_gemm.go), so
// OpenBLAS's process-wide thread policy (training/sac.UseBLAS: one thread)
// neither helps nor hurts them.

// parallelFor runs f over [0, n) in contiguous pieces, each a multiple of
// align (except the last) and at least minChunk long, and waits for all of
// them (par.For).
func parallelFor(n, align, minChunk int, f func(lo, hi int)) { par.For(n, align, minChunk, f) }
