package dataset

import (
	"math"
)

// Statistics of image and video features (spec §5): LeRobot samples
// estimate_num_samples(n) frames of the episode at round(linspace(0, n−1, k)),
// downsamples frames whose larger side is ≥ 300 by int(side/150), and
// computes per-channel min, max, mean, std and quantiles over every pixel of
// the samples, divided by 255; count is the number of sampled frames.
//
// Pixels are bytes, so a frame is summarised exactly by a 256-bin histogram
// per channel, kept for every frame as it is added (3 KiB); the samples are
// picked when the episode's length is known. Every statistic LeRobot derives
// from the pixel values is a function of those counts.

// channelHist counts the pixel values of each of the 3 channels.
type channelHist [3][256]uint32

// frameHist histograms one RGB24 frame as compute_stats sees it.
func frameHist(rgb []byte, width, height int) *channelHist {
	step := 1
	if max(width, height) >= 300 { // auto_downsample_height_width
		if width > height {
			step = width / 150
		} else {
			step = height / 150
		}
	}
	h := new(channelHist)
	for y := 0; y < height; y += step {
		row := rgb[y*width*3:]
		for x := 0; x < width; x += step {
			h[0][row[3*x]]++
			h[1][row[3*x+1]]++
			h[2][row[3*x+2]]++
		}
	}
	return h
}

// estimateNumSamples is compute_stats.estimate_num_samples.
func estimateNumSamples(n int) int {
	minSamples := 100
	if n < minSamples {
		minSamples = n
	}
	return max(minSamples, min(int(math.Pow(float64(n), 0.75)), 10000))
}

// sampleIndices is compute_stats.sample_indices:
// np.round(np.linspace(0, n−1, k)).astype(int), with NumPy's
// round-half-to-even.
func sampleIndices(n int) []int {
	k := estimateNumSamples(n)
	out := make([]int, k)
	if k == 1 {
		return out
	}
	step := float64(n-1) / float64(k-1)
	for i := range out {
		v := float64(i) * step
		if i == k-1 {
			v = float64(n - 1) // linspace sets the endpoint exactly
		}
		out[i] = int(math.RoundToEven(v))
	}
	return out
}

// imageStats computes an image or video feature's stats for an episode from
// the histograms of its frames; quantiles as RunningQuantileStats computes
// them on float32 pixels (v3.0), or none (v2.1).
func imageStats(frames []*channelHist, quantiles bool) Stats {
	idx := sampleIndices(len(frames))
	var total channelHist
	for _, i := range idx {
		for c := range total {
			for v, n := range frames[i][c] {
				total[c][v] += n
			}
		}
	}
	s := Stats{
		Min: make([]float64, 3), Max: make([]float64, 3), Mean: make([]float64, 3), Std: make([]float64, 3),
		Count: int64(len(idx)),
	}
	if quantiles {
		for _, q := range quantileLevels {
			*s.quantile(q.key) = make([]float64, 3)
		}
	}
	values := make([]float64, 256)
	for v := range values {
		values[v] = float64(v)
	}
	for c := 0; c < 3; c++ {
		counts := make([]float64, 256)
		var n, sum, sumSq float64
		lo, hi := -1, -1
		for v, k := range total[c] {
			if k == 0 {
				continue
			}
			if lo < 0 {
				lo = v
			}
			hi = v
			counts[v] = float64(k)
			n += float64(k)
			sum += float64(k) * float64(v)
			sumSq += float64(k) * float64(v) * float64(v)
		}
		if n == 0 {
			continue
		}
		mean := sum / n
		s.Min[c], s.Max[c] = float64(lo)/255, float64(hi)/255
		s.Mean[c] = mean / 255
		s.Std[c] = math.Sqrt(math.Max(0, sumSq/n-mean*mean)) / 255
		if !quantiles {
			continue
		}
		qs := []float64{mean, mean, mean, mean, mean}
		if n >= 2 {
			qs = weightedHistogramQuantiles(values, counts, float64(lo), float64(hi), true)
		}
		for i, q := range quantileLevels {
			(*s.quantile(q.key))[c] = qs[i] / 255
		}
	}
	return s
}
