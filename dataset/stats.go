package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Stats are one feature's statistics (spec §5), each a vector of the
// feature's dim values (images, later: 3 values of shape (3,1,1)).
type Stats struct {
	Min, Max, Mean, Std []float64
	Count               int64
	// Quantiles of v3.0, estimated as LeRobot does; nil in v2.1 stats.
	Q01, Q10, Q50, Q90, Q99 []float64
}

// quantileLevels are LeRobot's DEFAULT_QUANTILES, keyed as f"q{int(q*100):02d}".
var quantileLevels = [...]struct {
	key string
	q   float64
}{{"q01", 0.01}, {"q10", 0.10}, {"q50", 0.50}, {"q90", 0.90}, {"q99", 0.99}}

// numQuantileBins is RunningQuantileStats' num_quantile_bins.
const numQuantileBins = 5000

func (s *Stats) quantile(key string) *[]float64 {
	switch key {
	case "q01":
		return &s.Q01
	case "q10":
		return &s.Q10
	case "q50":
		return &s.Q50
	case "q90":
		return &s.Q90
	case "q99":
		return &s.Q99
	}
	return nil
}

// statKind says how min and max are typed: LeRobot converts its numpy stats
// with .tolist() before writing, so float features give doubles, integer
// features Python ints (int64) and bool features Python bools (spec §3.3).
type statKind int

const (
	kindFloat statKind = iota
	kindInt
	kindBool
)

func minMaxKind(dtype string) statKind {
	switch dtype {
	case "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64":
		return kindInt
	case "bool":
		return kindBool
	}
	return kindFloat
}

// statNames is the order of the stats keys in every file LeRobot writes:
// v3.0 adds the quantiles, v2.1 (and datasets converted from it) has none.
func statNames(quantiles bool) []string {
	names := []string{"min", "max", "mean", "std", "count"}
	if quantiles {
		for _, q := range quantileLevels {
			names = append(names, q.key)
		}
	}
	return names
}

// computeStats is compute_episode_stats for one numeric feature (spec §5):
// values are row-major n × dim; reduce over frames, per dimension. Sums are
// accumulated in float64 (LeRobot sums float32 features in float32, so means
// and stds of those differ from LeRobot's in the 6th-7th digit). Quantiles
// follow RunningQuantileStats fed one batch; f32 says the values are float32.
func computeStats(values []float64, dim int, f32 bool) Stats {
	n := len(values) / dim
	s := Stats{
		Min:   make([]float64, dim),
		Max:   make([]float64, dim),
		Mean:  make([]float64, dim),
		Std:   make([]float64, dim),
		Count: int64(n),
	}
	for _, q := range quantileLevels {
		*s.quantile(q.key) = make([]float64, dim)
	}
	col := make([]float64, n)
	for d := 0; d < dim; d++ {
		for i := range col {
			col[i] = values[i*dim+d]
		}
		lo, hi, sum := col[0], col[0], 0.0
		for _, x := range col {
			lo, hi, sum = math.Min(lo, x), math.Max(hi, x), sum+x
		}
		mean := sum / float64(n)
		var ss float64
		for _, x := range col {
			ss += (x - mean) * (x - mean)
		}
		s.Min[d], s.Max[d], s.Mean[d], s.Std[d] = lo, hi, mean, math.Sqrt(ss/float64(n))
		// With fewer than 2 samples LeRobot sets every quantile to the mean
		// (_compute_basic_stats).
		qs := []float64{mean, mean, mean, mean, mean}
		if n >= 2 {
			qs = histogramQuantiles(col, lo, hi, f32)
		}
		for i, q := range quantileLevels {
			(*s.quantile(q.key))[d] = qs[i]
		}
	}
	return s
}

// histogramQuantiles reproduces RunningQuantileStats (lerobot
// datasets/compute_stats.py, v3.0) for one batch: numpy.linspace edges over
// [min-1e-10, max+1e-10], numpy.histogram counts, then for each quantile the
// bin where the cumulative count reaches q·n and a linear interpolation inside
// it. With float32 data NumPy 2 computes the edges in float32 (the Python
// float 1e-10 is a "weak" scalar, NEP 50), so f32 does the same; the
// interpolation is float64 either way. The explicit conversions stop the
// compiler from fusing multiply-adds, so the edges equal numpy's bit for bit.
func histogramQuantiles(col []float64, lo, hi float64, f32 bool) []float64 {
	return weightedHistogramQuantiles(col, nil, lo, hi, f32)
}

