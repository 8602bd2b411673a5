package sac

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"

	"github.com/e2hil/e2hil/models"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// input is a graph input whose tensor is bound once and refilled in place.
type input struct {
	node *G.Node
	data []float32
}

func newInput(b *models.Graph, name string, rows, cols int) input {
	n := b.Input(name, rows, cols)
	d := make([]float32, rows*cols)
	G.Let(n, tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(d)))
	return input{node: n, data: d}
}

// machine is one compiled graph.
type machine struct {
	b      *models.Graph
	vm     G.VM
	params G.Nodes // nodes whose gradients this graph computes (empty: forward only)
	names  []string
}

func compile(b *models.Graph, loss *G.Node, gradNames []string) (*machine, error) {
	m := &machine{b: b, names: gradNames}
	var opts []G.VMOpt
	if loss != nil {
		m.params = b.ParamNodes(gradNames)
		if len(m.params) != len(gradNames) {
			return nil, fmt.Errorf("sac: graph does not use all of %v", gradNames)
		}
		if _, err := G.Grad(loss, m.params...); err != nil {
			return nil, fmt.Errorf("sac: differentiate: %w", err)
		}
		opts = append(opts, G.BindDualValues(m.params...))
	}
	m.vm = G.NewTapeMachine(b.G, opts...)
	return m, nil
}

// run executes the graph. Gorgonia accumulates into the parameters'
// gradient buffers across runs, so they are zeroed first.
func (m *machine) run() error {
	for _, n := range m.params {
		if g, err := n.Grad(); err == nil && g != nil {
			clear(g.Data().([]float32))
		}
	}
	err := m.vm.RunAll()
	if err != nil || !rewind(m.vm) {
		m.vm.Reset()
	}
	return err
}

// rewind sets a tape machine's program counter back to 0 and keeps its
// registers. Reset also drops every register, so each run reallocated all
// intermediate tensors (a tenth of a learner iteration in the allocator and
// GC); kept, they are overwritten in place through UsePreallocDo. The
// learner tests run every graph twice and compare (TestGradientsFiniteDifference,
// TestResumeContinuesExactly). It reports false, and the caller falls back to
// Reset, if the machine is not Gorgonia's tape machine as of v0.9.18.
func rewind(vm G.VM) bool {
	v := reflect.ValueOf(vm)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	pc := v.Elem().FieldByName("pc")
	if !pc.IsValid() || pc.Kind() != reflect.Int {
		return false
	}
	*(*int)(unsafe.Pointer(pc.UnsafeAddr())) = 0
	return true
}

// grads returns the gradient slices of m.params (aliasing Gorgonia's values).
func (m *machine) grads() ([][]float32, error) {
	out := make([][]float32, len(m.params))
	for i, n := range m.params {
		g, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("sac: gradient of %s: %w", m.names[i], err)
		}
		out[i] = g.Data().([]float32)
	}
	return out, nil
}

func scalar(n *G.Node) float64 {
	switch v := n.Value().Data().(type) {
	case float32:
		return float64(v)
	case []float32:
		return float64(v[0])
	}
	return math.NaN()
}

func values(n *G.Node) []float32 { return n.Value().Data().([]float32) }

// squashedSample builds the reparameterised tanh-Gaussian sample of
// HIL-SERL's actor: u = μ + σ·ε, a = tanh(u), and
// log π(a|s) = Σ_d [−ε²/2 − log σ − log(2π)/2 − log(1 − tanh²u)]
// (the Normal density of u, whose (u−μ)/σ is ε exactly, plus the tanh
// Jacobian; torch's TanhMultivariateNormalDiag.rsample + log_prob).
func squashedSample(mean, logStd, eps *G.Node) (action, logp *G.Node) {
	std := G.Must(G.Exp(logStd))
	u := G.Must(G.Add(mean, G.Must(G.HadamardProd(std, eps))))
	action = G.Must(models.Tanh(u))
	halfLog2Pi := G.NewConstant(float32(0.5 * math.Log(2*math.Pi)))
	half := G.NewConstant(float32(0.5))
	gauss := G.Must(G.Add(G.Must(G.HadamardProd(G.Must(G.Square(eps)), half)), logStd)) // ε²/2 + log σ
	perDim := G.Must(G.Add(gauss, G.Must(models.TanhLogJacobian(u))))                   // + log(1 − tanh²u)
	perDim = G.Must(G.Add(perDim, halfLog2Pi))
	logp = G.Must(G.Neg(G.Must(G.Sum(perDim, 1)))) // [B]
	return action, logp
}

// minQ folds the ensemble with an elementwise min and flattens to [B].
func minQ(qs []*G.Node, batch int) *G.Node {
	m := qs[0]
	for _, q := range qs[1:] {
		m = G.Must(models.Min2(m, q))
	}
	return G.Must(G.Reshape(m, tensor.Shape{batch}))
}
