package dataset

import (
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow/array"
)

// column buffers one user feature's values for the episode being recorded
// and turns them into the feature's data-parquet column. There is one
// implementation per dtype; newColumn picks it from the feature's dtype and
// shape (images and videos: image.go, videocolumn.go).
type column interface {
	// prepare checks v, naming what was expected, and returns what add
	// takes (v itself, or v converted, e.g. an image to RGB bytes).
	prepare(v any) (any, error)
	// add appends one frame's prepared value. Only I/O can make it fail.
	add(p any) error
	// len is the number of frames buffered.
	len() int
	reset()
	// build appends the buffered frames to b, a builder of the feature's
	// arrowType. Video columns have no data column and are not built.
	build(b array.Builder) error
	// stats are the episode's statistics of the feature (spec §5); ok is
	// false when it has none (strings).
	stats(quantiles bool) (s Stats, ok bool)
}

func newColumn(f Feature) (column, error) {
	switch f.Dtype {
	case "image":
		return newImageColumn(f)
	case "video":
		return nil, fmt.Errorf("internal: video features use newVideoColumn")
	}
	if _, err := f.arrowType(); err != nil {
		return nil, err
	}
	d := f.dim()
	switch f.Dtype {
	case "float32":
		return &numColumn[float32]{dim: d, f32: true}, nil
	case "float64":
		return &numColumn[float64]{dim: d}, nil
	case "int64":
		return &numColumn[int64]{dim: d}, nil
	case "int32":
		return &numColumn[int32]{dim: d}, nil
	case "bool":
		return &boolColumn{dim: d}, nil
	case "string":
		return &stringColumn{}, nil
	}
	return nil, fmt.Errorf("%w %q", errUnsupportedDtype, f.Dtype)
}

type number interface {
	float32 | float64 | int32 | int64
}

// numColumn holds a numeric feature, row-major.
type numColumn[T number] struct {
	dim  int
	f32  bool // float32 values: quantile edges in float32, as NumPy computes them
	data []T
}

func (c *numColumn[T]) want() string {
	var zero T
	if c.dim == 1 {
		return fmt.Sprintf("%T or []%T of length 1", zero, zero)
	}
	return fmt.Sprintf("[]%T of length %d", zero, c.dim)
}

func (c *numColumn[T]) prepare(v any) (any, error) {
	switch x := v.(type) {
	case T:
		if c.dim != 1 {
			return nil, fmt.Errorf("want %s, got a single %T (%v)", c.want(), x, x)
		}
		return v, checkFinite(x)
	case []T:
		if len(x) != c.dim {
			return nil, fmt.Errorf("want %s, got length %d", c.want(), len(x))
		}
		for i, e := range x {
			if err := checkFinite(e); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return v, nil
	}
	return nil, fmt.Errorf("want %s, got %T (%s)", c.want(), v, shortValue(v))
}

func (c *numColumn[T]) add(v any) error {
	switch x := v.(type) {
	case T:
		c.data = append(c.data, x)
	case []T:
		c.data = append(c.data, x...)
	}
	return nil
}

func (c *numColumn[T]) len() int { return len(c.data) / c.dim }
func (c *numColumn[T]) reset()   { c.data = c.data[:0] }

func (c *numColumn[T]) build(b array.Builder) error {
	leaf := b
	if lb, ok := b.(*array.FixedSizeListBuilder); ok {
		lb.Reserve(c.len())
		for i := 0; i < c.len(); i++ {
			lb.Append(true)
		}
		leaf = lb.ValueBuilder()
	}
	return appendNumbers(leaf, c.data)
}

func (c *numColumn[T]) stats(quantiles bool) (Stats, bool) {
	out := make([]float64, len(c.data))
	for i, v := range c.data {
		out[i] = float64(v)
	}
	s := computeStats(out, c.dim, c.f32)
	if !quantiles {
		s = s.withoutQuantiles()
	}
	return s, true
}

// appendNumbers appends v to the primitive builder b of the same type.
func appendNumbers[T number](b array.Builder, v []T) error {
	switch bb := b.(type) {
	case *array.Float32Builder:
		if x, ok := any(v).([]float32); ok {
			bb.AppendValues(x, nil)
			return nil
		}
	case *array.Float64Builder:
		if x, ok := any(v).([]float64); ok {
			bb.AppendValues(x, nil)
			return nil
		}
	case *array.Int64Builder:
		if x, ok := any(v).([]int64); ok {
			bb.AppendValues(x, nil)
			return nil
		}
	case *array.Int32Builder:
		if x, ok := any(v).([]int32); ok {
			bb.AppendValues(x, nil)
			return nil
		}
	}
	return fmt.Errorf("internal: %T values for a %T", v, b)
}

// checkFinite rejects NaN and ±Inf: they would poison the statistics and
// cannot be written to stats.json.
func checkFinite[T number](x T) error {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("value %v is not finite", f)
	}
	return nil
}

