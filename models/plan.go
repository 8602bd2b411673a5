package models

import (
	"fmt"
	"math"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/e2hil/e2hil/internal/par"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Plan runs a Gorgonia graph op by op, each op into an output buffer of its
// own allocated once (UsePreallocDo). Gorgonia's tape machine shares
// registers between nodes of different sizes, so on every run most ops find
// no fitting buffer and allocate — and page-fault — fresh tensors; for the
// ResNet-10 that was a third of a forward pass, in the pooling and norm
// loops. A Plan runs every node of the graph, gradients included (after
// G.Grad, a parameter's gradient is Value(param.Deriv())); it does not bind
// dual values or accumulate into them.
//
// With SetWorkers(n > 1) independent ops run concurrently (the critics of
// an ensemble, their backward passes, a gripper critic beside the actor).
// Every op reads its inputs' buffers and writes only its own, so the values
// do not depend on the schedule: a parallel run is bit-identical to a
// sequential one. Not safe for concurrent use.
type Plan struct {
	steps  []planStep
	leaves []planLeaf // inputs and parameters: read again at every Run (G.Let may rebind them)
	vals   []G.Value  // by node index
	index  map[*G.Node]int

	workers int
	ndeps   []int32   // per step: inputs produced by other steps
	users   [][]int32 // per step: the steps reading its output
	dur     []float64 // per step: its shortest time over the measured runs
	rank    []float64 // per step: the measured time from its start to the graph's end
	runs    int
	sched   planSched
}

type planLeaf struct {
	node *G.Node
	idx  int
}

type planStep struct {
	node *G.Node
	op   G.Op
	in   []int // node indices
	out  int
	args []G.Value
	pre  bool // has its own preallocated output
	// Parallel runs hand each op its own headers over its inputs' data
	// (views, made once per input value): Gorgonia's ops change their
	// inputs' headers for the duration of a call (a transposed product
	// transposes its operand in place, then back), so two ops reading one
	// tensor at once must not share its header.
	src, views []G.Value
}

// NewPlan orders g's ops; nil when the graph's node layout is not Gorgonia
// v0.9.18's or an input has no value (the caller then uses a tape machine).
//
// With keep, the plan runs only the ops keep's nodes depend on (Value is
// nil for the others): after G.Grad, keep the forward graph and the
// gradients, and the derivatives G.Grad builds towards inputs that are not
// parameters (the cached camera features, the state) are never computed.
func NewPlan(g *G.ExprGraph, keep ...*G.Node) *Plan {
	sorted, err := G.Sort(g)
	if err != nil {
		return nil
	}
	var needed map[*G.Node]bool
	if len(keep) > 0 {
		needed = map[*G.Node]bool{}
		stack := append([]*G.Node(nil), keep...)
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if needed[n] {
				continue
			}
			needed[n] = true
			children, ok := nodeChildren(n)
			if !ok {
				return nil
			}
			stack = append(stack, children...)
		}
	}
	p := &Plan{index: map[*G.Node]int{}, workers: 1}
	producer := map[int]int32{}             // node index → step
	for i := len(sorted) - 1; i >= 0; i-- { // Sort puts the roots first
		n := sorted[i]
		if needed != nil && !needed[n] {
			continue
		}
		idx := len(p.vals)
		p.index[n] = idx
		if n.Op() == nil {
			if n.Value() == nil {
				return nil
			}
			p.vals = append(p.vals, n.Value())
			p.leaves = append(p.leaves, planLeaf{n, idx})
			continue
		}
		children, ok := nodeChildren(n)
		if !ok {
			return nil
		}
		st := planStep{node: n, op: n.Op(), out: idx, args: make([]G.Value, len(children))}
		var v G.Value
		if _, ok := n.Op().(G.UsePreallocDoer); ok && n.Shape().Dims() > 0 && n.Dtype() == tensor.Float32 {
			v = tensor.New(tensor.WithShape(n.Shape()...), tensor.Of(tensor.Float32))
			st.pre = true
		}
		p.vals = append(p.vals, v)
		s := int32(len(p.steps))
		var deps int32
		seen := map[int32]bool{}
		for _, c := range children {
			ci, ok := p.index[c]
			if !ok {
				return nil // not in topological order
			}
			st.in = append(st.in, ci)
			if from, ok := producer[ci]; ok && !seen[from] {
				seen[from] = true
				deps++
				p.users[from] = append(p.users[from], s)
			}
		}
		producer[idx] = s
		p.steps = append(p.steps, st)
		p.ndeps = append(p.ndeps, deps)
		p.users = append(p.users, nil)
	}
	p.rank = make([]float64, len(p.steps))
	return p
}

