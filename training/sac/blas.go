package sac

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
import "C"

import (
	"os"
	"sync"

	"github.com/e2hil/e2hil/models"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/gorgonia/blase"
)

var blasOnce sync.Once

// UseBLAS makes Gorgonia's matrix products fast, process-wide: float32
// matrix products large enough to split (models.Sgemm: the AVX-512 panel
// GEMM of the convolutions on every core, ≈ 175 GFLOP/s on a 256³ product
// on 2 cores) run there, everything else on OpenBLAS (through blase).
//
// OpenBLAS runs single-threaded unless OPENBLAS_NUM_THREADS says otherwise:
// what is left to it is small, and its worker threads spin between calls,
// taking the cores from the goroutines of models' row-wise ops and GEMMs.
func UseBLAS() {
	blasOnce.Do(func() {
		if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
			C.openblas_set_num_threads(1)
		}
		G.Use(panelBLAS{blase.Implementation()})
	})
}

// panelBLAS routes Sgemm to models.Sgemm where it takes the call.
type panelBLAS struct{ G.BLAS }

func (p panelBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if alpha == 1 && (beta == 0 || beta == 1) &&
		models.Sgemm(tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, a, lda, b, ldb, c, ldc, beta == 1) {
		return
	}
	p.BLAS.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
