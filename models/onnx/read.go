package onnx

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/e2hil/e2hil/models/onnx/onnxpb"
)

// Field numbers of onnx.proto that the readers walk without decoding whole
// messages, so reading a policy's metadata does not copy its weights.
const (
	fieldModelIRVersion   = 1  // ModelProto.ir_version
	fieldModelGraph       = 7  // ModelProto.graph
	fieldModelMetadata    = 14 // ModelProto.metadata_props
	fieldGraphInitializer = 5  // GraphProto.initializer
	fieldGraphInput       = 11 // GraphProto.input
	fieldGraphOutput      = 12 // GraphProto.output
	fieldTensorName       = 8  // TensorProto.name
)

// ErrNotONNX is returned by the readers for bytes that are not an ONNX model.
var ErrNotONNX = errors.New("not an ONNX model")

// ValueInfo is a graph input or output as the model declares it.
type ValueInfo struct {
	Name string
	// Type is the tensor element type; 0 if the value is not a tensor.
	Type DataType
	// HasShape is false when the model declares no shape (unknown rank).
	HasShape bool
	// Dims has -1 for a symbolic or unknown dimension (the batch axis).
	// Empty with HasShape is a scalar.
	Dims []int64
	// DimParams has the symbolic name of each dimension ("batch"), "" for
	// fixed ones; nil when no dimension is symbolic.
	DimParams []string
}

// ReadMetadata returns a model's metadata_props. It decodes only those
// entries, not the graph. Duplicate keys are an error.
func ReadMetadata(model []byte) (map[string]string, error) {
	md := map[string]string{}
	hasIR := false
	err := scan(model, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == fieldModelIRVersion && typ == protowire.VarintType:
			hasIR = true
		case num == fieldModelMetadata:
			if typ != protowire.BytesType {
				return fmt.Errorf("metadata_props: wire type %d, want bytes", typ)
			}
			var e onnxpb.StringStringEntryProto
			if err := proto.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("metadata_props: %w", err)
			}
			if _, dup := md[e.GetKey()]; dup {
				return fmt.Errorf("metadata_props: duplicate key %q", e.GetKey())
			}
			md[e.GetKey()] = e.GetValue()
		}
		return nil
	})
	if err == nil && !hasIR {
		err = ErrNotONNX
	}
	if err != nil {
		return nil, fmt.Errorf("read onnx metadata: %w", err)
	}
	return md, nil
}

// ReadSignature returns a model's graph inputs and outputs in declaration
// order. Inputs that are also initializers (how models before IR version 4
// listed their weights) are left out: they are not fed at run time.
func ReadSignature(model []byte) (inputs, outputs []ValueInfo, err error) {
	inputs, outputs, err = readSignature(model)
	if err != nil {
		return nil, nil, fmt.Errorf("read onnx signature: %w", err)
	}
	return inputs, outputs, nil
}

func readSignature(model []byte) (inputs, outputs []ValueInfo, err error) {
	// A message field that occurs more than once is merged, and merging
	// protobuf messages is concatenating their encodings.
	var graph []byte
	hasIR := false
	err = scan(model, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == fieldModelIRVersion && typ == protowire.VarintType:
			hasIR = true
		case num == fieldModelGraph:
			if typ != protowire.BytesType {
				return fmt.Errorf("graph: wire type %d, want bytes", typ)
			}
			graph = append(graph, v...)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if !hasIR {
		return nil, nil, ErrNotONNX
	}
	if graph == nil {
		return nil, nil, fmt.Errorf("%w: no graph", ErrNotONNX)
	}

	initializers := map[string]bool{}
	err = scan(graph, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != fieldGraphInitializer && num != fieldGraphInput && num != fieldGraphOutput {
			return nil
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("graph field %d: wire type %d, want bytes", num, typ)
		}
		if num == fieldGraphInitializer {
			name, err := tensorName(v)
			if err != nil {
				return fmt.Errorf("graph initializer: %w", err)
			}
			initializers[name] = true
			return nil
		}
		var vi onnxpb.ValueInfoProto
		if err := proto.Unmarshal(v, &vi); err != nil {
			return fmt.Errorf("graph input/output: %w", err)
		}
		info := valueInfoOf(&vi)
		if num == fieldGraphInput {
			inputs = append(inputs, info)
		} else {
			outputs = append(outputs, info)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	fed := inputs[:0]
	for _, in := range inputs {
		if !initializers[in.Name] {
			fed = append(fed, in)
		}
	}
	return fed, outputs, nil
}

// tensorName reads TensorProto.name without decoding the tensor's data.
func tensorName(tensor []byte) (string, error) {
	var name string
	err := scan(tensor, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num == fieldTensorName {
			if typ != protowire.BytesType {
				return fmt.Errorf("name: wire type %d, want bytes", typ)
			}
			name = string(v) // the last occurrence wins, as for any scalar field
		}
		return nil
	})
	return name, err
}

func valueInfoOf(vi *onnxpb.ValueInfoProto) ValueInfo {
	info := ValueInfo{Name: vi.GetName()}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return info
	}
	info.Type = DataType(tt.GetElemType())
	if tt.Shape == nil {
		return info
	}
	info.HasShape = true
	info.Dims = make([]int64, len(tt.Shape.Dim))
	for i, d := range tt.Shape.Dim {
		if v, ok := d.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			info.Dims[i] = v.DimValue
			continue
		}
		info.Dims[i] = -1
		if p := d.GetDimParam(); p != "" {
			if info.DimParams == nil {
				info.DimParams = make([]string, len(tt.Shape.Dim))
			}
			info.DimParams[i] = p
		}
	}
	return info
}

// scan calls fn for each top-level field of the protobuf message b, in
// order, with the payload of length-delimited fields (nil for the others).
func scan(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrNotONNX, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrNotONNX, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}
