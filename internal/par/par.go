// Package par splits numeric work across the cores with helpers that stay
// awake between pieces of work.
//
// Starting a goroutine on an idle core costs 150–300 µs on this project's
// virtual machines (the idle vCPU is halted, and waking it goes through the
// hypervisor), as long as a 256×256×256 product takes on one core. So the
// helpers here (GOMAXPROCS−1 goroutines, started on first use) poll for work
// for SpinFor after their last piece before they park; a learner or a
// camera pipeline calling For back to back keeps them on their cores, and
// For costs about a microsecond instead of a wake-up.
//
// The split of a For depends only on its arguments and GOMAXPROCS, never on
// timing, so results are reproducible when each piece writes its own output
// (which is what For is for).
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// SpinFor is how long an idle helper polls for work before parking.
const SpinFor = 2 * time.Millisecond

// maxHelpers bounds the helpers on large machines (the products split here
// are too small for many cores).
const maxHelpers = 7

// Workers is the number of goroutines For may use, the caller's included.
func Workers() int { return min(runtime.GOMAXPROCS(0), maxHelpers+1) }

// job is one For (or Team) in flight: pieces [0, n) claimed one at a time.
type job struct {
	run  func(piece int)
	n    int64
	next atomic.Int64 // next piece to claim
	done atomic.Int64 // pieces finished
	team bool         // Team members, not For pieces: helpers join, but not from inside a Team
}

// claim runs one unclaimed piece of j; false when none is left.
func (j *job) claim() bool {
	i := j.next.Add(1) - 1
	if i >= j.n {
		return false
	}
	j.run(int(i))
	j.done.Add(1)
	return true
}

var (
	mu     sync.Mutex
	active atomic.Pointer[[]*job] // jobs with pieces left (copy on write)
	start  sync.Once
	parked atomic.Int32
	wake   = make(chan struct{}, maxHelpers)
)

func publish(j *job) {
	start.Do(startHelpers)
	mu.Lock()
	old := active.Load()
	var list []*job
	if old != nil {
		list = append(list, *old...)
	}
	list = append(list, j)
	active.Store(&list)
	mu.Unlock()
	for n := parked.Load(); n > 0; n-- {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

func retire(j *job) {
	mu.Lock()
	old := *active.Load()
	list := make([]*job, 0, len(old))
	for _, o := range old {
		if o != j {
			list = append(list, o)
		}
	}
	active.Store(&list)
	mu.Unlock()
}

// startHelpers starts Workers()−1 helpers, for the life of the process
// (GOMAXPROCS at first use decides: later changes are not followed).
func startHelpers() {
	for range Workers() - 1 {
		go helper()
	}
}

// Help runs one piece of some For in flight (not a Team's members) and
// reports whether it found one: for a goroutine that is waiting on others.
func Help() bool { return help(false) }

func help(teams bool) bool {
	l := active.Load()
	if l == nil {
		return false
	}
	for _, j := range *l {
		if (teams || !j.team) && j.next.Load() < j.n && j.claim() {
			return true
		}
	}
	return false
}

func helper() {
	last := time.Now()
	for n := 0; ; n++ {
		if help(true) {
			last, n = time.Now(), 0
			continue
		}
		if n&63 == 63 {
			if time.Since(last) > SpinFor {
				parked.Add(1)
				if !pending() { // a job published after the check finds this helper counted
					<-wake
				}
				parked.Add(-1)
				last = time.Now()
			}
			runtime.Gosched()
		}
	}
}

// pending reports whether some job has unclaimed pieces.
func pending() bool {
	l := active.Load()
	if l == nil {
		return false
	}
	for _, j := range *l {
		if j.next.Load() < j.n {
			return true
		}
	}
	return false
}

// For runs f over [0, n) in contiguous pieces, each a multiple of align
// (except the last) and at least minChunk long, on the caller and the
// helpers, and returns when all are done. Pieces are claimed as helpers
// come free, so a busy machine runs them all in the caller.
func For(n, align, minChunk int, f func(lo, hi int)) {
	w := Workers()
	// One piece per worker: finer pieces cost the convolutions ~10 % (each
	// piece streams the packed weights again), and a helper that comes late
	// only means the caller runs its piece too.
	pieces := w
	if minChunk > 0 {
		pieces = min(pieces, n/minChunk)
	}
	if pieces <= 1 || w <= 1 {
		f(0, n)
		return
	}
	align = max(align, 1)
	chunk := ((n+pieces-1)/pieces + align - 1) / align * align
	pieces = (n + chunk - 1) / chunk
	j := &job{n: int64(pieces), run: func(i int) { f(i*chunk, min((i+1)*chunk, n)) }}
	publish(j)
	for j.claim() {
	}
	wait(j)
	retire(j)
}

// Team runs member(0) in the caller and member(1 … w−1) in helpers as they
// come free (a member no helper took in time runs in the caller after its
// own). Members share work among themselves (a scheduler's workers); while
// waiting inside member they should call Help, so that a For of another
// member still gets help.
func Team(w int, member func(i int)) {
	w = min(w, Workers())
	if w <= 1 {
		member(0)
		return
	}
	j := &job{n: int64(w), run: member, team: true}
	publish(j)
	for j.claim() {
	}
	wait(j)
	retire(j)
}

// wait returns when every piece of j is done, helping other Fors meanwhile.
func wait(j *job) {
	for n := 0; j.done.Load() < j.n; n++ {
		if !Help() && n&15 == 15 {
			runtime.Gosched()
		}
	}
}
