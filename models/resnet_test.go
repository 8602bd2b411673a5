package models

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/e2hil/e2hil/models/safetensors"
)

const torchPython = "/usr/bin/python3" // Debian's, with python3-torch

// writeHF writes the network's weights as helper2424/resnet10 would ship
// them (config.json + model.safetensors under its tensor names).
func writeHF(t *testing.T, dir string, r ResNet10, p *Params) {
	t.Helper()
	var ts []safetensors.Tensor
	for _, n := range r.ParamNames(p, true) {
		hf, ok := r.HFName(n)
		if !ok {
			t.Fatalf("no HF name for %s", n)
		}
		ts = append(ts, safetensors.Tensor{Name: hf, Shape: []int(p.Get(n).Shape()), Data: p.Data(n)})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	cfg := `{"architectures":["ResNet10"],"auto_map":{"AutoConfig":"configuration_resnet.ResNet10Config","AutoModel":"modeling_resnet.ResNet10"},
"depths":[1,1,1,1],"embedding_size":64,"hidden_act":"relu","hidden_sizes":[64,128,256,512],"model_type":"resnet10","num_channels":3,
"pooler":null,"torch_dtype":"float32","transformers_version":"4.48.1"}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// spreadParams gives the norms non-trivial affine parameters and
// statistics, so that a mix-up of names or channels shows.
func spreadParams(p *Params, r ResNet10, rng *rand.Rand) {
	for _, n := range r.ParamNames(p, false) {
		d := p.Data(n)
		switch {
		case strings.Contains(n, "norm") && strings.HasSuffix(n, ".weight"):
			for i := range d {
				d[i] = 0.5 + rng.Float32()
			}
		case strings.HasSuffix(n, ".bias"), strings.HasSuffix(n, "running_mean"):
			for i := range d {
				d[i] = 0.2 * float32(rng.NormFloat64())
			}
		case strings.HasSuffix(n, "running_var"):
			for i := range d {
				d[i] = 0.5 + rng.Float32()
			}
		}
	}
}

func writeF32(t *testing.T, path string, v []float32) {
	t.Helper()
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func newResNet(t testing.TB, r ResNet10, seed uint64) *Params {
	p := NewParams()
	if err := r.AddParams(p, rand.New(rand.NewPCG(seed, 1))); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestResNet10MatchesTorch runs both variants against PyTorch (the bench's
// BatchNorm ResNet-10 and helper2424's GroupNorm/SAME one, the latter
// loaded under its own tensor names), eval and train mode.
func TestResNet10MatchesTorch(t *testing.T) {
	if out, err := exec.Command(torchPython, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("python3-torch not usable (%v: %s)", err, out)
	}
	cases := []struct {
		variant string
		train   bool
		n, h, w int
	}{
		{ResNetBatchNorm, false, 2, 64, 64},
		{ResNetBatchNorm, true, 3, 32, 48},
		{ResNetHILSERL, false, 2, 64, 64},
		{ResNetHILSERL, false, 1, 37, 50}, // odd sizes: SAME pads evenly or not per layer
	}
	for _, tc := range cases {
		name := tc.variant + map[bool]string{true: "/train", false: "/eval"}[tc.train] + "/" + strconv.Itoa(tc.h) + "x" + strconv.Itoa(tc.w)
		t.Run(name, func(t *testing.T) {
			r := ResNet10{Prefix: "backbone", Variant: tc.variant}
			p := newResNet(t, r, 3)
			rng := rand.New(rand.NewPCG(4, 5))
			spreadParams(p, r, rng)
			x := randVec(rng, tc.n*3*tc.h*tc.w)
			dir := t.TempDir()
			if tc.variant == ResNetHILSERL {
				writeHF(t, dir, r, p)
			} else {
				var ts []safetensors.Tensor
				for _, n := range r.ParamNames(p, false) {
					ts = append(ts, safetensors.Tensor{Name: n, Shape: []int(p.Get(n).Shape()), Data: p.Data(n)})
				}
				if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
					t.Fatal(err)
				}
			}
			writeF32(t, filepath.Join(dir, "x.f32"), x)
			mode := map[bool]string{true: "train", false: "eval"}[tc.train]
			cmd := exec.Command(torchPython, "testdata/resnet10_torch.py", tc.variant, filepath.Join(dir, "model.safetensors"),
				filepath.Join(dir, "x.f32"), strconv.Itoa(tc.n), strconv.Itoa(tc.h), strconv.Itoa(tc.w), mode, filepath.Join(dir, "y.f32"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("torch reference: %v\n%s", err, out)
			}
			want := readF32(t, filepath.Join(dir, "y.f32"))

			b := NewGraph(p)
			xn := G.NodeFromAny(b.G, tensor.New(tensor.WithShape(tc.n, 3, tc.h, tc.w), tensor.WithBacking(x)), G.WithName("x"))
			y, err := r.Forward(b, xn, tc.train)
			if err != nil {
				t.Fatal(err)
			}
			c, oh, ow := r.OutShape(tc.h, tc.w)
			if s := y.Shape(); s[0] != tc.n || s[1] != c || s[2] != oh || s[3] != ow {
				t.Fatalf("shape %v, OutShape says [%d %d %d]", s, c, oh, ow)
			}
			vm := G.NewTapeMachine(b.G)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			got := append([]float32(nil), y.Value().Data().([]float32)...)
			if tc.train {
				for _, n := range r.ParamNames(p, false) {
					if strings.HasSuffix(n, "running_mean") || strings.HasSuffix(n, "running_var") {
						got = append(got, p.Data(n)...)
					}
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d values, torch %d", len(got), len(want))
			}
			var worst float64
			for i := range got {
				worst = math.Max(worst, math.Abs(float64(got[i]-want[i]))/math.Max(1, math.Abs(float64(want[i]))))
			}
			t.Logf("max |gorgonia − torch| (relative above 1) %.3g over %d values", worst, len(got))
			if worst > 1e-4 {
				t.Errorf("max diff %.3g > 1e-4", worst)
			}
		})
	}
}

func TestResNet10OutShape128(t *testing.T) {
	for _, v := range []string{ResNetBatchNorm, ResNetHILSERL} {
		c, h, w := ResNet10{Variant: v}.OutShape(128, 128)
		if c != 512 || h != 4 || w != 4 {
			t.Errorf("%s: 128x128 → %d×%d×%d, want 512×4×4", v, c, h, w)
		}
	}
}

func TestLoadPretrainedResNet10(t *testing.T) {
	r := ResNet10{Prefix: "cls.backbone", Variant: ResNetHILSERL}
	src := newResNet(t, r, 7)
	dir := t.TempDir()
	writeHF(t, dir, r, src)
	dst := newResNet(t, r, 8)
	if err := LoadPretrainedResNet10(dir, r, dst); err != nil {
		t.Fatal(err)
	}
	for _, n := range r.ParamNames(src, false) {
		a, b := src.Data(n), dst.Data(n)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d] = %g, want %g", n, i, b[i], a[i])
			}
		}
	}
	if err := LoadPretrainedResNet10(dir, ResNet10{Prefix: "x", Variant: ResNetBatchNorm}, dst); err == nil {
		t.Error("BatchNorm variant accepted pretrained GroupNorm weights")
	}

	// A file missing a tensor, and one with a wrong config, are refused.
	f, err := safetensors.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		if n != "encoder.stages.2.shortcut.1.group_norm.bias" {
			ts = append(ts, f.Tensors[n])
		}
	}
	bad := t.TempDir()
	writeHF(t, bad, r, src)
	if err := safetensors.WriteFile(filepath.Join(bad, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := LoadPretrainedResNet10(bad, r, dst); err == nil || !strings.Contains(err.Error(), "encoder.stages.2.shortcut.1.group_norm.bias") {
		t.Errorf("missing tensor: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type":"resnet","hidden_sizes":[256,512,1024,2048]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := LoadPretrainedResNet10(bad, r, dst); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("wrong config: %v", err)
	}
}

// TestFeatureExtractorMatchesGraph: chunked extraction with a padded last
// chunk gives the frozen graph's features.
func TestFeatureExtractorMatchesGraph(t *testing.T) {
	for _, v := range []string{ResNetBatchNorm, ResNetHILSERL} {
		r := ResNet10{Prefix: "b", Variant: v}
		p := newResNet(t, r, 9)
		rng := rand.New(rand.NewPCG(1, 9))
		spreadParams(p, r, rng)
		const n, h, w = 5, 32, 32
		x := randVec(rng, n*3*h*w)
		want := run(t, [][]int{{n, 3, h, w}}, [][]float32{x}, func(in ...*G.Node) (*G.Node, error) {
			return r.Forward(&Graph{G: in[0].Graph(), params: p, nodes: map[string]*G.Node{}}, in[0], false)
		})
		e, err := r.NewFeatureExtractor(p, 2, h, w)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, n*e.FeatureSize())
		for range 2 { // a second pass reuses the machine's buffers
			if err := e.Extract(x, got); err != nil {
				t.Fatal(err)
			}
		}
		e.Close()
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("%s: feature %d = %g, graph %g", v, i, got[i], want[i])
			}
		}
	}
}

// resNetGrads returns the train-mode gradients of sum(y·lw) for every
// trainable parameter, concatenated in walk order.
func resNetGrads(t *testing.T, r ResNet10, p *Params, x, lw []float32, n, h, w int) (float64, []float32) {
	t.Helper()
	names := r.ParamNames(p, true)
	b := NewGraph(p)
	xn := G.NodeFromAny(b.G, tensor.New(tensor.WithShape(n, 3, h, w), tensor.WithBacking(x)), G.WithName("x"))
	y, err := r.Forward(b, xn, true)
	if err != nil {
		t.Fatal(err)
	}
	wn := G.NodeFromAny(b.G, tensor.New(tensor.WithShape(y.Shape().Clone()...), tensor.WithBacking(lw)), G.WithName("w"))
	l := G.Must(G.Sum(G.Must(G.HadamardProd(y, wn))))
	params := b.ParamNodes(names)
	if _, err := G.Grad(l, params...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(b.G, G.BindDualValues(params...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	var out []float32
	for _, pn := range params {
		gv, err := pn.Grad()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, gv.Data().([]float32)...)
	}
	return float64(l.Value().Data().(float32)), out
}

// TestResNet10TrainGradientsMatchTorch: the train-mode backward of the
// whole network against torch autograd.
func TestResNet10TrainGradientsMatchTorch(t *testing.T) {
	if out, err := exec.Command(torchPython, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("python3-torch not usable (%v: %s)", err, out)
	}
	r := ResNet10{Prefix: "backbone"}
	p := newResNet(t, r, 21)
	rng := rand.New(rand.NewPCG(22, 23))
	spreadParams(p, r, rng)
	const n, h, w = 4, 64, 64
	x := randVec(rng, n*3*h*w)
	c, oh, ow := r.OutShape(h, w)
	lw := randVec(rng, n*c*oh*ow)
	dir := t.TempDir()
	var ts []safetensors.Tensor
	for _, name := range r.ParamNames(p, false) {
		ts = append(ts, safetensors.Tensor{Name: name, Shape: []int(p.Get(name).Shape()), Data: append([]float32(nil), p.Data(name)...)})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	writeF32(t, filepath.Join(dir, "x.f32"), x)
	writeF32(t, filepath.Join(dir, "lw.f32"), lw)
	cmd := exec.Command(torchPython, "testdata/resnet10_torch.py", ResNetBatchNorm, filepath.Join(dir, "model.safetensors"),
		filepath.Join(dir, "x.f32"), strconv.Itoa(n), strconv.Itoa(h), strconv.Itoa(w), "grad", filepath.Join(dir, "g.f32"), filepath.Join(dir, "lw.f32"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("torch reference: %v\n%s", err, out)
	}
	want := readF32(t, filepath.Join(dir, "g.f32"))
	_, got := resNetGrads(t, r, p, x, lw, n, h, w)
	if len(got) != len(want) {
		t.Fatalf("%d gradient values, torch %d", len(got), len(want))
	}
	var worst, scale float64
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
	}
	t.Logf("max |gorgonia − torch| %.3g, largest gradient %.3g, over %d values", worst, scale, len(want))
	if worst > 1e-4*scale {
		t.Errorf("max diff %.3g > 1e-4 × %.3g", worst, scale)
	}
}

// TestResNet10TrainGradientSpotCheck: central differences for a few
// weights of the last stage, whose path to the output crosses one ReLU (the
// ops' own FD tests cover each op; earlier layers cross so many ReLU and
// max-pool kinks that finite steps are not informative; the torch test above
// checks them).
func TestResNet10TrainGradientSpotCheck(t *testing.T) {
	r := ResNet10{Prefix: "b"}
	p := newResNet(t, r, 11)
	rng := rand.New(rand.NewPCG(12, 13))
	spreadParams(p, r, rng)
	const n, h, w = 4, 32, 32
	x := randVec(rng, n*3*h*w)
	c, oh, ow := r.OutShape(h, w)
	lw := randVec(rng, n*c*oh*ow)
	names := r.ParamNames(p, true)
	_, grads := resNetGrads(t, r, p, x, lw, n, h, w)
	off := map[string]int{}
	o := 0
	for _, name := range names {
		off[name] = o
		o += len(p.Data(name))
	}
	checked := 0
	for _, name := range []string{"b.stages.3.conv2.weight", "b.stages.3.norm2.weight", "b.stages.3.norm2.bias", "b.stages.3.shortcut.norm.weight"} {
		d := p.Data(name)
		for k := 0; k < 3; k++ {
			i := rng.IntN(len(d))
			orig := d[i]
			const eps = 1e-2
			d[i] = orig + eps
			up, _ := resNetGrads(t, r, p, x, lw, n, h, w)
			d[i] = orig - eps
			down, _ := resNetGrads(t, r, p, x, lw, n, h, w)
			d[i] = orig
			num := (up - down) / (2 * eps)
			got := float64(grads[off[name]+i])
			if math.Abs(num-got) > 1e-2*math.Max(1, math.Abs(num)) {
				t.Errorf("d/d%s[%d]: autodiff %.5g, finite difference %.5g", name, i, got, num)
			}
			checked++
		}
	}
	t.Logf("%d elements checked", checked)
}

// BenchmarkFeatureExtractor: the frozen backbone on one camera's batch of
// 16 images of 128×128 (the classifier's Frozen step runs it twice).
func BenchmarkFeatureExtractor(b *testing.B) {
	r := ResNet10{Prefix: "b"}
	p := newResNet(b, r, 1)
	e, err := r.NewFeatureExtractor(p, 16, 128, 128)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	x := randVec(rand.New(rand.NewPCG(1, 1)), 16*3*128*128)
	out := make([]float32, 16*e.FeatureSize())
	if err := e.Extract(x, out); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := e.Extract(x, out); err != nil {
			b.Fatal(err)
		}
	}
}
