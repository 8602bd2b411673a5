// Package preprocess turns camera frames into the float tensors the models
// read, exactly as LeRobot's HIL-SERL observation pipeline does
// (VanillaObservationProcessorStep then ImageCropResizeProcessorStep, then
// the VISUAL normaliser): HWC uint8 RGB → CHW float32 in [0, 1] → region of
// interest crop → bilinear antialiased resize (torchvision's F.resize on a
// float tensor, the default antialias=True) → clamp to [0, 1] → optional
// per-channel (x − mean) / std.
//
// One implementation serves the actor (inference), the learner and the
// reward classifier's training, so what a policy sees at run time is what
// it was trained on.
package preprocess

import (
	"errors"
	"fmt"
	"math"
)

// Crop is a region of interest in source pixels, LeRobot's
// crop_params_dict entry [top, left, height, width].
type Crop struct {
	Top, Left, Height, Width int
}

// Config describes the transform of one camera. The zero value converts to
// CHW float in [0, 1] at the source size.
type Config struct {
	// Crop, when set, is applied first; it must lie inside the frame.
	Crop *Crop
	// Height, Width: the resize target (LeRobot's resize_size); 0, 0 keeps
	// the (cropped) size.
	Height, Width int
	// Mean, Std: per-channel normalisation after scaling to [0, 1]; both
	// nil for none (e.g. ImageNet's mean/std for the reward classifier).
	Mean, Std []float32
}

// ImageNet statistics, LeRobot's default for VISUAL MEAN_STD features when a
// pretrained backbone is used.
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// Validate checks the config against a srcH×srcW frame and names the
// offending field.
func (c Config) Validate(srcH, srcW int) error {
	var errs []error
	if srcH <= 0 || srcW <= 0 {
		errs = append(errs, fmt.Errorf("preprocess: source size %dx%d must be positive", srcH, srcW))
	}
	if c.Crop != nil {
		k := *c.Crop
		if k.Height <= 0 || k.Width <= 0 || k.Top < 0 || k.Left < 0 || k.Top+k.Height > srcH || k.Left+k.Width > srcW {
			errs = append(errs, fmt.Errorf("preprocess: crop [top %d, left %d, height %d, width %d] must lie inside the %dx%d frame",
				k.Top, k.Left, k.Height, k.Width, srcH, srcW))
		}
	}
	if (c.Height == 0) != (c.Width == 0) || c.Height < 0 || c.Width < 0 {
		errs = append(errs, fmt.Errorf("preprocess: resize %dx%d: give both height and width > 0, or neither", c.Height, c.Width))
	}
	if (c.Mean == nil) != (c.Std == nil) || (c.Mean != nil && (len(c.Mean) != 3 || len(c.Std) != 3)) {
		errs = append(errs, fmt.Errorf("preprocess: mean %v and std %v: give 3 values each, or neither", c.Mean, c.Std))
	}
	for i, s := range c.Std {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			errs = append(errs, fmt.Errorf("preprocess: std[%d] = %v must be finite and > 0", i, s))
		}
	}
	return errors.Join(errs...)
}

// Preprocessor applies one Config to frames of one source size. It keeps
// its resampling weights and scratch buffers, so Apply does not allocate;
// it is not safe for concurrent use (make one per goroutine).
type Preprocessor struct {
	cfg          Config
	srcH, srcW   int
	y0, x0       int // crop origin
	inH, inW     int // after crop
	outH, outW   int
	rows, cols   *axis // nil: no resampling on that axis
	tmp          []float32
	scale, shift [3]float32 // normalisation as x*scale + shift
	norm         bool
}

// New returns a Preprocessor for srcH×srcW frames.
func New(cfg Config, srcH, srcW int) (*Preprocessor, error) {
	if err := cfg.Validate(srcH, srcW); err != nil {
		return nil, err
	}
	p := &Preprocessor{cfg: cfg, srcH: srcH, srcW: srcW, inH: srcH, inW: srcW}
	if k := cfg.Crop; k != nil {
		p.y0, p.x0, p.inH, p.inW = k.Top, k.Left, k.Height, k.Width
	}
	p.outH, p.outW = p.inH, p.inW
	if cfg.Height > 0 {
		p.outH, p.outW = cfg.Height, cfg.Width
	}
	if p.outW != p.inW {
		p.cols = newAxis(p.inW, p.outW)
	}
	if p.outH != p.inH {
		p.rows = newAxis(p.inH, p.outH)
	}
	p.tmp = make([]float32, 3*p.inH*p.outW)
	if cfg.Mean != nil {
		p.norm = true
		for c := 0; c < 3; c++ {
			p.scale[c] = 1 / cfg.Std[c]
			p.shift[c] = -cfg.Mean[c] / cfg.Std[c]
		}
	}
	return p, nil
}

