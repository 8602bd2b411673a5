package sac

import (
	"fmt"

	"github.com/e2hil/e2hil/models"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// images is one graph observation's camera inputs: per camera the frozen
// backbone's features [B, C·h·w] and, in training graphs, the seed of the
// post-encoder's dropout mask.
type images struct {
	feats []input
	drops []*models.DropoutMask
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
// graph's inputs without a copy). dropout adds the post-encoder dropout.
func (l *Learner) encode(b *models.Graph, name string, state input, bind [][]float32, dropout bool) (images, *G.Node) {
	s := l.Spec
	var im images
	if len(s.Cameras) == 0 {
		return im, s.Encode(b, state.node)
	}
	feats := make([]*G.Node, len(s.Cameras))
	for i, c := range s.Cameras {
		in := bindInput(b, fmt.Sprintf("%s.image%d", name, i), state.node.Shape()[0], c.FeatureSize(), bind[i])
		im.feats = append(im.feats, in)
		feats[i] = in.node
		if dropout && s.ImageDropout > 0 {
			im.drops = append(im.drops, &models.DropoutMask{})
		}
	}
	return im, s.EncodeObservation(b, state.node, feats, im.drops)
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
	for _, d := range im.drops {
		d.Seed = l.rng.Uint64()
	}
}

func sameSlice(a, b []float32) bool { return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0] }
