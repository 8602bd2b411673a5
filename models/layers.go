package models

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Graph is a Gorgonia expression graph whose parameter nodes are bound to a
// Params store (each parameter becomes one node, created on first use).
type Graph struct {
	G      *G.ExprGraph
	params *Params
	nodes  map[string]*G.Node
	order  []string
}

// NewGraph starts a graph over params.
func NewGraph(params *Params) *Graph {
	return &Graph{G: G.NewGraph(), params: params, nodes: map[string]*G.Node{}}
}

// Param returns the node bound to a parameter; it panics if the parameter is
// missing (a model-definition error caught by every test).
func (b *Graph) Param(name string) *G.Node {
	if n, ok := b.nodes[name]; ok {
		return n
	}
	t := b.params.Get(name)
	if t == nil {
		panic(fmt.Sprintf("models: graph uses undefined parameter %q", name))
	}
	n := G.NodeFromAny(b.G, t, G.WithName(name))
	b.nodes[name] = n
	b.order = append(b.order, name)
	return n
}

// ParamNodes returns the nodes of the named parameters, in that order (those
// the graph has not used are skipped).
func (b *Graph) ParamNodes(names []string) G.Nodes {
	var out G.Nodes
	for _, n := range names {
		if node, ok := b.nodes[n]; ok {
			out = append(out, node)
		}
	}
	return out
}

// Input declares a float32 input matrix [rows, cols] (fed with G.Let).
func (b *Graph) Input(name string, rows, cols int) *G.Node {
	return G.NewMatrix(b.G, tensor.Float32, G.WithShape(rows, cols), G.WithName(name))
}

// Linear is x·W + b with W stored [in, out] (name.weight, name.bias).
func (b *Graph) Linear(name string, x *G.Node) *G.Node {
	y := G.Must(G.Mul(x, b.Param(name+".weight")))
	return G.Must(AddRow(y, b.Param(name+".bias")))
}

// LayerNorm normalises the last axis then applies name.weight and name.bias
// (torch nn.LayerNorm, eps 1e-5).
func (b *Graph) LayerNorm(name string, x *G.Node) *G.Node {
	return G.Must(LayerNormAffine(x, b.Param(name+".weight"), b.Param(name+".bias"), LayerNormEps))
}

// LayerNormEps is torch.nn.LayerNorm's default epsilon.
const LayerNormEps = 1e-5

// Activation names.
const (
	ActSiLU = "silu"
	ActTanh = "tanh"
	ActReLU = "relu"
)

func (b *Graph) activate(act string, x *G.Node) *G.Node {
	switch act {
	case ActSiLU:
		return G.Must(SiLU(x))
	case ActTanh:
		return G.Must(Tanh(x))
	case ActReLU:
		return G.Must(G.Rectify(x))
	}
	panic(fmt.Sprintf("models: unknown activation %q", act))
}

// MLP is LeRobot's MLP: per hidden dim Linear → LayerNorm → activation
// (on the last layer only when activateFinal). Parameters:
// name.{i}.linear.*, name.{i}.norm.*.
func (b *Graph) MLP(name string, x *G.Node, layers int, activateFinal bool, act string) *G.Node {
	for i := 0; i < layers; i++ {
		p := fmt.Sprintf("%s.%d", name, i)
		x = b.Linear(p+".linear", x)
		if i < layers-1 || activateFinal {
			x = b.activate(act, b.LayerNorm(p+".norm", x))
		}
	}
	return x
}
