package sac

import (
	"fmt"
	"math"
	"runtime"

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

// machine is one compiled graph. It runs as a models.Plan (every node
// into a buffer of its own, allocated once; gradients are the values of the
// parameters' derivative nodes), or, where Gorgonia's node layout is not
// the one Plan reads, on a tape machine.
type machine struct {
	b      *models.Graph
	plan   *models.Plan
	vm     G.VM
	params G.Nodes // nodes whose gradients this graph computes (empty: forward only)
	gradN  G.Nodes // their derivative nodes (from G.Grad)
	names  []string
	out    [][]float32
}

func compile(b *models.Graph, loss *G.Node, gradNames []string) (*machine, error) {
	m := &machine{b: b, names: gradNames}
	var opts []G.VMOpt
	var keep G.Nodes // nil: a forward-only graph keeps every node
	if loss != nil {
		m.params = b.ParamNodes(gradNames)
		if len(m.params) != len(gradNames) {
			return nil, fmt.Errorf("sac: graph does not use all of %v", gradNames)
		}
		var err error
		if m.gradN, keep, err = models.Grad(loss, m.params...); err != nil {
			return nil, fmt.Errorf("sac: differentiate: %w", err)
		}
		opts = append(opts, G.BindDualValues(m.params...))
	}
	if m.plan = models.NewPlan(b.G, keep...); m.plan == nil {
		m.vm = G.NewTapeMachine(b.G, opts...)
	} else {
		m.plan.SetWorkers(runtime.GOMAXPROCS(0))
	}
	m.out = make([][]float32, len(m.params))
	return m, nil
}

// run executes the graph.
func (m *machine) run() error {
	if m.plan != nil {
		return m.plan.Run()
	}
	// Gorgonia's tape machine accumulates into the parameters' gradient
	// buffers across runs, so they are zeroed first.
	for _, n := range m.params {
		if g, err := n.Grad(); err == nil && g != nil {
			clear(g.Data().([]float32))
		}
	}
	return models.RunRewind(m.vm)
}

// grads returns the gradient slices of m.params (aliasing the graph's
// buffers; the slice itself is reused).
func (m *machine) grads() ([][]float32, error) {
	for i, n := range m.params {
		var g G.Value
		if m.plan != nil {
			g = m.plan.Value(m.gradN[i])
		} else {
			var err error
			if g, err = n.Grad(); err != nil {
				return nil, fmt.Errorf("sac: gradient of %s: %w", m.names[i], err)
			}
		}
		if g == nil {
			return nil, fmt.Errorf("sac: no gradient for %s", m.names[i])
		}
		m.out[i] = g.Data().([]float32)
	}
	return m.out, nil
}

// value is a node's value after run.
func (m *machine) value(n *G.Node) G.Value {
	if m.plan != nil {
		return m.plan.Value(n)
	}
	return n.Value()
}

func (m *machine) scalar(n *G.Node) float64 {
	switch v := m.value(n).Data().(type) {
	case float32:
		return float64(v)
	case []float32:
		return float64(v[0])
	}
	return math.NaN()
}

func (m *machine) values(n *G.Node) []float32 { return m.value(n).Data().([]float32) }

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