type boolColumn struct {
	dim  int
	data []bool
}

func (c *boolColumn) want() string {
	if c.dim == 1 {
		return "bool or []bool of length 1"
	}
	return fmt.Sprintf("[]bool of length %d", c.dim)
}

func (c *boolColumn) prepare(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		if c.dim != 1 {
			return nil, fmt.Errorf("want %s, got a single bool (%v)", c.want(), x)
		}
		return v, nil
	case []bool:
		if len(x) != c.dim {
			return nil, fmt.Errorf("want %s, got length %d", c.want(), len(x))
		}
		return v, nil
	}
	return nil, fmt.Errorf("want %s, got %T (%s)", c.want(), v, shortValue(v))
}

func (c *boolColumn) add(v any) error {
	switch x := v.(type) {
	case bool:
		c.data = append(c.data, x)
	case []bool:
		c.data = append(c.data, x...)
	}
	return nil
}

func (c *boolColumn) len() int { return len(c.data) / c.dim }
func (c *boolColumn) reset()   { c.data = c.data[:0] }

func (c *boolColumn) build(b array.Builder) error {
	leaf := b
	if lb, ok := b.(*array.FixedSizeListBuilder); ok {
		lb.Reserve(c.len())
		for i := 0; i < c.len(); i++ {
			lb.Append(true)
		}
		leaf = lb.ValueBuilder()
	}
	bb, ok := leaf.(*array.BooleanBuilder)
	if !ok {
		return fmt.Errorf("internal: bool values for a %T", leaf)
	}
	bb.AppendValues(c.data, nil)
	return nil
}

func (c *boolColumn) stats(quantiles bool) (Stats, bool) {
	out := make([]float64, len(c.data))
	for i, v := range c.data {
		if v {
			out[i] = 1
		}
	}
	s := computeStats(out, c.dim, false)
	if !quantiles {
		s = s.withoutQuantiles()
	}
	return s, true
}

type stringColumn struct{ data []string }

func (c *stringColumn) prepare(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return v, nil
	case []string:
		if len(x) == 1 {
			return v, nil
		}
		return nil, fmt.Errorf("want string or []string of length 1, got length %d", len(x))
	}
	return nil, fmt.Errorf("want string, got %T (%s)", v, shortValue(v))
}

func (c *stringColumn) add(v any) error {
	switch x := v.(type) {
	case string:
		c.data = append(c.data, x)
	case []string:
		c.data = append(c.data, x...)
	}
	return nil
}

func (c *stringColumn) len() int { return len(c.data) }
func (c *stringColumn) reset()   { c.data = c.data[:0] }

func (c *stringColumn) build(b array.Builder) error {
	sb, ok := b.(*array.StringBuilder)
	if !ok {
		return fmt.Errorf("internal: string values for a %T", b)
	}
	sb.AppendValues(c.data, nil)
	return nil
}

func (c *stringColumn) stats(bool) (Stats, bool) { return Stats{}, false }

// shortValue prints v for an error message, cut to a readable length.
func shortValue(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
