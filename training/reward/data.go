package reward

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/e2hil/e2hil/dataset"
	"github.com/e2hil/e2hil/models/preprocess"
)

// RewardFeature is the label column: a frame is a success when next.reward
// > 0.5 (LeRobot trains on next.reward; with sparse rewards, 1 on success
// and 0 otherwise, the two agree).
const RewardFeature = "next.reward"

// Frames is a labelled set of camera frames held in memory as bytes
// (H×W×3 per frame and camera, at the classifier's size).
type Frames struct {
	Cameras []string
	H, W    int
	Pix     [][]uint8 // per camera: frame after frame
	Labels  []float32 // 0 or 1
	Episode []int     // dataset episode of each frame
}

// Len is the number of frames.
func (f *Frames) Len() int { return len(f.Labels) }

// ImageFeatures lists a dataset's camera features (image or video dtype),
// sorted by name.
func ImageFeatures(info dataset.Info) []string {
	var out []string
	for _, ft := range info.Features {
		if ft.Dtype == "image" || ft.Dtype == "video" {
			out = append(out, ft.Name)
		}
	}
	sort.Strings(out)
	return out
}

// LoadFrames reads every frame of the dataset at root: the cameras' pictures
// (video frames decoded at the episode's timestamps), resized to h×w with
// torch's antialiased bilinear resize when they differ, and the labels.
// progress, if not nil, is called after each episode.
func LoadFrames(ctx context.Context, root string, cameras []string, h, w int, progress func(done, total int)) (*Frames, error) {
	d, err := dataset.Open(root)
	if err != nil {
		return nil, err
	}
	f := &Frames{Cameras: cameras, H: h, W: w, Pix: make([][]uint8, len(cameras))}
	kinds := make([]string, len(cameras))
	for i, c := range cameras {
		ft, ok := d.Info.Feature(c)
		if !ok || (ft.Dtype != "image" && ft.Dtype != "video") {
			return nil, fmt.Errorf("reward: dataset %s has no camera feature %q (cameras: %s)", root, c, strings.Join(ImageFeatures(d.Info), ", "))
		}
		kinds[i] = ft.Dtype
	}
	if _, ok := d.Info.Feature(RewardFeature); !ok {
		return nil, fmt.Errorf("reward: dataset %s has no %s feature to label frames with", root, RewardFeature)
	}
	pre := map[[2]int]*preprocess.Preprocessor{}
	buf := make([]float32, 3*h*w)
	for ep := range d.Episodes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := d.ReadEpisode(ep)
		if err != nil {
			return nil, err
		}
		rewards := data.Values[RewardFeature]
		if len(rewards) != len(data.Timestamp) {
			return nil, fmt.Errorf("reward: dataset %s episode %d: %d %s values for %d frames", root, ep, len(rewards), RewardFeature, len(data.Timestamp))
		}
		ts := make([]float64, len(data.Timestamp))
		for i, t := range data.Timestamp {
			ts[i] = float64(t)
		}
		for ci, c := range cameras {
			var pics []dataset.RGB
			if kinds[ci] == "video" {
				if pics, err = d.VideoFrames(ctx, c, ep, ts); err != nil {
					return nil, err
				}
			} else {
				for i, b := range data.Images[c] {
					p, err := decodePNG(b)
					if err != nil {
						return nil, fmt.Errorf("reward: dataset %s episode %d frame %d %s: %w", root, ep, i, c, err)
					}
					pics = append(pics, p)
				}
			}
			if len(pics) != len(ts) {
				return nil, fmt.Errorf("reward: dataset %s episode %d: %d %s pictures for %d frames", root, ep, len(pics), c, len(ts))
			}
			for _, p := range pics {
				if p.Width == w && p.Height == h {
					f.Pix[ci] = append(f.Pix[ci], p.Pix...)
					continue
				}
				key := [2]int{p.Height, p.Width}
				pp := pre[key]
				if pp == nil {
					if pp, err = preprocess.New(preprocess.Config{Height: h, Width: w}, p.Height, p.Width); err != nil {
						return nil, fmt.Errorf("reward: resize %s: %w", c, err)
					}
					pre[key] = pp
				}
				if err := pp.Apply(buf, p.Pix); err != nil {
					return nil, fmt.Errorf("reward: resize %s: %w", c, err)
				}
				n := h * w
				for j := range n { // CHW float → HWC bytes
					for k := range 3 {
						f.Pix[ci] = append(f.Pix[ci], uint8(math.Round(float64(min(max(buf[k*n+j], 0), 1))*255)))
					}
				}
			}
		}
		for _, r := range rewards {
			l := float32(0)
			if r > 0.5 {
				l = 1
			}
			f.Labels = append(f.Labels, l)
			f.Episode = append(f.Episode, ep)
		}
		if progress != nil {
			progress(ep+1, len(d.Episodes))
		}
	}
	return f, nil
}

