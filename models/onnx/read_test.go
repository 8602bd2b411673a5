package onnx_test

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/e2hil/e2hil/models/onnx"
	"github.com/e2hil/e2hil/models/onnx/onnxpb"
)

func TestReadMetadata(t *testing.T) {
	b, err := os.ReadFile(goldenPolicy)
	if err != nil {
		t.Fatal(err)
	}
	md, err := onnx.ReadMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, kv := range policyMetadata {
		want[kv.Key] = kv.Value
	}
	if !reflect.DeepEqual(md, want) {
		t.Errorf("ReadMetadata = %v, want %v", md, want)
	}

	g := onnx.NewGraph("g")
	g.Input("x", 1)
	g.Output("x", 1)
	none, _ := onnx.Model{Graph: g}.Marshal()
	if md, err := onnx.ReadMetadata(none); err != nil || len(md) != 0 {
		t.Errorf("ReadMetadata(no metadata) = %v, %v; want empty", md, err)
	}
}

func TestReadSignature(t *testing.T) {
	b, err := os.ReadFile(goldenPolicy)
	if err != nil {
		t.Fatal(err)
	}
	ins, outs, err := onnx.ReadSignature(b)
	if err != nil {
		t.Fatal(err)
	}
	batch := []string{"batch", ""}
	wantIn := []onnx.ValueInfo{{Name: "observation.state", Type: onnx.Float32, HasShape: true, Dims: []int64{-1, 6}, DimParams: batch}}
	wantOut := []onnx.ValueInfo{
		{Name: "action", Type: onnx.Float32, HasShape: true, Dims: []int64{-1, 3}, DimParams: batch},
		{Name: "std", Type: onnx.Float32, HasShape: true, Dims: []int64{-1, 3}, DimParams: batch},
		{Name: "gate", Type: onnx.Float32, HasShape: true, Dims: []int64{-1, 1}, DimParams: batch},
		{Name: "grip", Type: onnx.Int64, HasShape: true, Dims: []int64{-1}, DimParams: []string{"batch"}},
	}
	if !reflect.DeepEqual(ins, wantIn) {
		t.Errorf("inputs = %+v\nwant %+v", ins, wantIn)
	}
	if !reflect.DeepEqual(outs, wantOut) {
		t.Errorf("outputs = %+v\nwant %+v", outs, wantOut)
	}
}

// TestReadSignatureOldStyle: models before IR version 4 list every weight
// as a graph input too; those are not inputs to feed.
func TestReadSignatureOldStyle(t *testing.T) {
	g := onnx.NewGraph("g")
	g.Input("x", -1, 2)
	g.Initializer("w", []int64{2}, []float32{1, 2})
	g.Node("Mul", []string{"x", "w"}, []string{"y"})
	g.Output("y", -1, 2)
	mp, err := onnx.Model{Graph: g}.Proto()
	if err != nil {
		t.Fatal(err)
	}
	mp.Graph.Input = append(mp.Graph.Input, &onnxpb.ValueInfoProto{Name: proto.String("w")})
	// A shapeless input (unknown rank) alongside.
	mp.Graph.Input = append(mp.Graph.Input, &onnxpb.ValueInfoProto{Name: proto.String("free"),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1)}}}})
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	ins, _, err := onnx.ReadSignature(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []onnx.ValueInfo{
		{Name: "x", Type: onnx.Float32, HasShape: true, Dims: []int64{-1, 2}, DimParams: []string{"batch", ""}},
		{Name: "free", Type: onnx.Float32},
	}
	if !reflect.DeepEqual(ins, want) {
		t.Errorf("inputs = %+v\nwant %+v", ins, want)
	}
}