// weightedHistogramQuantiles is histogramQuantiles over values[i] occurring
// weights[i] times (once each when weights is nil).
func weightedHistogramQuantiles(col, weights []float64, lo, hi float64, f32 bool) []float64 {
	const bins = numQuantileBins
	edges := make([]float64, bins+1)
	if f32 {
		start, stop := float32(lo)-float32(1e-10), float32(hi)+float32(1e-10)
		delta := float32(stop - start)
		step := float32(delta / bins)
		for i := range edges {
			if step == 0 {
				edges[i] = float64(float32(float32(float32(i)/bins)*delta) + start)
			} else {
				edges[i] = float64(float32(float32(i)*step) + start)
			}
		}
		edges[bins] = float64(stop)
	} else {
		start, stop := lo-1e-10, hi+1e-10
		delta := stop - start
		step := delta / bins
		for i := range edges {
			if step == 0 { // numpy's denormal branch: (i/div)*delta
				edges[i] = float64(float64(i)/bins*delta) + start
			} else {
				edges[i] = float64(float64(i)*step) + start
			}
		}
		edges[bins] = stop
	}

	// np.histogram with explicit edges: bin i holds edges[i] <= x < edges[i+1],
	// the last bin also x == edges[bins]; values outside are dropped.
	hist := make([]float64, bins)
	inner := edges[1:bins]
	n := 0.0
	for i, x := range col {
		w := 1.0
		if weights != nil {
			w = weights[i]
		}
		n += w
		if w == 0 || x < edges[0] || x > edges[bins] {
			continue
		}
		hist[sort.Search(len(inner), func(j int) bool { return inner[j] > x })] += w
	}
	cumsum := make([]float64, bins)
	var c float64
	for i, h := range hist {
		c += h
		cumsum[i] = c
	}
	out := make([]float64, len(quantileLevels))
	for k, q := range quantileLevels {
		target := q.q * n
		idx := sort.SearchFloat64s(cumsum, target) // np.searchsorted(side="left")
		switch {
		case idx == 0:
			out[k] = edges[0]
		case idx >= bins:
			out[k] = edges[bins]
		default:
			before := cumsum[idx-1]
			inBin := cumsum[idx] - before
			if inBin == 0 {
				out[k] = edges[idx]
				continue
			}
			fraction := (target - before) / inBin
			width := edges[idx+1] - edges[idx]
			if f32 {
				width = float64(float32(width))
			}
			out[k] = edges[idx] + float64(fraction*width)
		}
	}
	return out
}

// aggregateStats is LeRobot's aggregate_feature_stats (spec §5): min of mins,
// max of maxes, count-weighted mean, parallel-variance std, summed count, and
// count-weighted mean of the quantiles (lerobot 0.4.0 to 0.6.1).
func aggregateStats(list []Stats) (Stats, error) {
	if len(list) == 0 {
		return Stats{}, errors.New("no stats to aggregate")
	}
	dim := len(list[0].Mean)
	var total float64
	for i, s := range list {
		if len(s.Mean) != dim || len(s.Min) != dim || len(s.Max) != dim || len(s.Std) != dim {
			return Stats{}, fmt.Errorf("stats %d have %d values, the first have %d", i, len(s.Mean), dim)
		}
		total += float64(s.Count)
	}
	if total == 0 {
		return Stats{}, errors.New("total count is 0")
	}
	out := Stats{
		Min:  append([]float64(nil), list[0].Min...),
		Max:  append([]float64(nil), list[0].Max...),
		Mean: make([]float64, dim),
		Std:  make([]float64, dim),
	}
	for _, s := range list {
		out.Count += s.Count
		for d := 0; d < dim; d++ {
			out.Min[d] = math.Min(out.Min[d], s.Min[d])
			out.Max[d] = math.Max(out.Max[d], s.Max[d])
			out.Mean[d] += s.Mean[d] * float64(s.Count)
		}
	}
	for d := range out.Mean {
		out.Mean[d] /= total
	}
	for _, s := range list {
		for d := 0; d < dim; d++ {
			delta := s.Mean[d] - out.Mean[d]
			out.Std[d] += (s.Std[d]*s.Std[d] + delta*delta) * float64(s.Count)
		}
	}
	for d := range out.Std {
		out.Std[d] = math.Sqrt(out.Std[d] / total)
	}
	for _, q := range quantileLevels {
		agg := make([]float64, dim)
		complete := true
		for _, s := range list {
			v := *s.quantile(q.key)
			if len(v) != dim {
				complete = false
				break
			}
			for d := range agg {
				agg[d] += v[d] * float64(s.Count)
			}
		}
		if !complete {
			continue
		}
		for d := range agg {
			agg[d] /= total
		}
		*out.quantile(q.key) = agg
	}
	return out, nil
}

