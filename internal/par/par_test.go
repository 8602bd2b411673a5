package par

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestForCoversEachIndexOnce: every index of [0, n) is visited exactly once,
// pieces are aligned and at least minChunk long (but the last), on any
// number of cores.
func TestForCoversEachIndexOnce(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		prev := runtime.GOMAXPROCS(procs)
		for _, c := range []struct{ n, align, minChunk int }{
			{0, 1, 1}, {1, 1, 1}, {7, 1, 1}, {8, 1, 1}, {100, 16, 1}, {1000, 16, 64}, {1000, 1, 600}, {33, 8, 0},
		} {
			t.Run(fmt.Sprintf("procs%d/n%d_align%d_min%d", procs, c.n, c.align, c.minChunk), func(t *testing.T) {
				seen := make([]atomic.Int32, c.n)
				var pieces atomic.Int32
				For(c.n, c.align, c.minChunk, func(lo, hi int) {
					pieces.Add(1)
					if lo%c.align != 0 {
						t.Errorf("piece [%d, %d) not aligned to %d", lo, hi, c.align)
					}
					if hi < c.n && c.minChunk > 0 && hi-lo < c.minChunk {
						t.Errorf("piece [%d, %d) shorter than %d", lo, hi, c.minChunk)
					}
					for i := lo; i < hi; i++ {
						seen[i].Add(1)
					}
				})
				for i := range seen {
					if n := seen[i].Load(); n != 1 {
						t.Fatalf("index %d visited %d times", i, n)
					}
				}
				if procs == 1 && pieces.Load() > 1 {
					t.Errorf("one core: %d pieces, want 1", pieces.Load())
				}
			})
		}
		runtime.GOMAXPROCS(prev)
	}
}

// TestForUsesHelpers: with two cores, a helper takes some pieces of a
// long-enough For (the point of the package), and nested Fors (a piece
// that splits its own work) complete.
func TestForUsesHelpers(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core")
	}
	var elsewhere atomic.Int32
	self := goid()
	for range 20 {
		For(4, 1, 1, func(lo, hi int) {
			if goid() != self {
				elsewhere.Add(1)
			}
			var inner atomic.Int32
			For(64, 1, 1, func(lo, hi int) { inner.Add(int32(hi - lo)) })
			if inner.Load() != 64 {
				t.Errorf("nested For covered %d of 64", inner.Load())
			}
			spin(200 * time.Microsecond)
		})
	}
	if elsewhere.Load() == 0 {
		t.Error("no piece ran outside the caller in 20 Fors of 4 × 200 µs")
	}
}

// TestTeamRunsEveryMember: each member runs once, members can wait on each
// other (a helper joins, or the caller runs the rest afterwards), and Help
// inside a member runs another member's For.
func TestTeamRunsEveryMember(t *testing.T) {
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		var ran [2]atomic.Int32
		var sum atomic.Int64
		Team(2, func(i int) {
			ran[i].Add(1)
			For(1000, 1, 10, func(lo, hi int) { sum.Add(int64(hi - lo)) })
		})
		runtime.GOMAXPROCS(prev)
		if want := int32(1); ran[0].Load() != want || (procs > 1 && ran[1].Load() != want) {
			t.Errorf("procs %d: members ran %d, %d times", procs, ran[0].Load(), ran[1].Load())
		}
		if procs > 1 && sum.Load() != 2000 {
			t.Errorf("procs %d: the members' Fors covered %d of 2000", procs, sum.Load())
		}
	}
}

// TestHelpersParkAndWake: after SpinFor without work the helpers park; the
// next For wakes them and still completes.
func TestHelpersParkAndWake(t *testing.T) {
	For(8, 1, 1, func(lo, hi int) {})
	time.Sleep(3 * SpinFor)
	var n atomic.Int32
	For(8, 1, 1, func(lo, hi int) {
		n.Add(int32(hi - lo))
		spin(100 * time.Microsecond)
	})
	if n.Load() != 8 {
		t.Fatalf("covered %d of 8", n.Load())
	}
}

func spin(d time.Duration) {
	for t := time.Now(); time.Since(t) < d; {
	}
}

// goid is the current goroutine's id (from its stack header).
func goid() string {
	b := make([]byte, 32)
	b = b[:runtime.Stack(b, false)]
	for i := len("goroutine "); i < len(b); i++ {
		if b[i] == ' ' {
			return string(b[:i])
		}
	}
	return string(b)
}
