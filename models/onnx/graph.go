package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/e2hil/e2hil/models/onnx/onnxpb"
)

// BatchDim is the dim_param written for a dynamic dimension (a negative dim
// given to Input or Output): the batch axis. All dynamic dimensions of a
// graph share it, so a runtime checks they agree.
const BatchDim = "batch"

// DataType is an ONNX tensor element type (TensorProto.DataType).
type DataType int32

// The element types this package writes.
const (
	Float32 = DataType(onnxpb.TensorProto_FLOAT)
	Int64   = DataType(onnxpb.TensorProto_INT64)
)

func (t DataType) String() string {
	if n, ok := onnxpb.TensorProto_DataType_name[int32(t)]; ok {
		return n
	}
	return "DataType(" + strconv.Itoa(int(t)) + ")"
}

// Graph builds one ONNX graph. Methods record the first problem they meet
// (bad dims, a name defined twice) and carry on; Err reports it, and
// Model.Marshal refuses to write a graph that has one. Nodes must be added in
// an order where every input is defined first (ONNX requires graphs to be
// topologically sorted).
//
// A Graph is not safe for concurrent use.
type Graph struct {
	proto *onnxpb.GraphProto
	// defined maps every value name (input, initializer, node output) to
	// what defined it, for error messages.
	defined map[string]string
	// taken holds every name handed out by UniqueName or defined.
	taken map[string]bool
	err   error
}

// NewGraph returns an empty graph with the given name.
func NewGraph(name string) *Graph {
	return &Graph{
		proto:   &onnxpb.GraphProto{Name: proto.String(name)},
		defined: map[string]string{},
		taken:   map[string]bool{},
	}
}

// Err returns the first problem met while building the graph, or nil.
func (g *Graph) Err() error { return g.err }

func (g *Graph) fail(err error) {
	if g.err == nil {
		g.err = err
	}
}

// define records that what defines the value name.
func (g *Graph) define(name, what string) bool {
	if name == "" {
		g.fail(fmt.Errorf("%s: empty value name", what))
		return false
	}
	if prev, ok := g.defined[name]; ok {
		g.fail(fmt.Errorf("%s: value %q already defined by %s", what, name, prev))
		return false
	}
	g.defined[name] = what
	g.taken[name] = true
	return true
}

// UniqueName returns prefix, or prefix_1, prefix_2, … : the first that no
// earlier UniqueName call returned and no value of the graph uses yet.
func (g *Graph) UniqueName(prefix string) string {
	name := prefix
	for i := 1; g.taken[name]; i++ {
		name = prefix + "_" + strconv.Itoa(i)
	}
	g.taken[name] = true
	return name
}

// Input declares a float32 graph input. A negative dim is the dynamic batch
// axis (dim_param BatchDim); no dims declares a scalar.
func (g *Graph) Input(name string, dims ...int64) {
	if !g.define(name, "input") {
		return
	}
	g.proto.Input = append(g.proto.Input, valueInfo(name, Float32, dims))
}

// Output declares a float32 graph output; dims as for Input. Some node must
// produce it.
func (g *Graph) Output(name string, dims ...int64) {
	g.output(name, Float32, dims)
}

// OutputInt64 declares an int64 graph output (an ArgMax index, say); dims as
// for Input.
func (g *Graph) OutputInt64(name string, dims ...int64) {
	g.output(name, Int64, dims)
}

func (g *Graph) output(name string, t DataType, dims []int64) {
	for _, o := range g.proto.Output {
		if o.GetName() == name {
			g.fail(fmt.Errorf("output %q declared twice", name))
			return
		}
	}
	g.taken[name] = true
	g.proto.Output = append(g.proto.Output, valueInfo(name, t, dims))
}

func valueInfo(name string, t DataType, dims []int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(dims))}
	for i, d := range dims {
		if d < 0 {
			shape.Dim[i] = &onnxpb.TensorShapeProto_Dimension{
				Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: BatchDim},
			}
		} else {
			shape.Dim[i] = &onnxpb.TensorShapeProto_Dimension{
				Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d},
			}
		}
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(t)),
			Shape:    shape,
		}}},
	}
}

