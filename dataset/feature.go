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
	Dtype string   // "float32", "float64", "int64", "int32", "bool", "string", "image", "video"
	Shape []int    // [1] for scalars, [D] for vectors, [H, W, 3] or [3, H, W] for images and videos
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

// errUnsupportedDtype: "language" (LeRobot main only) and numpy dtypes
// other than those of arrowScalarType are not written.
var errUnsupportedDtype = errors.New("unsupported dtype")

// isVisual reports an image or video feature (a camera).
func (f Feature) isVisual() bool { return f.Dtype == "image" || f.Dtype == "video" }

// isVideo reports a video feature, which has no data column.
func (f Feature) isVideo() bool { return f.Dtype == "video" }

// imageSize returns height and width of an image or video feature. LeRobot
// accepts [H, W, C] with names ["height", "width", "channels"] (lerobot-record)
// and [C, H, W] with names ["channels", "height", "width"] (HIL-SERL's
// gym_manipulator); policy code looks at names[2] (spec §2). Without such
// names, the axis of size 3 decides. Only RGB (C = 3) is supported.
func (f Feature) imageSize() (h, w int, err error) {
	if len(f.Shape) != 3 {
		return 0, 0, fmt.Errorf("shape %v: %s features have shape [H, W, 3] or [3, H, W]", f.Shape, f.Dtype)
	}
	isChannel := func(s string) bool { return s == "channel" || s == "channels" }
	chw := false
	switch {
	case len(f.Names) == 3 && isChannel(f.Names[0]):
		chw = true
	case len(f.Names) == 3 && isChannel(f.Names[2]):
	case f.Shape[2] == 3:
	case f.Shape[0] == 3:
		chw = true
	}
	if chw {
		h, w = f.Shape[1], f.Shape[2]
		if f.Shape[0] != 3 {
			return 0, 0, fmt.Errorf("shape %v: %d channels, only RGB (3) is supported", f.Shape, f.Shape[0])
		}
	} else {
		h, w = f.Shape[0], f.Shape[1]
		if f.Shape[2] != 3 {
			return 0, 0, fmt.Errorf("shape %v: %d channels, only RGB (3) is supported", f.Shape, f.Shape[2])
		}
	}
	return h, w, nil
}

// imageArrowType is datasets.Image's storage type (spec §4.3).
func imageArrowType() arrow.DataType {
	return arrow.StructOf(
		arrow.Field{Name: "bytes", Type: arrow.BinaryTypes.Binary, Nullable: true},
		arrow.Field{Name: "path", Type: arrow.BinaryTypes.String, Nullable: true},
	)
}

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
// for shape [1], fixed_size_list<item: T>[D] for shape [D], the image struct
// for images. Videos have no column.
func (f Feature) arrowType() (arrow.DataType, error) {
	switch f.Dtype {
	case "image":
		if _, _, err := f.imageSize(); err != nil {
			return nil, err
		}
		return imageArrowType(), nil
	case "video":
		return nil, fmt.Errorf("video feature %q has no data column", f.Name)
	}
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
		if f.isVisual() {
			if _, _, err := f.imageSize(); err != nil {
				at("shape", "%v", err)
			}
			continue
		}
		if _, err := arrowScalarType(f.Dtype); err != nil {
			at("dtype", "must be one of float32, float64, int64, int32, bool, string, image, video; got %q", f.Dtype)
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
// `huggingface` metadata (spec §4.2): vectors are "List" as datasets 4.x
// writes them (v3.0), or "Sequence" as datasets 3.x does (v2.1, whose
// loaders do not know "List"); images are {"_type": "Image"}.
func (f Feature) hfFeatureJSON(sequence bool) (obj, error) {
	if f.Dtype == "image" {
		return obj{{"_type", "Image"}}, nil
	}
	if _, err := arrowScalarType(f.Dtype); err != nil {
		return nil, err
	}
	value := obj{{"dtype", f.Dtype}, {"_type", "Value"}}
	if f.isScalar() {
		return value, nil
	}
	listType := "List"
	if sequence {
		listType = "Sequence"
	}
	return obj{{"feature", value}, {"length", f.Shape[0]}, {"_type", listType}}, nil
}

// statsDim is the number of values of each statistic: one per channel for
// images and videos (stored as (3, 1, 1)), else one per value.
func (f Feature) statsDim() int {
	if f.isVisual() {
		return 3
	}
	return f.dim()
}
