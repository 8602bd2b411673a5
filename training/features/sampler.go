package features

import (
	"fmt"
	"math/rand/v2"

	"github.com/e2hil/e2hil/training/replay"
)

// Source fills a batch (a replay buffer or an online/offline mix).
type Source interface {
	Sample(rng *rand.Rand, out *replay.Batch) error
}

// Sampler is the uncached mode: it samples transitions with their images
// from Source (buffers in the Images format), shifts every observation and
// next observation by its own DrQ shift (shift set), and runs the backbone
// on the batch to fill out.Features and out.NextFeatures. A batch costs
// 2·cameras·Size backbone passes.
type Sampler struct {
	src      Source
	backbone Backbone
	cams     []Camera
	shift    bool
	img      []float32
}

// NewSampler wraps src.
func NewSampler(src Source, backbone Backbone, cams []Camera, shift bool) *Sampler {
	return &Sampler{src: src, backbone: backbone, cams: cams, shift: shift}
}

// Sample implements the learner's Sampler.
func (s *Sampler) Sample(rng *rand.Rand, out *replay.Batch) error {
	if len(out.Features) != len(s.cams) {
		return fmt.Errorf("features: batch has features of %d cameras, want %d", len(out.Features), len(s.cams))
	}
	if len(out.Images) != len(s.cams) {
		sizes := make([]int, len(s.cams))
		for i, c := range s.cams {
			sizes[i] = c.ImageSize()
		}
		out.WithImages(sizes)
	}
	if err := s.src.Sample(rng, out); err != nil {
		return err
	}
	for c, cam := range s.cams {
		n := cam.ImageSize()
		if len(s.img) < out.Size*n {
			s.img = make([]float32, out.Size*n)
		}
		for _, side := range []struct {
			images []uint8
			dst    []float32
		}{{out.Images[c], out.Features[c]}, {out.NextImages[c], out.NextFeatures[c]}} {
			for r := 0; r < out.Size; r++ {
				var sh Shift
				if s.shift {
					sh = RandomShift(rng)
				}
				if err := ToCHW(s.img[r*n:(r+1)*n], side.images[r*n:(r+1)*n], cam.Height, cam.Width, sh); err != nil {
					return err
				}
			}
			if err := s.backbone.Features(side.dst, s.img[:out.Size*n], out.Size); err != nil {
				return fmt.Errorf("features: camera %d: %w", c, err)
			}
		}
	}
	return nil
}
