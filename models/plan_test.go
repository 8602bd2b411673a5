package models

import (
	"math"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestPlanKeepPrunesDeadGradients: a plan given the forward graph and the
// parameter's gradient (Grad's keep) skips the derivative towards the input (which
// G.Grad builds but nothing reads) and computes every kept value exactly
// as the full plan does, sequentially and in parallel.
func TestPlanKeepPrunesDeadGradients(t *testing.T) {
	g := G.NewGraph()
	val := func(r, c int, s float32) tensor.Tensor {
		d := make([]float32, r*c)
		for i := range d {
			d[i] = s * float32(math.Sin(float64(i)*0.7+float64(s)))
		}
		return tensor.New(tensor.WithShape(r, c), tensor.WithBacking(d))
	}
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(8, 5), G.WithName("x"), G.WithValue(val(8, 5, 1)))
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(5, 3), G.WithName("w"), G.WithValue(val(5, 3, 0.5)))
	y := G.Must(G.Tanh(G.Must(G.Mul(x, w))))
	loss := G.Must(G.Sum(G.Must(G.Square(y))))
	_, keep, err := Grad(loss, w)
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		full, pruned := NewPlan(g), NewPlan(g, keep...)
		if full == nil || pruned == nil {
			t.Fatal("no plan")
		}
		full.SetWorkers(workers)
		pruned.SetWorkers(workers)
		for range planMeasureRuns + 2 { // past the timed sequential runs
			if err := full.Run(); err != nil {
				t.Fatal(err)
			}
			if err := pruned.Run(); err != nil {
				t.Fatal(err)
			}
		}
		if len(pruned.steps) >= len(full.steps) {
			t.Errorf("workers %d: pruned plan runs %d ops, the full one %d", workers, len(pruned.steps), len(full.steps))
		}
		for _, n := range keep {
			a, b := full.Value(n), pruned.Value(n)
			if b == nil {
				t.Fatalf("workers %d: kept node %v has no value", workers, n)
			}
			if !slices.Equal(dataOf(a), dataOf(b)) {
				t.Errorf("workers %d: %v: full %v, pruned %v", workers, n, a, b)
			}
		}
		skipped := 0
		for _, n := range g.AllNodes() {
			if pruned.Value(n) == nil {
				skipped++
			}
		}
		if skipped == 0 {
			t.Errorf("workers %d: every node has a value: nothing was pruned", workers)
		}
	}
}

func dataOf(v G.Value) []float32 {
	switch d := v.Data().(type) {
	case []float32:
		return d
	case float32:
		return []float32{d}
	}
	return nil
}
