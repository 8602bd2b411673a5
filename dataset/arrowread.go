package dataset

import (
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Readers of Arrow arrays as the files in the wild type them: LeRobot writes
// fixed_size_list vectors, pandas-based tools variable lists (spec §8), stats
// may be int or float. Nulls are errors: LeRobot never writes them.

var errNull = errors.New("null value")

// listValues returns the child array and the child range of row i when arr is
// a list or fixed-size list, and ok=false otherwise.
func listValues(arr arrow.Array, i int) (values arrow.Array, start, end int64, ok bool) {
	switch l := arr.(type) {
	case *array.List:
		start, end = l.ValueOffsets(i)
		return l.ListValues(), start, end, true
	case *array.LargeList:
		start, end = l.ValueOffsets(i)
		return l.ListValues(), start, end, true
	case *array.FixedSizeList:
		start, end = l.ValueOffsets(i)
		return l.ListValues(), start, end, true
	}
	return nil, 0, 0, false
}

// leafFloat reads element i of a numeric or boolean array as float64.
func leafFloat(arr arrow.Array, i int) (float64, error) {
	if arr.IsNull(i) {
		return 0, errNull
	}
	switch a := arr.(type) {
	case *array.Float32:
		return float64(a.Value(i)), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.Int64:
		return float64(a.Value(i)), nil
	case *array.Int32:
		return float64(a.Value(i)), nil
	case *array.Int16:
		return float64(a.Value(i)), nil
	case *array.Int8:
		return float64(a.Value(i)), nil
	case *array.Uint8:
		return float64(a.Value(i)), nil
	case *array.Uint16:
		return float64(a.Value(i)), nil
	case *array.Uint32:
		return float64(a.Value(i)), nil
	case *array.Uint64:
		return float64(a.Value(i)), nil
	case *array.Boolean:
		if a.Value(i) {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("type %s is not numeric", arr.DataType())
}

// leafInt reads element i of an integer or boolean array.
func leafInt(arr arrow.Array, i int) (int64, error) {
	if arr.IsNull(i) {
		return 0, errNull
	}
	switch a := arr.(type) {
	case *array.Int64:
		return a.Value(i), nil
	case *array.Int32:
		return int64(a.Value(i)), nil
	case *array.Int16:
		return int64(a.Value(i)), nil
	case *array.Int8:
		return int64(a.Value(i)), nil
	case *array.Uint8:
		return int64(a.Value(i)), nil
	case *array.Uint16:
		return int64(a.Value(i)), nil
	case *array.Uint32:
		return int64(a.Value(i)), nil
	case *array.Boolean:
		if a.Value(i) {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("type %s is not an integer type", arr.DataType())
}

func chunkedInts(c *arrow.Chunked) ([]int64, error) {
	out := make([]int64, 0, c.Len())
	for _, chunk := range c.Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			v, err := leafInt(chunk, i)
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", len(out), err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

func chunkedStringLists(c *arrow.Chunked) ([][]string, error) {
	out := make([][]string, 0, c.Len())
	for _, chunk := range c.Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			if chunk.IsNull(i) {
				return nil, fmt.Errorf("row %d: %w", len(out), errNull)
			}
			values, start, end, ok := listValues(chunk, i)
			if !ok {
				return nil, fmt.Errorf("type %s is not a list of strings", chunk.DataType())
			}
			strs, ok := values.(*array.String)
			if !ok {
				return nil, fmt.Errorf("type %s is not a list of strings", chunk.DataType())
			}
			row := make([]string, 0, end-start)
			for j := int(start); j < int(end); j++ {
				row = append(row, strs.Value(j))
			}
			out = append(out, row)
		}
	}
	return out, nil
}

// chunkedNumberLists reads a column of (possibly nested) numeric lists, each
// row flattened.
func chunkedNumberLists(c *arrow.Chunked) ([][]float64, error) {
	out := make([][]float64, 0, c.Len())
	for _, chunk := range c.Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			row, err := appendFlat(nil, chunk, i, 0)
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", len(out), err)
			}
			out = append(out, row)
		}
	}
	return out, nil
}

// appendFlat appends element i of arr, flattened if it is a (nested) list.
func appendFlat(dst []float64, arr arrow.Array, i, depth int) ([]float64, error) {
	if arr.IsNull(i) {
		return nil, errNull
	}
	values, start, end, ok := listValues(arr, i)
	if !ok {
		v, err := leafFloat(arr, i)
		if err != nil {
			return nil, err
		}
		return append(dst, v), nil
	}
	if depth > 8 {
		return nil, errors.New("lists nested too deep")
	}
	for j := int(start); j < int(end); j++ {
		var err error
		if dst, err = appendFlat(dst, values, j, depth+1); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// forEachValue walks a data column of dim values per row — a scalar column
// when dim is 1 (or a list of length 1), else a fixed-size or variable list —
// calling fn with the leaf array and index of every value, row-major.
func forEachValue(c *arrow.Chunked, dim int, fn func(leaf arrow.Array, j int) error) error {
	row := 0
	for _, chunk := range c.Chunks() {
		for i := 0; i < chunk.Len(); i, row = i+1, row+1 {
			if chunk.IsNull(i) {
				return fmt.Errorf("row %d: %w", row, errNull)
			}
			values, start, end, ok := listValues(chunk, i)
			if !ok {
				if dim != 1 {
					return fmt.Errorf("row %d: scalar column of type %s for %d values per frame", row, chunk.DataType(), dim)
				}
				if err := fn(chunk, i); err != nil {
					return fmt.Errorf("row %d: %w", row, err)
				}
				continue
			}
			if int(end-start) != dim {
				return fmt.Errorf("row %d: %d values, want %d", row, end-start, dim)
			}
			for j := int(start); j < int(end); j++ {
				if err := fn(values, j); err != nil {
					return fmt.Errorf("row %d: %w", row, err)
				}
			}
		}
	}
	return nil
}
