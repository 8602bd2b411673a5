package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// resnet10Batch is the batch of BenchmarkResNet10: the classifier's two
// cameras of 16 images each (../shared/bench: classifier_train_step_ms runs
// the frozen trunk once per camera at batch 16; 32 is both in one pass).
const resnet10Batch = 32

// resnet10Trunk builds the ResNet-10 trunk of ../shared/bench on x
// [N,3,128,128] from this package's ops: 7×7/2 stem conv 64 + BatchNorm +
// ReLU + 3×3/2 max pool, then one BasicBlock per stage (64, 128, 256, 512
// channels, strides 1, 2, 2, 2, 1×1 projection shortcut where the shape
// changes). train selects BatchNorm2d with batch statistics, otherwise
// BatchNorm2dEval with fixed ones. It returns the output and the learnable
// parameters (conv weights, γ, β).
func resnet10Trunk(g *G.ExprGraph, x *G.Node, train bool, rng *rand.Rand) (*G.Node, G.Nodes, error) {
	var params G.Nodes
	param := func(name string, shape ...int) *G.Node {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := randVec(rng, n)
		if len(shape) == 4 { // He-like scale keeps activations O(1) through the trunk
			fan := float32(shape[1] * shape[2] * shape[3])
			for i := range v {
				v[i] *= float32(1.4 / math.Sqrt(float64(fan)))
			}
		}
		p := G.NodeFromAny(g, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v)), G.WithName(name))
		params = append(params, p)
		return p
	}
	bn := func(name string, y *G.Node) (*G.Node, error) {
		c := y.Shape()[1]
		if !train {
			gamma, beta, mean, variance := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
			for i := range c {
				gamma[i], beta[i], mean[i], variance[i] = 1+0.1*normal(rng), 0.1*normal(rng), 0.1*normal(rng), 1+0.1*abs32(normal(rng))
			}
			return BatchNorm2dEval(y, gamma, beta, mean, variance, 1e-5)
		}
		gamma := G.NodeFromAny(g, tensor.New(tensor.WithShape(c), tensor.WithBacking(ones(c))), G.WithName(name+".γ"))
		beta := G.NodeFromAny(g, tensor.New(tensor.WithShape(c), tensor.WithBacking(make([]float32, c))), G.WithName(name+".β"))
		params = append(params, gamma, beta)
		return BatchNorm2d(y, gamma, beta, 1e-5, NewBNStats(c))
	}
	convBN := func(name string, x *G.Node, cin, cout, k, s, p int, relu bool) (*G.Node, error) {
		conv := Conv2d
		if x.Shape()[1] == 3 {
			conv = Conv2dFrozenInput
		}
		y, err := conv(x, param(name+".w", cout, cin, k, k), s, p)
		if err != nil {
			return nil, err
		}
		if y, err = bn(name+".bn", y); err != nil || !relu {
			return y, err
		}
		return ReLU(y)
	}
	y, err := convBN("stem", x, 3, 64, 7, 2, 3, true)
	if err != nil {
		return nil, nil, err
	}
	if y, err = MaxPool2d(y, 3, 2, 1); err != nil {
		return nil, nil, err
	}
	cin := 64
	for i, st := range []struct{ c, s int }{{64, 1}, {128, 2}, {256, 2}, {512, 2}} {
		name := fmt.Sprint("layer", i+1)
		h, err := convBN(name+".conv1", y, cin, st.c, 3, st.s, 1, true)
		if err != nil {
			return nil, nil, err
		}
		if h, err = convBN(name+".conv2", h, st.c, st.c, 3, 1, 1, false); err != nil {
			return nil, nil, err
		}
		sc := y
		if st.s != 1 || cin != st.c {
			if sc, err = convBN(name+".down", y, cin, st.c, 1, st.s, 0, false); err != nil {
				return nil, nil, err
			}
		}
		if h, err = G.Add(h, sc); err != nil {
			return nil, nil, err
		}
		if y, err = ReLU(h); err != nil {
			return nil, nil, err
		}
		cin = st.c
	}
	return y, params, nil
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// runTape times vm.RunAll after one warm-up run that allocates buffers.
func runTape(b *testing.B, vm G.VM) {
	if err := vm.RunAll(); err != nil {
		b.Fatal(err)
	}
	vm.Reset()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		vm.Reset()
	}
	reportTimes(b, cpu0)
}

// cpuTime is the process's user + system CPU time: on a shared machine it
// measures the work done (with -cpu 1, what the wall time would be on an idle
// core), where the wall time also counts the waits for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportTimes reports wall and CPU milliseconds per op since cpu0.
func reportTimes(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// BenchmarkResNet10 times the ResNet-10 trunk of ../shared/bench on 32
// images 3×128×128 (the classifier's two cameras × batch 16):
//   - Eval: forward with BatchNorm in eval mode, no gradient (the frozen
//     backbone of classifier_train_step_ms);
//   - Train: forward with batch-statistics BatchNorm and backward of every
//     conv and BatchNorm from a given output gradient (the trunk's share of
//     classifier_backbone_train_step_ms, which runs it once per camera at 16);
//   - Layer/<conv>/{Forward,ForwardBackward}: each distinct convolution alone
//     at the same batch (the stem without input gradient, as in the trunk).
//
// models/testdata/resnet10_bench_torch.py times the same cases in PyTorch.
func BenchmarkResNet10(b *testing.B) {
	for _, train := range []bool{false, true} {
		name := "Eval"
		if train {
			name = "Train"
		}
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			g := G.NewGraph()
			x := G.NodeFromAny(g, tensor.New(tensor.WithShape(resnet10Batch, 3, 128, 128),
				tensor.WithBacking(randVec(rng, resnet10Batch*3*128*128))), G.WithName("x"))
			y, params, err := resnet10Trunk(g, x, train, rng)
			if err != nil {
				b.Fatal(err)
			}
			if train {
				dy := G.NodeFromAny(g, tensor.New(tensor.WithShape(y.Shape().Clone()...),
					tensor.WithBacking(randVec(rng, y.Shape().TotalSize()))), G.WithName("dy"))
				if _, err := G.Backpropagate(G.Nodes{y}, G.Nodes{dy}, params); err != nil {
					b.Fatal(err)
				}
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			runTape(b, vm)
		})
	}
	for _, c := range resnet10Convs {
		b.Run("Layer/"+c.name+"/Forward", func(b *testing.B) {
			benchConv(b, Conv2d, resnet10Batch, c.c, c.h, c.o, c.k, c.s, c.p, false, false)
		})
		conv := Conv2d
		if !c.dx {
			conv = Conv2dFrozenInput
		}
		b.Run("Layer/"+c.name+"/ForwardBackward", func(b *testing.B) {
			benchConv(b, conv, resnet10Batch, c.c, c.h, c.o, c.k, c.s, c.p, true, c.dx)
		})
	}
}
