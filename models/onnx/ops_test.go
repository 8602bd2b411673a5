package onnx_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/models/onnx"
)

// requireORT skips the test when the onnxruntime library is missing, or
// fails it when E2HIL_REQUIRE_TOOLS=1 (make test has installed it).
func requireORT(t testing.TB) {
	t.Helper()
	err := inference.Init()
	if err == nil {
		return
	}
	if errors.Is(err, inference.ErrLibraryNotFound) && os.Getenv("E2HIL_REQUIRE_TOOLS") != "1" {
		t.Skip(err)
	}
	t.Fatal(err)
}

// Tolerances on |onnxruntime − float64 reference|, the reference computed
// from the same float32 inputs and weights; absolute where |reference| ≤ 1,
// relative above (a float32 result of magnitude 30 has ulps of 2e-6).
const (
	// tolExact: one correctly rounded float32 operation (Mul, Sub, Div,
	// Relu, Clip, Concat, ArgMax). The brief's bound for simple ops.
	tolExact = 1e-6
	// tolTranscendental: MLAS's vectorised exp/tanh/logistic are accurate
	// to a few float32 ulps.
	tolTranscendental = 1e-6
	// tolReduce: float32 dot products and LayerNormalization's mean and
	// variance over ≤ 16 terms.
	tolReduce = 1e-5
)

// feed is one graph input: its width per row and how its values are drawn.
type feed struct {
	name  string
	width int
	draw  func(*rand.Rand) float32
}

func normal(rng *rand.Rand) float32 { return float32(rng.NormFloat64()) }

// awayFromZero draws from ±[0.5, 2.5): safe denominators.
func awayFromZero(rng *rand.Rand) float32 {
	v := 0.5 + 2*rng.Float32()
	if rng.IntN(2) == 0 {
		return -v
	}
	return v
}

// opCase is a one-op (or two-op) graph with inputs declared [batch, width]
// and one output "y" [batch, outWidth] (or [batch] for an int64 output),
// and its reference for one row.
type opCase struct {
	name     string
	tol      float64
	feeds    []feed
	outWidth int // 0: int64 output of shape [batch]
	build    func(g *onnx.Graph)
	ref      func(row map[string][]float32) []float64
}

// Weights shared by the cases, fixed by formula so the references read
// plainly.
var (
	w53  = seq(15, func(i int) float32 { return float32(math.Sin(float64(i)+1)) * 0.7 }) // [5,3]
	w35  = seq(15, func(i int) float32 { return float32(math.Cos(float64(i)+2)) * 0.7 }) // [3,5]
	b3   = []float32{0.1, -0.2, 0.3}
	gam5 = []float32{1.0, 0.5, -0.75, 2.0, 1.25}
	bet5 = []float32{0.0, 0.1, -0.1, 0.2, -0.3}
	div5 = []float32{0.5, -1.5, 2.0, 4.0, -0.25}
)

