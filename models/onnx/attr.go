package onnx

import (
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/e2hil/e2hil/models/onnx/onnxpb"
)

// Attr is a node attribute, made by AttrInt, AttrFloat, AttrInts, AttrFloats
// or AttrString and passed to Graph.Node.
type Attr struct {
	p   *onnxpb.AttributeProto
	err error
}

func attr(name string, t onnxpb.AttributeProto_AttributeType, set func(*onnxpb.AttributeProto)) Attr {
	if name == "" {
		return Attr{err: errors.New("attribute with an empty name")}
	}
	// type is mandatory since IR version 2: readers must not guess the kind
	// from which value field is present.
	p := &onnxpb.AttributeProto{Name: proto.String(name), Type: t.Enum()}
	set(p)
	return Attr{p: p}
}

// AttrInt is an INT attribute (axis, transB, keepdims).
func AttrInt(name string, v int64) Attr {
	return attr(name, onnxpb.AttributeProto_INT, func(p *onnxpb.AttributeProto) { p.I = proto.Int64(v) })
}

// AttrFloat is a FLOAT attribute (epsilon, alpha).
func AttrFloat(name string, v float32) Attr {
	return attr(name, onnxpb.AttributeProto_FLOAT, func(p *onnxpb.AttributeProto) { p.F = proto.Float32(v) })
}

// AttrInts is an INTS attribute (perm, axes).
func AttrInts(name string, v ...int64) Attr {
	return attr(name, onnxpb.AttributeProto_INTS, func(p *onnxpb.AttributeProto) { p.Ints = append([]int64{}, v...) })
}

// AttrFloats is a FLOATS attribute.
func AttrFloats(name string, v ...float32) Attr {
	return attr(name, onnxpb.AttributeProto_FLOATS, func(p *onnxpb.AttributeProto) { p.Floats = append([]float32{}, v...) })
}

// AttrString is a STRING attribute (a mode, say).
func AttrString(name, v string) Attr {
	return attr(name, onnxpb.AttributeProto_STRING, func(p *onnxpb.AttributeProto) { p.S = []byte(v) })
}
