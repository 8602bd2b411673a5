package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// Feature describes one column of the dataset as meta/info.json does (spec §2).
type Feature struct {
	Name  string   // "observation.state"
	Dtype string   // "float32", "float64", "int64", "int32", "bool", "string" (later "image", "video")
	Shape []int    // [1] for scalars, [D] for vectors
	Names []string // nil is written as JSON null

	// RawNames holds "names" when it is not a list of strings (LeRobot also
	// allows a dict such as {"motors": [...]} or nested lists). It is written
	// back verbatim; Names is then nil.
	RawNames json.RawMessage
	// Info is the "info" object of video features, kept verbatim.
	Info json.RawMessage
	// Extra holds keys this package does not model (e.g. the per-feature "fps"
	// that convert_dataset_v21_to_v30 adds), written back verbatim after the others.
	Extra []RawField
}

// RawField is a JSON key whose value is kept verbatim.
type RawField struct {
	Key   string
	Value json.RawMessage
}

// The five features LeRobot appends after the user features (spec §2, DEFAULT_FEATURES).
const (
	colTimestamp    = "timestamp"
	colFrameIndex   = "frame_index"
	colEpisodeIndex = "episode_index"
	colIndex        = "index"
	colTaskIndex    = "task_index"
)

// DefaultFeatures returns timestamp, frame_index, episode_index, index and
// task_index, which every dataset has after its user features (spec §2).
func DefaultFeatures() []Feature {
	return []Feature{
		{Name: colTimestamp, Dtype: "float32", Shape: []int{1}},
		{Name: colFrameIndex, Dtype: "int64", Shape: []int{1}},
		{Name: colEpisodeIndex, Dtype: "int64", Shape: []int{1}},
		{Name: colIndex, Dtype: "int64", Shape: []int{1}},
		{Name: colTaskIndex, Dtype: "int64", Shape: []int{1}},
	}
}

func isDefaultFeature(name string) bool {
	for _, f := range DefaultFeatures() {
		if f.Name == name {
			return true
		}
	}
	return false
}

// dtypes this package writes today. "image" and "video" come with the video
// issue; "language" (main only) is not planned.
var errUnsupportedDtype = errors.New("unsupported dtype")

// arrowScalarType maps a numeric/bool/string dtype to its Arrow type (spec §4.1).
func arrowScalarType(dtype string) (arrow.DataType, error) {
	switch dtype {
	case "float32":
		return arrow.PrimitiveTypes.Float32, nil
	case "float64":
		return arrow.PrimitiveTypes.Float64, nil
	case "int64":
		return arrow.PrimitiveTypes.Int64, nil
	case "int32":
		return arrow.PrimitiveTypes.Int32, nil
	case "bool":
		return arrow.FixedWidthTypes.Boolean, nil
	case "string":
		return arrow.BinaryTypes.String, nil
	}
	return nil, fmt.Errorf("%w %q", errUnsupportedDtype, dtype)
}

// dim is the number of values per frame: 1 for scalars, D for [D].
func (f Feature) dim() int {
	n := 1
	for _, s := range f.Shape {
		n *= s
	}
	return n
}

// isScalar reports shape [1], stored as a plain column, not a list (spec §4.4).
func (f Feature) isScalar() bool { return len(f.Shape) == 1 && f.Shape[0] == 1 }

// arrowType is the data-parquet column type of f (spec §4.1): the scalar type
// for shape [1], fixed_size_list<item: T>[D] for shape [D].
func (f Feature) arrowType() (arrow.DataType, error) {
	base, err := arrowScalarType(f.Dtype)
	if err != nil {
		return nil, err
	}
	if f.isScalar() {
		return base, nil
	}
	if len(f.Shape) != 1 || f.Shape[0] < 1 {
		return nil, fmt.Errorf("shape %v: only [1] and [D] are supported (datasets ArrayND is not)", f.Shape)
	}
	if f.Dtype == "string" {
		return nil, fmt.Errorf("shape %v: string features must have shape [1]", f.Shape)
	}
	return arrow.FixedSizeListOf(int32(f.Shape[0]), base), nil
}

// hasStats reports whether LeRobot computes statistics for f (spec §5: all but strings).
func (f Feature) hasStats() bool { return f.Dtype != "string" && f.Dtype != "language" }

// validateFeatures checks user features for the writer, returning every
// problem with its JSON path (features[i].field).
func validateFeatures(fs []Feature) []error {
	var errs []error
	seen := map[string]bool{}
	for i, f := range fs {
		at := func(field, format string, a ...any) {
			errs = append(errs, fmt.Errorf("features[%d] (%q).%s: %s", i, f.Name, field, fmt.Sprintf(format, a...)))
		}
		switch {
		case f.Name == "":
			at("name", "must not be empty")
		case strings.Contains(f.Name, "/"):
			at("name", "must not contain '/' (it separates stats column names)")
		case isDefaultFeature(f.Name):
			at("name", "%q is a default feature, added automatically", f.Name)
		case seen[f.Name]:
			at("name", "duplicate feature name")
		}
		seen[f.Name] = true
		if f.Dtype == "image" || f.Dtype == "video" {
			at("dtype", "%q features are not supported yet", f.Dtype)
			continue
		}
		if _, err := arrowScalarType(f.Dtype); err != nil {
			at("dtype", "must be one of float32, float64, int64, int32, bool, string; got %q", f.Dtype)
			continue
		}
		if _, err := f.arrowType(); err != nil {
			at("shape", "%v", err)
			continue
		}
		if f.Names != nil && len(f.Names) != f.dim() {
			at("names", "has %d names for shape %v", len(f.Names), f.Shape)
		}
		if f.Names != nil && f.RawNames != nil {
			at("names", "set Names or RawNames, not both")
		}
	}
	return errs
}

// hfFeatureJSON is the datasets Features.to_dict() entry of f in the
// `huggingface` metadata, as datasets 4.x writes it (spec §4.2).
func (f Feature) hfFeatureJSON() (obj, error) {
	if _, err := arrowScalarType(f.Dtype); err != nil {
		return nil, err
	}
	value := obj{{"dtype", f.Dtype}, {"_type", "Value"}}
	if f.isScalar() {
		return value, nil
	}
	return obj{{"feature", value}, {"length", f.Shape[0]}, {"_type", "List"}}, nil
}
