package features

import (
	"fmt"

	"github.com/e2hil/e2hil/models"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Backbone maps n images [n, 3, H, W] (float32 in [0, 1], NCHW) to their
// feature maps [n, C, h, w] in dst. A frozen backbone is a pure function of
// its input: the cache relies on it.
type Backbone interface {
	Features(dst, images []float32, n int) error
}

// Camera is one camera's geometry: its image and its feature map size.
type Camera struct {
	Height, Width int
	// FeatureSize is C·h·w of the backbone's output for one image.
	FeatureSize int
}

// ImageSize is 3·H·W.
func (c Camera) ImageSize() int { return 3 * c.Height * c.Width }

// GraphBackbone is a Backbone running a forward-only Gorgonia graph
// (ResNet10.Forward in eval mode, or any conv stack) over chunks of a fixed
// batch size. Not safe for concurrent use.
type GraphBackbone struct {
	batch, in, out int
	x, y           *G.Node
	xs             []float32
	vm             G.VM
}

// NewGraphBackbone compiles build over images [batch, 3, height, width]
// whose parameters live in params.
func NewGraphBackbone(params *models.Params, batch, height, width int, build func(b *models.Graph, x *G.Node) (*G.Node, error)) (*GraphBackbone, error) {
	if batch < 1 || height < 1 || width < 1 {
		return nil, fmt.Errorf("features: backbone batch %d of %d×%d images", batch, height, width)
	}
	b := models.NewGraph(params)
	gb := &GraphBackbone{batch: batch, in: 3 * height * width}
	gb.x = G.NewTensor(b.G, tensor.Float32, 4, G.WithShape(batch, 3, height, width), G.WithName("images"))
	gb.xs = make([]float32, batch*gb.in)
	if err := G.Let(gb.x, tensor.New(tensor.WithShape(batch, 3, height, width), tensor.WithBacking(gb.xs))); err != nil {
		return nil, fmt.Errorf("features: bind images: %w", err)
	}
	y, err := build(b, gb.x)
	if err != nil {
		return nil, fmt.Errorf("features: build backbone: %w", err)
	}
	if y.Shape()[0] != batch {
		return nil, fmt.Errorf("features: backbone output %v for a batch of %d", y.Shape(), batch)
	}
	gb.y, gb.out = y, y.Shape().TotalSize()/batch
	gb.vm = G.NewTapeMachine(b.G)
	return gb, nil
}

// FeatureSize is C·h·w of one image's output.
func (g *GraphBackbone) FeatureSize() int { return g.out }

// Features implements Backbone.
func (g *GraphBackbone) Features(dst, images []float32, n int) error {
	if len(images) != n*g.in || len(dst) != n*g.out {
		return fmt.Errorf("features: backbone got %d image and %d feature values for %d images, want %d and %d each", len(images), len(dst), n, g.in, g.out)
	}
	for i := 0; i < n; i += g.batch {
		m := min(g.batch, n-i)
		copy(g.xs, images[i*g.in:(i+m)*g.in])
		clear(g.xs[m*g.in:])
		err := g.vm.RunAll()
		if err == nil {
			copy(dst[i*g.out:(i+m)*g.out], g.y.Value().Data().([]float32)[:m*g.out])
		}
		g.vm.Reset()
		if err != nil {
			return fmt.Errorf("features: backbone: %w", err)
		}
	}
	return nil
}

// Extractor is a frozen network over normalised images [n, 3, H, W]
// (models.FeatureExtractor, the ResNet-10).
type Extractor interface {
	Extract(images, out []float32) error
}

// Normalized is a Backbone over an Extractor: images in [0, 1] are
// normalised per channel, (x − Mean)/Std (ImageNet's statistics,
// preprocess.ImageNetMean/Std, for helper2424/resnet10 as HIL-SERL feeds
// it), then run through the network.
type Normalized struct {
	Net       Extractor
	Mean, Std [3]float32
	buf       []float32
}

// Features implements Backbone.
func (b *Normalized) Features(dst, images []float32, n int) error {
	if n < 1 || len(images)%(3*n) != 0 {
		return fmt.Errorf("features: %d image values for %d images", len(images), n)
	}
	if cap(b.buf) < len(images) {
		b.buf = make([]float32, len(images))
	}
	x, plane := b.buf[:len(images)], len(images)/(3*n)
	for i := 0; i < 3*n; i++ {
		c := i % 3
		m, inv := b.Mean[c], 1/b.Std[c]
		src, out := images[i*plane:(i+1)*plane], x[i*plane:(i+1)*plane]
		for j, v := range src {
			out[j] = (v - m) * inv
		}
	}
	return b.Net.Extract(x, dst)
}