func TestReadErrors(t *testing.T) {
	dup := &onnxpb.ModelProto{IrVersion: proto.Int64(8), MetadataProps: []*onnxpb.StringStringEntryProto{
		{Key: proto.String("k"), Value: proto.String("1")}, {Key: proto.String("k"), Value: proto.String("2")},
	}}
	dupBytes, _ := proto.Marshal(dup)
	noGraph, _ := proto.Marshal(&onnxpb.ModelProto{IrVersion: proto.Int64(8)})
	golden, _ := os.ReadFile(goldenPolicy)

	tests := []struct {
		name    string
		data    []byte
		metaErr string // "" means ReadMetadata succeeds
		sigErr  string
	}{
		{name: "empty", data: nil, metaErr: "not an ONNX model", sigErr: "not an ONNX model"},
		{name: "text", data: []byte("hello, world"), metaErr: "not an ONNX model", sigErr: "not an ONNX model"},
		{name: "truncated", data: golden[:len(golden)/2], metaErr: "not an ONNX model", sigErr: "not an ONNX model"},
		{name: "duplicate metadata key", data: dupBytes, metaErr: `duplicate key "k"`, sigErr: "no graph"},
		{name: "no graph", data: noGraph, sigErr: "no graph"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := onnx.ReadMetadata(tt.data)
			if tt.metaErr == "" && err != nil {
				t.Errorf("ReadMetadata: %v", err)
			}
			if tt.metaErr != "" && (err == nil || !strings.Contains(err.Error(), tt.metaErr)) {
				t.Errorf("ReadMetadata: error %v, want one containing %q", err, tt.metaErr)
			}
			_, _, err = onnx.ReadSignature(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.sigErr) {
				t.Errorf("ReadSignature: error %v, want one containing %q", err, tt.sigErr)
			}
			if !errors.Is(err, onnx.ErrNotONNX) {
				t.Errorf("ReadSignature: %v does not match ErrNotONNX", err)
			}
		})
	}
}

// fuzzSeeds are the committed seed corpus of the reader fuzz targets: the
// golden policy, cut short, and hand-made edge cases.
func fuzzSeeds(f *testing.F) {
	golden, err := os.ReadFile(goldenPolicy)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(golden[:len(golden)/3])
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x08})             // ir_version 8, nothing else
	f.Add([]byte{0x08, 0x08, 0x72, 0x00}) // an empty metadata entry
	f.Add([]byte{0x08, 0x08, 0x3a, 0x00, 0x3a, 0x00})
	f.Add([]byte{0x08, 0x08, 0x3a, 0x02, 0x5a, 0x00}) // graph with an empty input
	f.Add([]byte{0x08, 0x08, 0x75, 0, 0, 0, 0})       // field 14 with the wrong wire type
}

// FuzzReadMetadata: never panics, and agrees with a full protobuf decode
// whenever it succeeds.
func FuzzReadMetadata(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := onnx.ReadMetadata(data)
		if err != nil {
			return
		}
		var mp onnxpb.ModelProto
		if err := proto.Unmarshal(data, &mp); err != nil {
			return // we decode less than proto does, so we may accept more
		}
		if len(md) != len(mp.MetadataProps) {
			t.Fatalf("ReadMetadata: %d entries, full decode %d", len(md), len(mp.MetadataProps))
		}
		for _, kv := range mp.MetadataProps {
			if md[kv.GetKey()] != kv.GetValue() {
				t.Fatalf("ReadMetadata[%q] = %q, full decode %q", kv.GetKey(), md[kv.GetKey()], kv.GetValue())
			}
		}
	})
}

// FuzzReadSignature: never panics, and agrees with a full protobuf decode
// whenever it succeeds.
func FuzzReadSignature(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, outs, err := onnx.ReadSignature(data)
		if err != nil {
			return
		}
		var mp onnxpb.ModelProto
		if err := proto.Unmarshal(data, &mp); err != nil {
			return
		}
		inits := map[string]bool{}
		for _, t := range mp.GetGraph().GetInitializer() {
			inits[t.GetName()] = true
		}
		var wantIns []string
		for _, in := range mp.GetGraph().GetInput() {
			if !inits[in.GetName()] {
				wantIns = append(wantIns, in.GetName())
			}
		}
		if got := names(ins); !reflect.DeepEqual(got, wantIns) {
			t.Fatalf("inputs %q, full decode %q", got, wantIns)
		}
		if len(outs) != len(mp.GetGraph().GetOutput()) {
			t.Fatalf("%d outputs, full decode %d", len(outs), len(mp.GetGraph().GetOutput()))
		}
	})
}

func names(vis []onnx.ValueInfo) []string {
	var n []string
	for _, v := range vis {
		n = append(n, v.Name)
	}
	return n
}
