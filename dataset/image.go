package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
)

// RGB is a picture of an image or video feature: Height × Width × 3 bytes,
// row-major, channels interleaved (HWC). In a Frame, image and video
// features take an RGB, a *RGB, []byte in this layout, or any image.Image of
// the feature's size.
type RGB struct {
	Width, Height int
	Pix           []byte
}

// CHW returns the picture as LeRobot hands it to policies: float32,
// channel-first, in [0, 1] (spec §6.2).
func (p RGB) CHW() []float32 {
	n := p.Width * p.Height
	out := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		out[i] = float32(p.Pix[3*i]) / 255
		out[n+i] = float32(p.Pix[3*i+1]) / 255
		out[2*n+i] = float32(p.Pix[3*i+2]) / 255
	}
	return out
}

// Image returns the picture as an *image.RGBA.
func (p RGB) Image() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, p.Width, p.Height))
	for i, j := 0, 0; i < len(p.Pix); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = p.Pix[i], p.Pix[i+1], p.Pix[i+2], 255
	}
	return img
}

// toRGB converts a frame value of an image or video feature to packed RGB24
// of the given size. The returned slice is a copy the caller owns.
func toRGB(v any, width, height int) ([]byte, error) {
	size := func(w, h int) error {
		if w != width || h != height {
			return fmt.Errorf("image is %dx%d (width x height), the feature is %dx%d", w, h, width, height)
		}
		return nil
	}
	n := width * height
	switch x := v.(type) {
	case []byte:
		if len(x) != 3*n {
			return nil, fmt.Errorf("want %d bytes (%dx%dx3 RGB, row-major), got %d", 3*n, height, width, len(x))
		}
		return append([]byte(nil), x...), nil
	case RGB:
		return toRGB(&x, width, height)
	case *RGB:
		if x == nil {
			return nil, fmt.Errorf("nil *RGB")
		}
		if err := size(x.Width, x.Height); err != nil {
			return nil, err
		}
		return toRGB(x.Pix, width, height)
	case image.Image:
		if x == nil {
			return nil, fmt.Errorf("nil image")
		}
		b := x.Bounds()
		if err := size(b.Dx(), b.Dy()); err != nil {
			return nil, err
		}
		out := make([]byte, 3*n)
		switch img := x.(type) {
		case *image.RGBA:
			for y := 0; y < height; y++ {
				row := img.Pix[(b.Min.Y-img.Rect.Min.Y+y)*img.Stride+(b.Min.X-img.Rect.Min.X)*4:]
				for xx := 0; xx < width; xx++ {
					o := (y*width + xx) * 3
					out[o], out[o+1], out[o+2] = row[4*xx], row[4*xx+1], row[4*xx+2]
				}
			}
		default:
			for y := 0; y < height; y++ {
				for xx := 0; xx < width; xx++ {
					c := color.NRGBAModel.Convert(x.At(b.Min.X+xx, b.Min.Y+y)).(color.NRGBA)
					o := (y*width + xx) * 3
					out[o], out[o+1], out[o+2] = c.R, c.G, c.B
				}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("want an image (RGB, image.Image or %dx%dx3 []byte), got %T", height, width, v)
}

// rgbImage wraps packed RGB24 as an image.Image for the PNG encoder.
type rgbImage struct {
	w, h int
	pix  []byte
}

func (r rgbImage) ColorModel() color.Model { return color.RGBAModel }
func (r rgbImage) Bounds() image.Rectangle { return image.Rect(0, 0, r.w, r.h) }
func (r rgbImage) At(x, y int) color.Color {
	i := (y*r.w + x) * 3
	return color.RGBA{r.pix[i], r.pix[i+1], r.pix[i+2], 255}
}

// encodePNG encodes packed RGB24 as an 8-bit RGB PNG, what PIL writes for
// LeRobot's image features (spec §4.3).
func encodePNG(rgb []byte, width, height int) ([]byte, error) {
	// image.RGBA with opaque alpha makes image/png write colour type 2 (RGB).
	img := RGB{Width: width, Height: height, Pix: rgb}.Image()
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeImage decodes the bytes of an image cell (any format image/png can
// read; LeRobot writes PNG) to packed RGB24.
func decodeImage(b []byte) (RGB, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return RGB{}, err
	}
	bounds := img.Bounds()
	out := RGB{Width: bounds.Dx(), Height: bounds.Dy()}
	out.Pix, err = toRGB(img, out.Width, out.Height)
	return out, err
}
