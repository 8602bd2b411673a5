package sac

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
import "C"

import (
	"os"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/gorgonia/blase"
)

var blasOnce sync.Once

// UseBLAS makes Gorgonia's matrix products run on OpenBLAS (through blase),
// about 3× faster than its pure-Go default for these MLPs. Process-wide.
//
// OpenBLAS runs single-threaded unless OPENBLAS_NUM_THREADS says otherwise:
// the learner's matrices are small (256×256), its worker threads spin between
// calls, and the row-wise ops in package models already use every core, so
// one BLAS thread is faster here (measured: 105 vs 125 ms per
// BenchmarkLearnerIteration/State on 2 cores).
func UseBLAS() {
	blasOnce.Do(func() {
		if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
			C.openblas_set_num_threads(1)
		}
		G.Use(blase.Implementation())
	})
}