// Grad is G.Grad of loss with respect to params, and the nodes a Plan of
// the graph keeps to run only what a trainer reads: the forward graph as it
// was before differentiating, and the gradients.
func Grad(loss *G.Node, params ...*G.Node) (grads, keep G.Nodes, err error) {
	keep = slices.Clone(loss.Graph().AllNodes()) // a copy: AllNodes is the graph's own list, G.Grad appends to it
	if grads, err = G.Grad(loss, params...); err != nil {
		return nil, nil, err
	}
	return grads, append(keep, grads...), nil
}

// SetWorkers lets Run execute up to n independent ops at once (n ≤ 1:
// one at a time, in topological order).
func (p *Plan) SetWorkers(n int) { p.workers = max(1, n) }

// Run executes every op once.
func (p *Plan) Run() error {
	for _, l := range p.leaves {
		p.vals[l.idx] = l.node.Value()
	}
	if p.workers <= 1 || len(p.steps) < 2 {
		for i := range p.steps {
			if err := p.exec(i); err != nil {
				return err
			}
		}
		return nil
	}
	if p.runs < planMeasureRuns { // time each op, sequentially, for the priorities
		p.runs++
		return p.measure()
	}
	p.runs++
	return p.sched.run(p)
}

// exec runs step i.
func (p *Plan) exec(i int) error {
	s := &p.steps[i]
	for j, c := range s.in {
		s.args[j] = p.vals[c]
		if d, ok := s.args[j].(*tensor.Dense); ok && p.workers > 1 {
			if s.src == nil {
				s.src, s.views = make([]G.Value, len(s.in)), make([]G.Value, len(s.in))
			}
			if s.src[j] != s.args[j] {
				s.src[j], s.views[j] = d, d.ShallowClone()
			}
			s.args[j] = s.views[j]
		}
	}
	var v G.Value
	var err error
	if s.pre {
		if v, err = s.op.(G.UsePreallocDoer).UsePreallocDo(p.vals[s.out], s.args...); err != nil {
			v, err = s.op.Do(s.args...)
		}
	} else {
		v, err = s.op.Do(s.args...)
	}
	if err != nil {
		return fmt.Errorf("%v: %w", s.op, err)
	}
	p.vals[s.out] = v
	return nil
}

// planMeasureRuns is the number of sequential runs that time the ops
// before runs go parallel: one timing is noisy on a shared machine, and the
// schedule built from it stays for the Plan's life (one bad sample made the
// same learner 30 % slower in some processes than in others).
const planMeasureRuns = 3

// measure runs the steps in order, timing each, keeps each step's shortest
// time so far, and sets every step's rank: that time plus the largest rank
// among its users (the critical path from it to the end). The parallel
// scheduler starts the ready step of highest rank first.
func (p *Plan) measure() error {
	if p.dur == nil {
		p.dur = make([]float64, len(p.steps))
		for i := range p.dur {
			p.dur[i] = math.Inf(1)
		}
	}
	for i := range p.steps {
		t := time.Now()
		if err := p.exec(i); err != nil {
			return err
		}
		p.dur[i] = min(p.dur[i], float64(time.Since(t)))
	}
	for i := len(p.steps) - 1; i >= 0; i-- {
		r := 0.0
		for _, u := range p.users[i] {
			r = max(r, p.rank[u])
		}
		p.rank[i] = p.dur[i] + r
	}
	return nil
}