// statsJSON is one feature's entry of stats.json or episodes_stats.jsonl;
// image and video stats are nested (3, 1, 1) as numpy's tolist() writes them.
func (s Stats) statsJSON(f Feature) obj {
	kind := minMaxKind(f.Dtype)
	shape := func(v any) any {
		if !f.isVisual() {
			return v
		}
		vals, _ := v.([]float64)
		out := make([]any, len(vals))
		for i, x := range vals {
			out[i] = []any{[]any{x}}
		}
		return out
	}
	o := obj{
		{"min", shape(minMaxJSON(s.Min, kind))},
		{"max", shape(minMaxJSON(s.Max, kind))},
		{"mean", shape(s.Mean)},
		{"std", shape(s.Std)},
		{"count", []int64{s.Count}},
	}
	for _, q := range quantileLevels {
		if v := *s.quantile(q.key); v != nil {
			o = append(o, member{q.key, shape(v)})
		}
	}
	return o
}

// withoutQuantiles drops the v3.0 quantiles (v2.1 stores none).
func (s Stats) withoutQuantiles() Stats {
	s.Q01, s.Q10, s.Q50, s.Q90, s.Q99 = nil, nil, nil, nil, nil
	return s
}

// hasQuantiles reports whether all five quantiles are present.
func (s Stats) hasQuantiles() bool {
	return s.Q01 != nil && s.Q10 != nil && s.Q50 != nil && s.Q90 != nil && s.Q99 != nil
}

func minMaxJSON(v []float64, kind statKind) any {
	switch kind {
	case kindInt:
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out
	case kindBool:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = x != 0
		}
		return out
	}
	return v
}

// encodeStatsJSON renders meta/stats.json (spec §3.4) for the features that
// have stats, in feature order, with json.dump(indent=4).
func encodeStatsJSON(features []Feature, stats map[string]Stats) ([]byte, error) {
	o := obj{}
	for _, f := range features {
		s, ok := stats[f.Name]
		if !ok {
			continue
		}
		o = append(o, member{f.Name, s.statsJSON(f)})
	}
	b, err := pyJSON{indent: 4}.marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode stats.json: %w", err)
	}
	return b, nil
}

// ParseStats parses meta/stats.json: {feature: {stat: nested list}}. Nested
// lists (image stats of shape (3,1,1)) are flattened; booleans read as 0/1.
func ParseStats(data []byte) (map[string]Stats, error) {
	v, err := decodeOrdered(data)
	if err != nil {
		return nil, fmt.Errorf("stats.json: %w", err)
	}
	out, err := parseStatsObject(v)
	if err != nil {
		return nil, fmt.Errorf("stats.json: %w", err)
	}
	return out, nil
}

// parseStatsObject reads {feature: {stat: nested list}}.
func parseStatsObject(v any) (map[string]Stats, error) {
	top, ok := v.(obj)
	if !ok {
		return nil, fmt.Errorf("top level is %s, want an object", jsonKind(v))
	}
	out := make(map[string]Stats, len(top))
	for _, m := range top {
		fo, ok := m.val.(obj)
		if !ok {
			return nil, fmt.Errorf("%s: is %s, want an object", m.key, jsonKind(m.val))
		}
		var s Stats
		for _, sm := range fo {
			vals, err := flattenNumbers(sm.val, 0)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", m.key, sm.key, err)
			}
			if err := s.set(sm.key, vals); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", m.key, sm.key, err)
			}
		}
		out[m.key] = s
	}
	return out, nil
}

// set stores one named statistic; unknown names are ignored, as LeRobot's
// loader keeps but does not use them.
func (s *Stats) set(name string, vals []float64) error {
	switch name {
	case "min":
		s.Min = vals
	case "max":
		s.Max = vals
	case "mean":
		s.Mean = vals
	case "std":
		s.Std = vals
	case "count":
		if len(vals) != 1 {
			return fmt.Errorf("count has %d values, want 1", len(vals))
		}
		s.Count = int64(vals[0])
	default:
		if q := s.quantile(name); q != nil {
			*q = vals
		}
	}
	return nil
}

// flattenNumbers flattens a scalar or nested list of numbers/booleans.
func flattenNumbers(v any, depth int) ([]float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, err
		}
		return []float64{f}, nil
	case bool:
		if x {
			return []float64{1}, nil
		}
		return []float64{0}, nil
	case []any:
		if depth > 8 {
			return nil, errors.New("nested too deep")
		}
		var out []float64
		for i, e := range x {
			f, err := flattenNumbers(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out = append(out, f...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("is %s, want numbers", jsonKind(v))
}
