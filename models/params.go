package models

import (
	"fmt"
	"sort"

	"gorgonia.org/tensor"
)

// Params is an ordered store of named float32 tensors. Every graph binds the
// same backing arrays, so an optimiser step on the store is seen by all.
type Params struct {
	names []string
	byKey map[string]*tensor.Dense
}

// NewParams returns an empty store.
func NewParams() *Params { return &Params{byKey: map[string]*tensor.Dense{}} }

// Add creates a zero tensor; it panics on a duplicate name (a programming
// error in a model definition).
func (p *Params) Add(name string, shape ...int) *tensor.Dense {
	if _, dup := p.byKey[name]; dup {
		panic(fmt.Sprintf("models: parameter %q defined twice", name))
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, n)))
	p.names = append(p.names, name)
	p.byKey[name] = t
	return t
}

// Get returns a parameter or nil.
func (p *Params) Get(name string) *tensor.Dense { return p.byKey[name] }

// Data returns a parameter's values (aliasing the tensor); it panics if the
// parameter is missing (a programming error).
func (p *Params) Data(name string) []float32 {
	t := p.byKey[name]
	if t == nil {
		panic(fmt.Sprintf("models: no parameter %q", name))
	}
	return t.Data().([]float32)
}

// Names lists the parameters in definition order.
func (p *Params) Names() []string { return append([]string(nil), p.names...) }

// WithPrefix lists, in definition order, the parameters whose name starts
// with one of the prefixes.
func (p *Params) WithPrefix(prefixes ...string) []string {
	var out []string
	for _, n := range p.names {
		for _, pre := range prefixes {
			if len(n) >= len(pre) && n[:len(pre)] == pre {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// Count is the total number of scalars.
func (p *Params) Count(names ...string) int {
	if names == nil {
		names = p.names
	}
	n := 0
	for _, name := range names {
		n += p.byKey[name].Shape().TotalSize()
	}
	return n
}

// Load copies values from src (name → data), which must hold exactly this
// store's names with the same sizes.
func (p *Params) Load(src map[string][]float32) error {
	var missing, extra []string
	for _, n := range p.names {
		v, ok := src[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		dst := p.Data(n)
		if len(v) != len(dst) {
			return fmt.Errorf("models: parameter %s has %d values, want %d (shape %v)", n, len(v), len(dst), p.byKey[n].Shape())
		}
		copy(dst, v)
	}
	for n := range src {
		if _, ok := p.byKey[n]; !ok {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		return fmt.Errorf("models: parameters do not match: missing %v, unexpected %v", missing, extra)
	}
	return nil
}