func decodePNG(b []byte) (dataset.RGB, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return dataset.RGB{}, err
	}
	r := img.Bounds()
	out := dataset.RGB{Width: r.Dx(), Height: r.Dy(), Pix: make([]byte, 0, 3*r.Dx()*r.Dy())}
	rgba, ok := img.(*image.RGBA)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if ok {
				o := rgba.PixOffset(x, y)
				out.Pix = append(out.Pix, rgba.Pix[o], rgba.Pix[o+1], rgba.Pix[o+2])
				continue
			}
			cr, cg, cb, _ := img.At(x, y).RGBA()
			out.Pix = append(out.Pix, uint8(cr>>8), uint8(cg>>8), uint8(cb>>8))
		}
	}
	return out, nil
}

// Fill writes frames idx as classifier input: per camera [len(idx), 3, H, W]
// floats in [0, 1] (CHW, as LeRobot hands images to policies), and their
// labels.
func (f *Frames) Fill(idx []int, images [][]float32, labels []float32) {
	n := f.H * f.W
	for ci := range f.Cameras {
		dst := images[ci]
		for bi, fi := range idx {
			src := f.Pix[ci][fi*3*n : (fi+1)*3*n]
			out := dst[bi*3*n : (bi+1)*3*n]
			for j := range n {
				out[j] = float32(src[3*j]) / 255
				out[n+j] = float32(src[3*j+1]) / 255
				out[2*n+j] = float32(src[3*j+2]) / 255
			}
		}
	}
	for bi, fi := range idx {
		labels[bi] = f.Labels[fi]
	}
}

// SplitByEpisode puts the frames of a seeded random valFraction of the
// episodes (at least one when there are two or more) in validation, the
// rest in training, so that no episode is seen by both.
func (f *Frames) SplitByEpisode(valFraction float64, seed uint64) (train, val []int) {
	seen := map[int]bool{}
	var eps []int
	for _, e := range f.Episode {
		if !seen[e] {
			seen[e] = true
			eps = append(eps, e)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5e1))
	rng.Shuffle(len(eps), func(i, j int) { eps[i], eps[j] = eps[j], eps[i] })
	nv := int(math.Round(valFraction * float64(len(eps))))
	if nv == 0 && valFraction > 0 && len(eps) >= 2 {
		nv = 1
	}
	isVal := map[int]bool{}
	for _, e := range eps[:nv] {
		isVal[e] = true
	}
	for i, e := range f.Episode {
		if isVal[e] {
			val = append(val, i)
		} else {
			train = append(train, i)
		}
	}
	return train, val
}

// Metrics are binary classification metrics at threshold 0.5, in percent
// for accuracy (LeRobot's "accuracy") and fractions for the rest.
type Metrics struct {
	Loss      float64 `json:"loss"`
	Accuracy  float64 `json:"accuracy"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Correct   int     `json:"correct"`
	Total     int     `json:"total"`
	Positives int     `json:"positives"`
}

// Evaluate computes the metrics of logits against labels (mean BCE loss).
func Evaluate(logits, labels []float32) Metrics {
	var m Metrics
	var tp, fp, fn int
	for i, z := range logits {
		y := labels[i]
		x := float64(z)
		m.Loss += math.Max(x, 0) - x*float64(y) + math.Log1p(math.Exp(-math.Abs(x)))
		pred, pos := z > 0, y > 0.5
		if pred == pos {
			m.Correct++
		}
		if pos {
			m.Positives++
		}
		switch {
		case pred && pos:
			tp++
		case pred && !pos:
			fp++
		case !pred && pos:
			fn++
		}
	}
	m.Total = len(logits)
	if m.Total > 0 {
		m.Loss /= float64(m.Total)
		m.Accuracy = 100 * float64(m.Correct) / float64(m.Total)
	}
	if tp+fp > 0 {
		m.Precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		m.Recall = float64(tp) / float64(tp+fn)
	}
	if m.Precision+m.Recall > 0 {
		m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
	}
	return m
}

func openDataset(root string) (dataset.Info, error) {
	d, err := dataset.Open(root)
	if err != nil {
		return dataset.Info{}, err
	}
	return d.Info, nil
}