// OutSize is the height and width of the output.
func (p *Preprocessor) OutSize() (h, w int) { return p.outH, p.outW }

// Len is the number of floats Apply writes: 3·H·W.
func (p *Preprocessor) Len() int { return 3 * p.outH * p.outW }

// Apply writes the CHW float32 tensor of an HWC uint8 RGB frame into dst
// (len ≥ Len()).
func (p *Preprocessor) Apply(dst []float32, pix []uint8) error {
	if len(pix) != p.srcH*p.srcW*3 {
		return fmt.Errorf("preprocess: frame has %d bytes, want %d (%dx%dx3 HWC)", len(pix), p.srcH*p.srcW*3, p.srcH, p.srcW)
	}
	if len(dst) < p.Len() {
		return fmt.Errorf("preprocess: destination holds %d floats, want %d", len(dst), p.Len())
	}
	plane := p.outH * p.outW
	// Horizontal pass (torch resamples the contiguous axis first), all
	// three channels per source row: crop rows → tmp[c][inH][outW].
	for y := 0; y < p.inH; y++ {
		src := pix[((p.y0+y)*p.srcW+p.x0)*3 : ((p.y0+y)*p.srcW+p.x0+p.inW)*3]
		r := p.tmp[(0*p.inH+y)*p.outW : (0*p.inH+y+1)*p.outW]
		g := p.tmp[(1*p.inH+y)*p.outW : (1*p.inH+y+1)*p.outW]
		bl := p.tmp[(2*p.inH+y)*p.outW : (2*p.inH+y+1)*p.outW]
		if p.cols == nil {
			for x := range r {
				r[x], g[x], bl[x] = unit[src[3*x]], unit[src[3*x+1]], unit[src[3*x+2]]
			}
			continue
		}
		a := p.cols
		for x := range r {
			var sr, sg, sb float32
			px := src[a.start[x]*3:]
			for k, w := range a.w[a.off[x]:a.off[x+1]] {
				sr += w * unit[px[3*k]]
				sg += w * unit[px[3*k+1]]
				sb += w * unit[px[3*k+2]]
			}
			r[x], g[x], bl[x] = sr, sg, sb
		}
	}
	for c := 0; c < 3; c++ {
		out := dst[c*plane : (c+1)*plane]
		tmp := p.tmp[c*p.inH*p.outW : (c+1)*p.inH*p.outW]
		// Vertical pass: tmp → out.
		if p.rows == nil {
			copy(out, tmp)
		} else {
			a := p.rows
			for y := 0; y < p.outH; y++ {
				o := out[y*p.outW : (y+1)*p.outW]
				for x := range o {
					o[x] = 0
				}
				for k, w := range a.w[a.off[y]:a.off[y+1]] {
					in := tmp[(a.start[y]+k)*p.outW : (a.start[y]+k+1)*p.outW]
					for x, v := range in {
						o[x] += w * v
					}
				}
			}
		}
		sc, sh := p.scale[c], p.shift[c]
		for i, v := range out {
			v = min(max(v, 0), 1)
			if p.norm {
				v = v*sc + sh
			}
			out[i] = v
		}
	}
	return nil
}

// unit[v] is float32(v)/255, the ToTensor scaling.
var unit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return
}()

// axis holds the resampling taps of one axis: output i reads inputs
// start[i] … start[i]+n−1 with weights w[off[i]:off[i+1]].
type axis struct {
	start, off []int
	w          []float32
}

// newAxis computes torch's antialiased bilinear taps
// (aten/src/ATen/native/cpu/UpSampleKernel.cpp, _compute_indices_weights_aa
// with align_corners=False): support = max(scale, 1), a triangle filter
// stretched by the downscale factor, window clipped at the borders and
// renormalised (the same as PIL's BILINEAR resize).
func newAxis(in, out int) *axis {
	scale := float32(in) / float32(out)
	support := float32(1)
	invscale := float32(1)
	if scale >= 1 {
		support, invscale = scale, 1/scale
	}
	a := &axis{start: make([]int, out), off: make([]int, out+1)}
	for i := 0; i < out; i++ {
		center := scale * (float32(i) + 0.5)
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), in)
		var total float32
		first := len(a.w)
		for j := xmin; j < xmax; j++ {
			x := (float32(j) - center + 0.5) * invscale
			if x < 0 {
				x = -x
			}
			w := float32(0)
			if x < 1 {
				w = 1 - x
			}
			a.w = append(a.w, w)
			total += w
		}
		if total != 0 {
			for k := first; k < len(a.w); k++ {
				a.w[k] /= total
			}
		}
		a.start[i] = xmin
		a.off[i+1] = len(a.w)
	}
	return a
}
