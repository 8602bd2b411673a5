// Package onnx writes and inspects ONNX model files in pure Go, with no
// third-party ONNX library: a Graph builder, a Model that serialises it, and
// readers for a model's metadata and signature.
//
// It owns the ONNX wire format (through the generated types in onnxpb) and
// nothing else: it does not run models (package inference does, with
// onnxruntime) and it must not import a training framework, so that the actor
// can read a policy's metadata without Gorgonia.
//
// Only what e2hil's policies need is supported: float32 tensors (int64 for
// shape constants and ArgMax outputs), the default operator domain, one graph.
package onnx

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/e2hil/e2hil/internal/atomicfile"
	"github.com/e2hil/e2hil/models/onnx/onnxpb"
)

// DefaultOpset is the ai.onnx operator set models are stamped with when
// Model.Opset is zero. 17 is the first with LayerNormalization.
const DefaultOpset = 17

// DefaultProducer is the producer_name written when Model.Producer is empty.
const DefaultProducer = "e2hil"

// KV is one metadata_props entry.
type KV struct {
	Key, Value string
}

// Model is a graph plus the model-level fields of an ONNX file.
type Model struct {
	Graph *Graph
	// Opset is the ai.onnx operator set version; 0 means DefaultOpset.
	Opset int64
	// Producer is producer_name; "" means DefaultProducer.
	Producer        string
	ProducerVersion string
	DocString       string
	// Metadata becomes metadata_props, in this order. Keys must be
	// distinct and non-empty.
	Metadata []KV
}

// irVersions gives, for the newest opset of each ONNX release line, the IR
// version that release introduced (onnx/docs/Versioning.md). A model is
// stamped with the lowest IR version its opset needs, never lower than 8,
// so that older readers (onnx 1.12's checker accepts IR ≤ 8) still load it.
var irVersions = []struct{ maxOpset, ir int64 }{
	{18, 8},  // onnx 1.12–1.13
	{20, 9},  // onnx 1.14–1.15
	{22, 10}, // onnx 1.16–1.17
	{23, 11}, // onnx 1.18
}

// IRVersion returns the ir_version written for a model importing the given
// ai.onnx opset.
func IRVersion(opset int64) (int64, error) {
	for _, v := range irVersions {
		if opset <= v.maxOpset {
			return v.ir, nil
		}
	}
	return 0, fmt.Errorf("opset %d: newer than this package knows (max %d)", opset, irVersions[len(irVersions)-1].maxOpset)
}

// Proto returns the ModelProto for m, after checking the graph (every node
// input is defined before use, every output is produced, no name is defined
// twice) and the metadata. It shares the graph's messages: changing one
// changes the other.
func (m Model) Proto() (*onnxpb.ModelProto, error) {
	if m.Graph == nil {
		return nil, errors.New("onnx model: no graph")
	}
	if err := m.Graph.check(); err != nil {
		return nil, fmt.Errorf("onnx model: graph %q: %w", m.Graph.proto.GetName(), err)
	}
	opset := m.Opset
	if opset == 0 {
		opset = DefaultOpset
	}
	if opset < 1 {
		return nil, fmt.Errorf("onnx model: opset %d: must be ≥ 1", opset)
	}
	ir, err := IRVersion(opset)
	if err != nil {
		return nil, fmt.Errorf("onnx model: %w", err)
	}
	producer := m.Producer
	if producer == "" {
		producer = DefaultProducer
	}
	mp := &onnxpb.ModelProto{
		IrVersion:    proto.Int64(ir),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		ProducerName: proto.String(producer),
		Graph:        m.Graph.proto,
	}
	if m.ProducerVersion != "" {
		mp.ProducerVersion = proto.String(m.ProducerVersion)
	}
	if m.DocString != "" {
		mp.DocString = proto.String(m.DocString)
	}
	seen := make(map[string]bool, len(m.Metadata))
	for i, kv := range m.Metadata {
		switch {
		case kv.Key == "":
			return nil, fmt.Errorf("onnx model: metadata[%d]: empty key", i)
		case seen[kv.Key]:
			return nil, fmt.Errorf("onnx model: metadata[%d]: duplicate key %q", i, kv.Key)
		}
		seen[kv.Key] = true
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{
			Key: proto.String(kv.Key), Value: proto.String(kv.Value),
		})
	}
	return mp, nil
}

// Marshal returns the serialised model. The encoding is deterministic: the
// same model gives the same bytes.
func (m Model) Marshal() ([]byte, error) {
	mp, err := m.Proto()
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return nil, fmt.Errorf("onnx model: marshal: %w", err)
	}
	return b, nil
}

// WriteFile writes the model to path atomically: to a temporary file in the
// same directory, synced, then renamed over path, so a reader (an actor
// reloading its policy) never sees a half-written model.
func (m Model) WriteFile(path string) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o644)
}
