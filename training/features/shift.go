// Package features turns camera images into what the SAC learner trains on:
// the frozen backbone's feature maps, computed once per observation when a
// transition arrives (cached mode, Writer) or per batch from stored images
// (uncached mode, Sampler), with DrQ's random shift (Kostrikov et al. 2020;
// HILSERL.md §9) as the augmentation. It runs a backbone but does not define
// one (package models does), and it stores nothing itself (package replay
// does).
package features

import (
	"fmt"
	"math/rand/v2"
)

// Pad is DrQ's shift range: LeRobot's random_shift pads 4 pixels by
// replication and crops back at a random offset, a shift of −4…4 pixels on
// each axis.
const Pad = 4

// Shift is one DrQ translation: the output pixel (y, x) is the input pixel
// (y+DY, x+DX) clamped to the image (replicate padding then crop at top-left
// offset (Pad+DY, Pad+DX) of the padded image).
type Shift struct{ DY, DX int }

// RandomShift draws a shift as LeRobot's random_crop_vectorized does: crop
// offsets uniform in 0…2·Pad on each axis.
func RandomShift(rng *rand.Rand) Shift {
	return Shift{DY: rng.IntN(2*Pad+1) - Pad, DX: rng.IntN(2*Pad+1) - Pad}
}

// unit[v] is float32(v)/255, as torch's image.float() / 255.
var unit = func() (t [256]float32) {
	for v := range t {
		t[v] = float32(v) / 255
	}
	return t
}()

// ToCHW writes an HWC uint8 image (3·h·w bytes) shifted by s into dst as
// float32 CHW in [0, 1] (x/255), the backbone's input layout. Shift{} is
// the plain conversion.
func ToCHW(dst []float32, src []uint8, h, w int, s Shift) error {
	if len(src) != 3*h*w || len(dst) != 3*h*w {
		return fmt.Errorf("features: image of %d bytes into %d values, want 3×%d×%d", len(src), len(dst), h, w)
	}
	if s.DY < -Pad || s.DY > Pad || s.DX < -Pad || s.DX > Pad {
		return fmt.Errorf("features: shift %+v beyond ±%d", s, Pad)
	}
	plane := h * w
	for y := 0; y < h; y++ {
		sy := min(max(y+s.DY, 0), h-1)
		row := src[sy*w*3 : (sy+1)*w*3]
		r, g, b := dst[y*w:(y+1)*w], dst[plane+y*w:plane+(y+1)*w], dst[2*plane+y*w:2*plane+(y+1)*w]
		for x := 0; x < w; x++ {
			sx := min(max(x+s.DX, 0), w-1) * 3
			r[x] = unit[row[sx]]
			g[x] = unit[row[sx+1]]
			b[x] = unit[row[sx+2]]
		}
	}
	return nil
}