// planSched is the state of one parallel Run: the workers (a par.Team)
// take ready steps under mu.
type planSched struct {
	mu      sync.Mutex
	pending []int32
	ready   []int32
	nready  atomic.Int32
	done    atomic.Int32
	err     error
}

func (s *planSched) run(p *Plan) error {
	if s.pending == nil {
		s.pending = make([]int32, len(p.steps))
	}
	copy(s.pending, p.ndeps)
	s.ready, s.err = s.ready[:0], nil
	s.done.Store(0)
	for i, d := range p.ndeps {
		if d == 0 {
			s.ready = append(s.ready, int32(i))
		}
	}
	s.nready.Store(int32(len(s.ready)))
	par.Team(p.workers, func(int) { s.work(p) })
	return s.err
}

// work takes ready steps, highest rank first, until every step has run or
// one failed; while none is ready it helps the other workers' GEMMs.
func (s *planSched) work(p *Plan) {
	n := int32(len(p.steps))
	for {
		for spin := 0; s.nready.Load() == 0; spin++ {
			if s.done.Load() >= n {
				return
			}
			if !par.Help() && spin&15 == 15 {
				runtime.Gosched()
			}
		}
		s.mu.Lock()
		if s.err != nil {
			s.mu.Unlock()
			return
		}
		if len(s.ready) == 0 {
			s.mu.Unlock()
			continue
		}
		best := 0
		for j, r := range s.ready {
			if p.rank[r] > p.rank[s.ready[best]] {
				best = j
			}
		}
		i := s.ready[best]
		s.ready[best] = s.ready[len(s.ready)-1]
		s.ready = s.ready[:len(s.ready)-1]
		s.nready.Store(int32(len(s.ready)))
		s.mu.Unlock()

		err := p.exec(int(i))

		s.mu.Lock()
		if err != nil && s.err == nil {
			s.err = err
		}
		for _, u := range p.users[i] {
			if s.pending[u]--; s.pending[u] == 0 {
				s.ready = append(s.ready, u)
			}
		}
		s.nready.Store(int32(len(s.ready)))
		s.mu.Unlock()
		if err != nil {
			s.done.Store(n) // releases the other workers
			return
		}
		s.done.Add(1)
	}
}

// Value is a node's value after Run (nil for a node not in the graph).
func (p *Plan) Value(n *G.Node) G.Value {
	i, ok := p.index[n]
	if !ok {
		return nil
	}
	return p.vals[i]
}

// nodeChildren reads a Gorgonia node's inputs, in order (the unexported
// children field; v0.9.18 has no accessor).
func nodeChildren(n *G.Node) (G.Nodes, bool) {
	f := reflect.ValueOf(n).Elem().FieldByName("children")
	if !f.IsValid() || f.Type() != reflect.TypeOf(G.Nodes{}) {
		return nil, false
	}
	return *(*G.Nodes)(unsafe.Pointer(f.UnsafeAddr())), true
}

// runRewind runs a tape machine and rewinds its program counter, keeping
// its registers so that the next run writes the same buffers through
// UsePreallocDo instead of reallocating every intermediate tensor (what
// Reset would make it do). Falls back to Reset for other machines. The same
// technique as training/sac's machine.run.
func runRewind(vm G.VM) error {
	err := vm.RunAll()
	v := reflect.ValueOf(vm)
	if err == nil && v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if pc := v.Elem().FieldByName("pc"); pc.IsValid() && pc.Kind() == reflect.Int {
			*(*int)(unsafe.Pointer(pc.UnsafeAddr())) = 0
			return nil
		}
	}
	vm.Reset()
	return err
}

// RunRewind runs a Gorgonia tape machine and keeps its buffers for the next
// run (see runRewind): for training loops outside this package.
func RunRewind(vm G.VM) error { return runRewind(vm) }