// Initializer adds a float32 constant (a weight) with the given dims; nil
// dims is a scalar. data is row-major, len(data) must be the product of dims,
// and it is copied (as little-endian raw_data).
func (g *Graph) Initializer(name string, dims []int64, data []float32) {
	what := fmt.Sprintf("initializer %q", name)
	if err := checkData(dims, len(data)); err != nil {
		g.fail(fmt.Errorf("%s: %w", what, err))
		return
	}
	if !g.define(name, what) {
		return
	}
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	g.proto.Initializer = append(g.proto.Initializer, &onnxpb.TensorProto{
		Name:     proto.String(name),
		DataType: proto.Int32(int32(Float32)),
		Dims:     append([]int64{}, dims...),
		RawData:  raw,
	})
}

// InitializerInt64 adds an int64 constant (a shape, an axis list); as
// Initializer otherwise.
func (g *Graph) InitializerInt64(name string, dims []int64, data []int64) {
	what := fmt.Sprintf("initializer %q", name)
	if err := checkData(dims, len(data)); err != nil {
		g.fail(fmt.Errorf("%s: %w", what, err))
		return
	}
	if !g.define(name, what) {
		return
	}
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	g.proto.Initializer = append(g.proto.Initializer, &onnxpb.TensorProto{
		Name:     proto.String(name),
		DataType: proto.Int32(int32(Int64)),
		Dims:     append([]int64{}, dims...),
		RawData:  raw,
	})
}

func checkData(dims []int64, n int) error {
	size := int64(1)
	for i, d := range dims {
		if d < 0 {
			return fmt.Errorf("dims[%d] = %d: must be ≥ 0", i, d)
		}
		size *= d
	}
	if size != int64(n) {
		return fmt.Errorf("dims %v hold %d values, got %d", dims, size, n)
	}
	return nil
}

// Node appends a node of the default (ai.onnx) domain. An empty input name
// leaves an optional input out; every other input must already be defined.
// Each output defines a new value.
func (g *Graph) Node(opType string, inputs, outputs []string, attrs ...Attr) {
	idx := len(g.proto.Node)
	name := opType + "_" + strconv.Itoa(idx)
	what := fmt.Sprintf("node %d (%s)", idx, opType)
	if opType == "" {
		g.fail(fmt.Errorf("%s: empty op type", what))
		return
	}
	if len(outputs) == 0 {
		g.fail(fmt.Errorf("%s: no outputs", what))
		return
	}
	n := &onnxpb.NodeProto{
		Name:   proto.String(name),
		OpType: proto.String(opType),
		Input:  append([]string{}, inputs...),
		Output: append([]string{}, outputs...),
	}
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		if a.err == nil && a.p == nil {
			a.err = errors.New("zero Attr: make attributes with AttrInt, AttrFloat, …")
		}
		if a.err != nil {
			g.fail(fmt.Errorf("%s: %w", what, a.err))
			return
		}
		if seen[a.p.GetName()] {
			g.fail(fmt.Errorf("%s: attribute %q given twice", what, a.p.GetName()))
			return
		}
		seen[a.p.GetName()] = true
		n.Attribute = append(n.Attribute, proto.CloneOf(a.p))
	}
	for _, o := range outputs {
		if !g.define(o, what) {
			return
		}
	}
	g.proto.Node = append(g.proto.Node, n)
}

// check verifies what Node cannot see when it is called: that every node
// input is defined before the node (ONNX graphs are topologically sorted)
// and that every graph output is produced.
func (g *Graph) check() error {
	if g.err != nil {
		return g.err
	}
	avail := make(map[string]bool, len(g.defined))
	for _, in := range g.proto.Input {
		avail[in.GetName()] = true
	}
	for _, t := range g.proto.Initializer {
		avail[t.GetName()] = true
	}
	for i, n := range g.proto.Node {
		for _, in := range n.Input {
			if in != "" && !avail[in] {
				if _, later := g.defined[in]; later {
					return fmt.Errorf("node %d (%s): input %q is defined by a later %s", i, n.GetOpType(), in, g.defined[in])
				}
				return fmt.Errorf("node %d (%s): input %q is not defined", i, n.GetOpType(), in)
			}
		}
		for _, out := range n.Output {
			avail[out] = true
		}
	}
	if len(g.proto.Output) == 0 {
		return errors.New("no outputs declared")
	}
	for _, o := range g.proto.Output {
		if !avail[o.GetName()] {
			return fmt.Errorf("output %q is not produced by any node, input or initializer", o.GetName())
		}
	}
	return nil
}
