package onnx_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/models/onnx"
)

// python is Debian's interpreter, which has python3-onnx; a pyenv python3
// earlier on PATH usually does not.
const python = "/usr/bin/python3"

// requirePythonONNX skips the test when python3-onnx is missing, or fails it
// when E2HIL_REQUIRE_TOOLS=1 (make test has installed it).
func requirePythonONNX(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import onnx").CombinedOutput()
	if err == nil {
		return
	}
	msg := "python3-onnx not usable (" + python + ` -c "import onnx": ` + err.Error() + ": " + string(out) +
		"); install it with `apt-get install python3-onnx`, or run `make deps`"
	if os.Getenv("E2HIL_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// checkerScript runs the reference ONNX checker (full_check: with strict
// shape inference, which also checks the declared output shapes) and prints
// what the official protobuf reader sees, for the test to compare with what
// we meant to write.
const checkerScript = `
import json, sys
import onnx
from onnx import numpy_helper, helper

m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)

def vi(v):
    t = v.type.tensor_type
    return {"name": v.name, "elem_type": t.elem_type,
            "dims": [d.dim_param if d.HasField("dim_param") else str(d.dim_value) for d in t.shape.dim]}

def attr(a):
    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode()
    return v

json.dump({
    "ir_version": m.ir_version,
    "opset": [[o.domain, o.version] for o in m.opset_import],
    "producer": [m.producer_name, m.producer_version],
    "doc": m.doc_string,
    "metadata": [[p.key, p.value] for p in m.metadata_props],
    "inputs": [vi(v) for v in m.graph.input],
    "outputs": [vi(v) for v in m.graph.output],
    "ops": [n.op_type for n in m.graph.node],
    "attrs": [[n.op_type, {a.name: attr(a) for a in n.attribute}] for n in m.graph.node],
    "initializers": {t.name: {"dims": list(t.dims), "type": t.data_type,
                              "values": numpy_helper.to_array(t).flatten().tolist()}
                     for t in m.graph.initializer},
}, sys.stdout)
`

// runPythonChecker writes m to a file and runs checkerScript on it.
func runPythonChecker(t *testing.T, m onnx.Model) ([]byte, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", checkerScript, path).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return out, fmt.Errorf("onnx checker rejected the model: %v\n%s", err, ee.Stderr)
	}
	return out, err
}

type checked struct {
	IRVersion    int64       `json:"ir_version"`
	Opset        [][]any     `json:"opset"`
	Producer     []string    `json:"producer"`
	Doc          string      `json:"doc"`
	Metadata     [][2]string `json:"metadata"`
	Inputs       []checkedVI `json:"inputs"`
	Outputs      []checkedVI `json:"outputs"`
	Ops          []string    `json:"ops"`
	Attrs        [][2]any    `json:"attrs"`
	Initializers map[string]struct {
		Dims   []int64   `json:"dims"`
		Type   int       `json:"type"`
		Values []float64 `json:"values"`
	} `json:"initializers"`
}

type checkedVI struct {
	Name     string   `json:"name"`
	ElemType int      `json:"elem_type"`
	Dims     []string `json:"dims"`
}

func runChecker(t *testing.T, m onnx.Model) checked {
	t.Helper()
	out, err := runPythonChecker(t, m)
	if err != nil {
		t.Fatal(err)
	}
	var c checked
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("checker output: %v\n%s", err, out)
	}
	return c
}

