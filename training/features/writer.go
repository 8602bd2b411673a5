package features

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"github.com/e2hil/e2hil/training/replay"
)

// Writer adds transitions with camera images (uint8 HWC per camera) to a
// replay buffer. In a Features buffer (cached mode) it runs the backbone on
// each new observation once, on Copies versions of it: DrQ-shifted ones
// when shift is set (one is drawn per sampled observation), else the plain
// image (Copies must be 1). In an Images buffer it stores the images. An
// observation equal to the previous transition's next observation (the
// episode goes on) is stored once and encoded once.
//
// One Writer per buffer; not safe for concurrent use.
type Writer struct {
	buf      *replay.Buffer
	backbone Backbone
	cams     []Camera
	shift    bool
	copies   int
	format   replay.Format
	seed     uint64
	prev     [][]uint8 // images of the last next observation
	hasPrev  bool
	img      []float32
	obs      [][]float32
	next     [][]float32
}

// NewWriter writes to buf, whose camera sizes must match cams. backbone may
// be nil for an Images buffer. The DrQ shifts of an image are drawn from
// (seed, a hash of its pixels), so they do not depend on what was written
// before: a run resumed from a checkpoint caches the same copies.
func NewWriter(buf *replay.Buffer, backbone Backbone, cams []Camera, shift bool, seed uint64) (*Writer, error) {
	oc := buf.Observations()
	if oc == nil {
		return nil, fmt.Errorf("features: the buffer has no cameras")
	}
	if len(oc.Sizes) != len(cams) {
		return nil, fmt.Errorf("features: the buffer has %d cameras, the writer %d", len(oc.Sizes), len(cams))
	}
	w := &Writer{buf: buf, backbone: backbone, cams: cams, shift: shift, copies: oc.Copies, format: oc.Format,
		seed: seed, prev: make([][]uint8, len(cams))}
	for i, c := range cams {
		want := c.FeatureSize
		if oc.Format == replay.Images {
			want = c.ImageSize()
		}
		if oc.Sizes[i] != want {
			return nil, fmt.Errorf("features: camera %d: the buffer stores %d values, the camera has %d", i, oc.Sizes[i], want)
		}
	}
	if oc.Format == replay.Features {
		if backbone == nil {
			return nil, fmt.Errorf("features: a feature cache needs a backbone")
		}
		if !shift && oc.Copies != 1 {
			return nil, fmt.Errorf("features: %d copies of unshifted features would be identical", oc.Copies)
		}
		maxImg := 0
		for _, c := range cams {
			maxImg = max(maxImg, c.ImageSize())
			w.obs = append(w.obs, make([]float32, w.copies*c.FeatureSize))
			w.next = append(w.next, make([]float32, w.copies*c.FeatureSize))
		}
		w.img = make([]float32, w.copies*maxImg)
	}
	return w, nil
}

// Add stores t with its observation's and next observation's images.
func (w *Writer) Add(t replay.Transition, obs, next [][]uint8) error {
	if len(obs) != len(w.cams) || len(next) != len(w.cams) {
		return fmt.Errorf("features: %d and %d camera images, want %d", len(obs), len(next), len(w.cams))
	}
	for i, c := range w.cams {
		if len(obs[i]) != c.ImageSize() || len(next[i]) != c.ImageSize() {
			return fmt.Errorf("features: camera %d images of %d and %d bytes, want 3×%d×%d", i, len(obs[i]), len(next[i]), c.Height, c.Width)
		}
	}
	shared := w.hasPrev
	for i := range obs {
		shared = shared && bytes.Equal(obs[i], w.prev[i])
	}
	var err error
	if w.format == replay.Images {
		var o *replay.Observation
		if !shared {
			o = &replay.Observation{Images: obs}
		}
		err = w.buf.AddObservations(t, o, replay.Observation{Images: next})
	} else {
		var o [][]float32
		if !shared {
			if err := w.encode(w.obs, obs); err != nil {
				return err
			}
			o = w.obs
		}
		if err := w.encode(w.next, next); err != nil {
			return err
		}
		err = w.buf.AddFeatures(t, o, w.next)
	}
	if err != nil {
		w.hasPrev = false
		return err
	}
	for i := range next {
		w.prev[i] = append(w.prev[i][:0], next[i]...)
	}
	w.hasPrev = true
	return nil
}

// encode fills dst[c] with Copies feature maps of camera c's image.
func (w *Writer) encode(dst [][]float32, images [][]uint8) error {
	for c, cam := range w.cams {
		n := cam.ImageSize()
		var rng *rand.Rand
		if w.shift {
			h := fnv.New64a()
			h.Write(images[c])
			rng = rand.New(rand.NewPCG(w.seed, h.Sum64()))
		}
		for k := 0; k < w.copies; k++ {
			var s Shift
			if w.shift {
				s = RandomShift(rng)
			}
			if err := ToCHW(w.img[k*n:(k+1)*n], images[c], cam.Height, cam.Width, s); err != nil {
				return err
			}
		}
		if err := w.backbone.Features(dst[c], w.img[:w.copies*n], w.copies); err != nil {
			return fmt.Errorf("features: camera %d: %w", c, err)
		}
	}
	return nil
}