func seq(n int, f func(int) float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

func elementwise(f func(float64) float64) func(map[string][]float32) []float64 {
	return func(row map[string][]float32) []float64 {
		out := make([]float64, len(row["x"]))
		for i, v := range row["x"] {
			out[i] = f(float64(v))
		}
		return out
	}
}

func unary(op string) func(*onnx.Graph) {
	return func(g *onnx.Graph) {
		g.Node(op, []string{"x"}, []string{"y"})
		g.Output("y", -1, 5)
	}
}

var x5 = []feed{{"x", 5, normal}}

var opCases = []opCase{
	{
		name: "MatMul+Add", tol: tolReduce, feeds: x5, outWidth: 3,
		build: func(g *onnx.Graph) {
			g.Initializer("w", []int64{5, 3}, w53)
			g.Initializer("b", []int64{3}, b3)
			g.Node("MatMul", []string{"x", "w"}, []string{"xw"})
			g.Node("Add", []string{"xw", "b"}, []string{"y"})
			g.Output("y", -1, 3)
		},
		ref: func(row map[string][]float32) []float64 {
			out := make([]float64, 3)
			for j := range out {
				out[j] = float64(b3[j])
				for k, xk := range row["x"] {
					out[j] += float64(xk) * float64(w53[k*3+j])
				}
			}
			return out
		},
	},
	{
		name: "Gemm transB", tol: tolReduce, feeds: x5, outWidth: 3,
		build: func(g *onnx.Graph) {
			g.Initializer("w", []int64{3, 5}, w35)
			g.Initializer("b", []int64{3}, b3)
			g.Node("Gemm", []string{"x", "w", "b"}, []string{"y"}, onnx.AttrInt("transB", 1))
			g.Output("y", -1, 3)
		},
		ref: func(row map[string][]float32) []float64 {
			out := make([]float64, 3)
			for j := range out {
				out[j] = float64(b3[j])
				for k, xk := range row["x"] {
					out[j] += float64(xk) * float64(w35[j*5+k])
				}
			}
			return out
		},
	},
	{
		name: "LayerNormalization", tol: tolReduce, feeds: x5, outWidth: 5,
		build: func(g *onnx.Graph) {
			g.Initializer("scale", []int64{5}, gam5)
			g.Initializer("bias", []int64{5}, bet5)
			g.Node("LayerNormalization", []string{"x", "scale", "bias"}, []string{"y"},
				onnx.AttrInt("axis", -1), onnx.AttrFloat("epsilon", 1e-5))
			g.Output("y", -1, 5)
		},
		ref: func(row map[string][]float32) []float64 {
			return layerNorm(f64(row["x"]), gam5, bet5, 1e-5)
		},
	},
	{name: "Sigmoid", tol: tolTranscendental, feeds: x5, outWidth: 5, build: unary("Sigmoid"),
		ref: elementwise(func(v float64) float64 { return 1 / (1 + math.Exp(-v)) })},
	{name: "Tanh", tol: tolTranscendental, feeds: x5, outWidth: 5, build: unary("Tanh"), ref: elementwise(math.Tanh)},
	{name: "Exp", tol: tolTranscendental, feeds: x5, outWidth: 5, build: unary("Exp"), ref: elementwise(math.Exp)},
	{name: "Relu", tol: tolExact, feeds: x5, outWidth: 5, build: unary("Relu"),
		ref: elementwise(func(v float64) float64 { return math.Max(v, 0) })},
	{
		name: "Mul broadcast", tol: tolExact, feeds: x5, outWidth: 5,
		build: func(g *onnx.Graph) {
			g.Initializer("s", []int64{5}, gam5)
			g.Node("Mul", []string{"x", "s"}, []string{"y"})
			g.Output("y", -1, 5)
		},
		ref: func(row map[string][]float32) []float64 {
			return mapRow(row["x"], func(i int, v float32) float32 { return v * gam5[i] })
		},
	},
	{
		name: "Sub", tol: tolExact, feeds: []feed{{"x", 5, normal}, {"z", 5, normal}}, outWidth: 5,
		build: func(g *onnx.Graph) {
			g.Node("Sub", []string{"x", "z"}, []string{"y"})
			g.Output("y", -1, 5)
		},
		ref: func(row map[string][]float32) []float64 {
			return mapRow(row["x"], func(i int, v float32) float32 { return v - row["z"][i] })
		},
	},
	{
		name: "Div", tol: tolExact, feeds: []feed{{"x", 5, normal}, {"z", 5, awayFromZero}}, outWidth: 5,
		build: func(g *onnx.Graph) {
			g.Node("Div", []string{"x", "z"}, []string{"y"})
			g.Output("y", -1, 5)
		},
		ref: func(row map[string][]float32) []float64 {
			return mapRow(row["x"], func(i int, v float32) float32 { return v / row["z"][i] })
		},
	},
	{
		name: "Div broadcast", tol: tolExact, feeds: x5, outWidth: 5,
		build: func(g *onnx.Graph) {
			g.Initializer("d", []int64{5}, div5)
			g.Node("Div", []string{"x", "d"}, []string{"y"})
			g.Output("y", -1, 5)
		},
		ref: func(row map[string][]float32) []float64 {
			return mapRow(row["x"], func(i int, v float32) float32 { return v / div5[i] })
		},
	},
	{
		// Since opset 11, Clip's bounds are optional scalar inputs.
		name: "Clip", tol: tolExact, feeds: x5, outWidth: 5,
		build: func(g *onnx.Graph) {
			g.Initializer("lo", nil, []float32{-0.5})
			g.Initializer("hi", nil, []float32{0.75})
			g.Node("Clip", []string{"x", "lo", "hi"}, []string{"y"})
			g.Output("y", -1, 5)
		},
		ref: elementwise(func(v float64) float64 { return math.Min(math.Max(v, -0.5), 0.75) }),
	},
	{
		name: "Clip max only", tol: tolExact, feeds: x5, outWidth: 5,
		build: func(g *onnx.Graph) {
			g.Initializer("hi", nil, []float32{0.25})
			g.Node("Clip", []string{"x", "", "hi"}, []string{"y"})
			g.Output("y", -1, 5)
		},
		ref: elementwise(func(v float64) float64 { return math.Min(v, 0.25) }),
	},
	{
		name: "Concat", tol: tolExact, feeds: []feed{{"x", 5, normal}, {"z", 2, normal}}, outWidth: 7,
		build: func(g *onnx.Graph) {
			g.Node("Concat", []string{"x", "z"}, []string{"y"}, onnx.AttrInt("axis", 1))
			g.Output("y", -1, 7)
		},
		ref: func(row map[string][]float32) []float64 {
			return append(f64(row["x"]), f64(row["z"])...)
		},
	},
	{
		name: "ArgMax", tol: tolExact, feeds: x5, outWidth: 0,
		build: func(g *onnx.Graph) {
			g.Node("ArgMax", []string{"x"}, []string{"y"}, onnx.AttrInt("axis", 1), onnx.AttrInt("keepdims", 0))
			g.OutputInt64("y", -1)
		},
		ref: func(row map[string][]float32) []float64 {
			return []float64{float64(argmax(row["x"]))}
		},
	},
}

// TestOps runs each op the policies need in onnxruntime, at batch 1 and 7
// on the same dynamic-batch model, against a plain Go reference.
func TestOps(t *testing.T) {
	requireORT(t)
	for i, tc := range opCases {
		t.Run(tc.name, func(t *testing.T) {
			g := onnx.NewGraph("op")
			for _, f := range tc.feeds {
				g.Input(f.name, -1, int64(f.width))
			}
			tc.build(g)
			model, err := onnx.Model{Graph: g}.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s, err := inference.NewSession(model, inference.SessionOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			rng := rand.New(rand.NewPCG(uint64(i), 17))
			worst := 0.0
			for _, batch := range []int{1, 7} {
				in := map[string][]float32{}
				for _, f := range tc.feeds {
					in[f.name] = seq(batch*f.width, func(int) float32 { return f.draw(rng) })
				}
				out, err := s.RunBatch(in, batch)
				if err != nil {
					t.Fatalf("batch %d: %v", batch, err)
				}
				width := max(tc.outWidth, 1)
				if got := len(out["y"]); got != batch*width {
					t.Fatalf("batch %d: %d outputs, want %d", batch, got, batch*width)
				}
				for r := range batch {
					row := map[string][]float32{}
					for _, f := range tc.feeds {
						row[f.name] = in[f.name][r*f.width : (r+1)*f.width]
					}
					want := tc.ref(row)
					got := out["y"][r*width : (r+1)*width]
					worst = max(worst, check(t, "batch "+strconv.Itoa(batch)+" row "+strconv.Itoa(r), got, want, tc.tol))
				}
			}
			t.Logf("max diff %.3g (tolerance %.0e)", worst, tc.tol)
		})
	}
}

// check compares got with want within tol (absolute up to 1, relative
// above) and returns the largest such difference.
func check(t *testing.T, what string, got []float32, want []float64, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst := 0.0
	for i := range got {
		d := math.Abs(float64(got[i])-want[i]) / math.Max(1, math.Abs(want[i]))
		if !(d <= tol) {
			t.Errorf("%s[%d] = %v, want %v (|diff| %.3g > %.0e)", what, i, got[i], want[i], d, tol)
		}
		worst = max(worst, d)
	}
	return worst
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// mapRow applies a float32 op (rounded once, as onnxruntime does) per element.
func mapRow(v []float32, f func(int, float32) float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(f(i, x))
	}
	return out
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// layerNorm is ONNX LayerNormalization over the whole row:
// y = (x − mean) / sqrt(var + eps) · scale + bias, var the biased variance.
func layerNorm(x []float64, scale, bias []float32, eps float64) []float64 {
	mean, v := 0.0, 0.0
	for _, xi := range x {
		mean += xi
	}
	mean /= float64(len(x))
	for _, xi := range x {
		v += (xi - mean) * (xi - mean)
	}
	v /= float64(len(x))
	out := make([]float64, len(x))
	for i, xi := range x {
		out[i] = (xi-mean)/math.Sqrt(v+eps)*float64(scale[i]) + float64(bias[i])
	}
	return out
}

// attrModel exercises the attribute kinds and the int64 initializer that the
// op cases above do not: INTS (Transpose perm, ReduceMean axes), FLOATS
// (Constant value_floats), STRING (Pad mode), int64 tensors (Reshape shape,
// Pad pads).
//
//	x [b,2,3] → Transpose(0,2,1) [b,3,2] → + [0.5, −1] → mean over axis 1
//	[b,1,2] → Reshape(−1, 2) [b,2] → Pad reflect (1, 1) [b,4]
func attrModel() onnx.Model {
	g := onnx.NewGraph("attrs")
	g.Input("x", -1, 2, 3)
	g.Node("Transpose", []string{"x"}, []string{"t"}, onnx.AttrInts("perm", 0, 2, 1))
	g.Node("Constant", nil, []string{"c"}, onnx.AttrFloats("value_floats", 0.5, -1))
	g.Node("Add", []string{"t", "c"}, []string{"u"})
	g.Node("ReduceMean", []string{"u"}, []string{"m"}, onnx.AttrInts("axes", 1), onnx.AttrInt("keepdims", 1))
	g.InitializerInt64("shape", []int64{2}, []int64{-1, 2})
	g.Node("Reshape", []string{"m", "shape"}, []string{"r"})
	g.InitializerInt64("pads", []int64{4}, []int64{0, 1, 0, 1})
	g.Node("Pad", []string{"r", "pads"}, []string{"y"}, onnx.AttrString("mode", "reflect"))
	g.Output("y", -1, 4)
	return onnx.Model{Graph: g}
}

func attrRef(x []float32) []float64 { // x is one row, [2,3]
	var m [2]float64
	for j, c := range []float64{0.5, -1} { // t[i][j] = x[j][i]; mean over i
		for i := range 3 {
			m[j] += float64(x[j*3+i]) + c
		}
		m[j] /= 3
	}
	return []float64{m[1], m[0], m[1], m[0]}
}

func TestAttributesModel(t *testing.T) {
	requireORT(t)
	b, err := attrModel().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := inference.NewSession(b, inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	for _, batch := range []int{1, 7} {
		x := seq(batch*6, func(int) float32 { return normal(rng) })
		out, err := s.RunBatch(map[string][]float32{"x": x}, batch)
		if err != nil {
			t.Fatal(err)
		}
		for r := range batch {
			check(t, "batch "+strconv.Itoa(batch)+" row "+strconv.Itoa(r), out["y"][r*4:(r+1)*4], attrRef(x[r*6:(r+1)*6]), tolReduce)
		}
	}
}
