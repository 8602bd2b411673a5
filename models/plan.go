package models

import (
	"fmt"
	"reflect"
	"unsafe"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Plan runs a Gorgonia graph op by op in topological order, each op into an
// output buffer of its own allocated once (UsePreallocDo). Gorgonia's tape
// machine shares registers between nodes of different sizes, so on every run
// most ops find no fitting buffer and allocate — and page-fault — fresh
// tensors; for the ResNet-10 that was a third of a forward pass, in the
// pooling and norm loops. A Plan runs every node of the graph, gradients
// included (after G.Grad, a parameter's gradient is Value(param.Deriv()));
// it does not bind dual values or accumulate into them. Not safe for
// concurrent use.
type Plan struct {
	steps []planStep
	vals  map[*G.Node]G.Value
}

type planStep struct {
	node *G.Node
	op   G.Op
	in   G.Nodes
	args []G.Value
	pre  bool // has its own preallocated output
}

// NewPlan orders g's ops; nil when the graph's node layout is not Gorgonia
// v0.9.18's or an input has no value (the caller then uses a tape machine).
func NewPlan(g *G.ExprGraph) *Plan {
	sorted, err := G.Sort(g)
	if err != nil {
		return nil
	}
	p := &Plan{vals: map[*G.Node]G.Value{}}
	for i := len(sorted) - 1; i >= 0; i-- { // Sort puts the roots first
		n := sorted[i]
		if n.Op() == nil {
			if n.Value() == nil {
				return nil
			}
			p.vals[n] = n.Value()
			continue
		}
		in, ok := nodeChildren(n)
		if !ok {
			return nil
		}
		st := planStep{node: n, op: n.Op(), in: in, args: make([]G.Value, len(in))}
		if _, ok := n.Op().(G.UsePreallocDoer); ok && n.Shape().Dims() > 0 && n.Dtype() == tensor.Float32 {
			p.vals[n] = tensor.New(tensor.WithShape(n.Shape()...), tensor.Of(tensor.Float32))
			st.pre = true
		}
		p.steps = append(p.steps, st)
	}
	return p
}

// Run executes every op once.
func (p *Plan) Run() error {
	for i := range p.steps {
		s := &p.steps[i]
		for j, c := range s.in {
			s.args[j] = p.vals[c]
		}
		var v G.Value
		var err error
		if s.pre {
			if v, err = s.op.(G.UsePreallocDoer).UsePreallocDo(p.vals[s.node], s.args...); err != nil {
				v, err = s.op.Do(s.args...)
			}
		} else {
			v, err = s.op.Do(s.args...)
		}
		if err != nil {
			return fmt.Errorf("%v: %w", s.op, err)
		}
		p.vals[s.node] = v
	}
	return nil
}

// Value is a node's value after Run (nil for a node not in the graph).
func (p *Plan) Value(n *G.Node) G.Value { return p.vals[n] }

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
