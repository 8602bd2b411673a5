package sac

import (
	"fmt"

	"github.com/e2hil/e2hil/models"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// images is one graph observation's camera inputs: per camera the frozen
// backbone's features [B, C·h·w] and, in training graphs, the dropout keep
// mask [B, C·F] of the post-encoder.
type images struct {
	feats []input
	keeps []input
}

// featureSizes lists C·h·w per camera.
func featureSizes(s models.SACSpec) []int {
	out := make([]int, len(s.Cameras))
	for i, c := range s.Cameras {
		out[i] = c.FeatureSize()
	}
	return out
}

// encode builds the shared encoder over state and, per camera, a feature
// input bound to bind[i] (the learner's batch, so sampling fills every
// graph's inputs without a copy). dropout adds keep-mask inputs.
func (l *Learner) encode(b *models.Graph, name string, state input, bind [][]float32, dropout bool) (images, *G.Node) {
	s := l.Spec
	var im images
	if len(s.Cameras) == 0 {
		return im, s.Encode(b, state.node)
	}
	feats := make([]*G.Node, len(s.Cameras))
	var keeps []*G.Node
	for i, c := range s.Cameras {
		in := bindInput(b, fmt.Sprintf("%s.image%d", name, i), state.node.Shape()[0], c.FeatureSize(), bind[i])
		im.feats = append(im.feats, in)
		feats[i] = in.node
		if dropout && s.ImageDropout > 0 {
			k := newInput(b, fmt.Sprintf("%s.keep%d", name, i), state.node.Shape()[0], c.Channels*s.ImagePoolingDim)
			im.keeps = append(im.keeps, k)
			keeps = append(keeps, k.node)
		}
	}
	return im, s.EncodeObservation(b, state.node, feats, keeps)
}

// bindInput is newInput over a caller's slice.
func bindInput(b *models.Graph, name string, rows, cols int, data []float32) input {
	n := b.Input(name, rows, cols)
	G.Let(n, tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data)))
	return input{node: n, data: data}
}

// setImages puts a batch's camera features into a graph's inputs (a no-op
// for the learner's own batch, which they are bound to) and draws fresh
// dropout masks.
func (l *Learner) setImages(im images, feats [][]float32) {
	for i, in := range im.feats {
		if !sameSlice(in.data, feats[i]) {
			copy(in.data, feats[i])
		}
	}
	for _, k := range im.keeps {
		l.dropoutMask(k.data)
	}
}

func sameSlice(a, b []float32) bool { return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0] }

// dropoutMask fills dst with inverted-dropout keep factors: 0 with
// probability p (image_dropout), else 1/(1−p), as torch's nn.Dropout in
// training mode. A mask is 2·B·C·F draws per camera, so it comes from
// splitmix64 seeded by one draw of the learner's stream, four 16-bit
// uniforms per output (p is resolved to 1/65536).
func (l *Learner) dropoutMask(dst []float32) {
	p := l.Spec.ImageDropout
	keep := float32(1 / (1 - p))
	thr := uint64(p*65536 + 0.5)
	x := l.rng.Uint64()
	for i := 0; i < len(dst); i += 4 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		for j := 0; j < 4 && i+j < len(dst); j++ {
			if (z>>(16*j))&0xffff < thr {
				dst[i+j] = 0
			} else {
				dst[i+j] = keep
			}
		}
	}
}