// TestChecker: the official onnx package accepts our models under its
// strictest check, and reads back the fields, shapes, attributes and weights
// we wrote: an independent check of every field number and encoding.
func TestChecker(t *testing.T) {
	requirePythonONNX(t)

	t.Run("policy", func(t *testing.T) {
		p := newPolicy()
		c := runChecker(t, p.model())
		if c.IRVersion != 8 {
			t.Errorf("ir_version %d, want 8", c.IRVersion)
		}
		if len(c.Opset) != 1 || c.Opset[0][0] != "" || c.Opset[0][1] != float64(17) {
			t.Errorf("opset_import %v, want [[\"\" 17]]", c.Opset)
		}
		if !slices.Equal(c.Producer, []string{"e2hil", "test"}) || c.Doc != "every op e2hil's policies use" {
			t.Errorf("producer %v doc %q", c.Producer, c.Doc)
		}
		var md [][2]string
		for _, kv := range policyMetadata {
			md = append(md, [2]string{kv.Key, kv.Value})
		}
		if !slices.Equal(c.Metadata, md) {
			t.Errorf("metadata %v, want %v", c.Metadata, md)
		}
		wantIn := []checkedVI{{"observation.state", 1, []string{"batch", "6"}}}
		wantOut := []checkedVI{
			{"action", 1, []string{"batch", "3"}}, {"std", 1, []string{"batch", "3"}},
			{"gate", 1, []string{"batch", "1"}}, {"grip", 7, []string{"batch"}},
		}
		if !slices.EqualFunc(c.Inputs, wantIn, equalVI) || !slices.EqualFunc(c.Outputs, wantOut, equalVI) {
			t.Errorf("inputs %v outputs %v, want %v %v", c.Inputs, c.Outputs, wantIn, wantOut)
		}
		wantOps := []string{"Sub", "Div", "Gemm", "LayerNormalization", "Tanh", "MatMul", "Add", "Relu", "Concat",
			"Gemm", "Tanh", "Mul", "Gemm", "Clip", "Exp", "Gemm", "Sigmoid", "Gemm", "ArgMax"}
		if !slices.Equal(c.Ops, wantOps) {
			t.Errorf("ops %v, want %v", c.Ops, wantOps)
		}
		ln := c.Attrs[3][1].(map[string]any)
		if ln["axis"] != float64(-1) || ln["epsilon"] != float64(float32(1e-5)) {
			t.Errorf("LayerNormalization attributes %v", ln)
		}
		for name, want := range map[string][]float32{"w1": p.w1, "sigma": p.sigma, "log_std_min": {-5}} {
			got := c.Initializers[name]
			if got.Type != 1 || !slices.Equal(got.Values, f64(want)) {
				t.Errorf("initializer %s: type %d values %v, want FLOAT %v", name, got.Type, got.Values, want)
			}
		}
		if d := c.Initializers["w1"].Dims; !slices.Equal(d, []int64{pHid, pObs}) {
			t.Errorf("w1 dims %v", d)
		}
		if d := c.Initializers["log_std_min"].Dims; len(d) != 0 {
			t.Errorf("log_std_min dims %v, want a scalar", d)
		}
	})

	t.Run("attributes", func(t *testing.T) {
		c := runChecker(t, attrModel())
		attrs := map[string]map[string]any{}
		for _, a := range c.Attrs {
			attrs[a[0].(string)] = a[1].(map[string]any)
		}
		wantAttr := map[string]map[string]any{
			"Transpose":  {"perm": []any{0.0, 2.0, 1.0}},
			"Constant":   {"value_floats": []any{0.5, -1.0}},
			"ReduceMean": {"axes": []any{1.0}, "keepdims": 1.0},
			"Pad":        {"mode": "reflect"},
		}
		for op, want := range wantAttr {
			for k, v := range want {
				if got, _ := json.Marshal(attrs[op][k]); string(got) != mustJSON(v) {
					t.Errorf("%s.%s = %s, want %s", op, k, got, mustJSON(v))
				}
			}
		}
		for name, want := range map[string][]float64{"shape": {-1, 2}, "pads": {0, 1, 0, 1}} {
			got := c.Initializers[name]
			if got.Type != 7 || !slices.Equal(got.Values, want) {
				t.Errorf("initializer %s: type %d values %v, want INT64 %v", name, got.Type, got.Values, want)
			}
		}
	})
}

// TestCheckerHasTeeth: a model whose declared output shape contradicts its
// ops is rejected, so TestChecker passing means something.
func TestCheckerHasTeeth(t *testing.T) {
	requirePythonONNX(t)
	g := onnx.NewGraph("wrong")
	g.Input("x", -1, 3)
	g.Node("Relu", []string{"x"}, []string{"y"})
	g.Output("y", -1, 4)
	_, err := runPythonChecker(t, onnx.Model{Graph: g})
	if err == nil || !strings.Contains(err.Error(), "ShapeInferenceError") {
		t.Errorf("checker on a [batch,3] value declared [batch,4]: %v, want a ShapeInferenceError", err)
	}
}

func equalVI(a, b checkedVI) bool {
	return a.Name == b.Name && a.ElemType == b.ElemType && slices.Equal(a.Dims, b.Dims)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v) // test literals: always marshal
	return string(b)
}
