package onnx_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/models/onnx"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const goldenPolicy = "testdata/policy.onnx"

// TestGolden pins the encoding: the all-ops policy must serialise to the
// committed bytes (which TestChecker's reference reader accepts). A change
// here is a file-format change; if it is meant, rerun with -update.
func TestGolden(t *testing.T) {
	got, err := newPolicy().model().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenPolicy, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPolicy)
	if err != nil {
		t.Fatalf("%v (create it with: go test ./models/onnx -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("policy model encodes to %d bytes that differ from %s (%d bytes); if the change is meant, rerun with -update",
			len(got), goldenPolicy, len(want))
	}
	again, _ := newPolicy().model().Marshal()
	if !bytes.Equal(got, again) {
		t.Error("Marshal is not deterministic")
	}
}

func TestUniqueName(t *testing.T) {
	g := onnx.NewGraph("g")
	g.Input("x", -1, 2)
	g.Initializer("w_1", []int64{1}, []float32{1})
	for _, tt := range []struct{ prefix, want string }{
		{"h", "h"}, {"h", "h_1"}, {"h", "h_2"},
		{"x", "x_1"},             // x is an input
		{"w", "w"}, {"w", "w_2"}, // w_1 is an initializer
	} {
		if got := g.UniqueName(tt.prefix); got != tt.want {
			t.Errorf("UniqueName(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

// TestGraphErrors: every builder mistake is reported, with where it
// happened, by Err and by Marshal, and no model is written.
func TestGraphErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(g *onnx.Graph)
		model func(m *onnx.Model)
		want  string
	}{
		{
			name: "initializer size",
			build: func(g *onnx.Graph) {
				g.Initializer("w", []int64{2, 3}, make([]float32, 5))
			},
			want: `initializer "w": dims [2 3] hold 6 values, got 5`,
		},
		{
			name:  "negative initializer dim",
			build: func(g *onnx.Graph) { g.InitializerInt64("s", []int64{-1}, nil) },
			want:  `initializer "s": dims[0] = -1: must be ≥ 0`,
		},
		{
			name: "value defined twice",
			build: func(g *onnx.Graph) {
				g.Node("Relu", []string{"x"}, []string{"x"})
			},
			want: `node 0 (Relu): value "x" already defined by input`,
		},
		{
			name:  "undefined input",
			build: func(g *onnx.Graph) { g.Node("Add", []string{"x", "b"}, []string{"y"}) },
			want:  `node 0 (Add): input "b" is not defined`,
		},
		{
			name: "not topologically sorted",
			build: func(g *onnx.Graph) {
				g.Node("Relu", []string{"z"}, []string{"y"})
				g.Node("Relu", []string{"x"}, []string{"z"})
			},
			want: `node 0 (Relu): input "z" is defined by a later node 1 (Relu)`,
		},
		{
			name: "output not produced",
			build: func(g *onnx.Graph) {
				g.Node("Relu", []string{"x"}, []string{"y"})
				g.Output("nope", -1, 2)
			},
			want: `output "nope" is not produced`,
		},
		{
			name: "output declared twice",
			build: func(g *onnx.Graph) {
				g.Node("Relu", []string{"x"}, []string{"y"})
				g.Output("y", -1, 2)
				g.Output("y", -1, 2)
			},
			want: `output "y" declared twice`,
		},
		{
			name:  "no outputs",
			build: func(g *onnx.Graph) { g.Node("Relu", []string{"x"}, []string{"y"}) },
			want:  "no outputs declared",
		},
		{
			name:  "node without outputs",
			build: func(g *onnx.Graph) { g.Node("Relu", []string{"x"}, nil) },
			want:  "node 0 (Relu): no outputs",
		},
		{
			name:  "empty attribute name",
			build: func(g *onnx.Graph) { g.Node("Relu", []string{"x"}, []string{"y"}, onnx.AttrInt("", 1)) },
			want:  "node 0 (Relu): attribute with an empty name",
		},
		{
			name: "attribute twice",
			build: func(g *onnx.Graph) {
				g.Node("Concat", []string{"x"}, []string{"y"}, onnx.AttrInt("axis", 1), onnx.AttrInt("axis", 0))
			},
			want: `node 0 (Concat): attribute "axis" given twice`,
		},
		{
			name:  "zero Attr",
			build: func(g *onnx.Graph) { g.Node("Relu", []string{"x"}, []string{"y"}, onnx.Attr{}) },
			want:  "zero Attr",
		},
		{
			name:  "duplicate metadata key",
			model: func(m *onnx.Model) { m.Metadata = []onnx.KV{{"a", "1"}, {"a", "2"}} },
			want:  `metadata[1]: duplicate key "a"`,
		},
		{
			name:  "empty metadata key",
			model: func(m *onnx.Model) { m.Metadata = []onnx.KV{{"", "1"}} },
			want:  "metadata[0]: empty key",
		},
		{
			name:  "opset too new",
			model: func(m *onnx.Model) { m.Opset = 99 },
			want:  "opset 99: newer than this package knows",
		},
		{
			name:  "no graph",
			model: func(m *onnx.Model) { m.Graph = nil },
			want:  "onnx model: no graph",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := onnx.NewGraph("g")
			g.Input("x", -1, 2)
			m := onnx.Model{Graph: g}
			if tt.build != nil {
				tt.build(g)
			} else {
				g.Node("Relu", []string{"x"}, []string{"y"})
				g.Output("y", -1, 2)
			}
			if tt.model != nil {
				tt.model(&m)
			}
			_, err := m.Marshal()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Marshal: error %v, want one containing %q", err, tt.want)
			}
			path := filepath.Join(t.TempDir(), "m.onnx")
			if err := m.WriteFile(path); err == nil {
				t.Error("WriteFile: no error")
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("WriteFile left %s behind after an error", path)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.onnx")
	m := newPolicy().model()
	if err := os.WriteFile(path, []byte("an older model"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.Marshal()
	if !bytes.Equal(got, want) {
		t.Error("file content differs from Marshal")
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want just the model (a temporary file left?)", len(entries))
	}

	if err := m.WriteFile(filepath.Join(dir, "missing", "policy.onnx")); err == nil {
		t.Error("WriteFile into a missing directory: no error")
	}
}

func TestIRVersion(t *testing.T) {
	for _, tt := range []struct{ opset, ir int64 }{{13, 8}, {17, 8}, {18, 8}, {19, 9}, {21, 10}, {23, 11}} {
		if got, err := onnx.IRVersion(tt.opset); err != nil || got != tt.ir {
			t.Errorf("IRVersion(%d) = %d, %v; want %d", tt.opset, got, err, tt.ir)
		}
	}
}
