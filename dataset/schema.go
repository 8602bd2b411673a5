package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// Every field is nullable, as in the files pyarrow writes (spec §4.1).
func field(name string, t arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: t, Nullable: true}
}

// dataSchema is the Arrow schema of the data files (spec §4.1): one column
// per non-video feature in info.json order, the five defaults last, with the
// `huggingface` metadata of spec §4.2 in its v3.0 (List, fingerprint) or
// v2.1 (Sequence) form.
func dataSchema(features []Feature, v21 bool) (*arrow.Schema, error) {
	fields := make([]arrow.Field, 0, len(features))
	for _, f := range features {
		if f.isVideo() {
			continue
		}
		t, err := f.arrowType()
		if err != nil {
			return nil, fmt.Errorf("feature %q: %w", f.Name, err)
		}
		fields = append(fields, field(f.Name, t))
	}
	hf, err := hfMetadata(features, v21)
	if err != nil {
		return nil, err
	}
	md := arrow.NewMetadata([]string{"huggingface"}, []string{hf})
	return arrow.NewSchema(fields, &md), nil
}

// huggingfaceMetadata is the `huggingface` schema-metadata value of a v3.0
// data file (spec §4.2): json.dumps({"info": {"features": ...}}) as datasets
// 4.x writes it, with a "fingerprint" of 16 hex digits. datasets draws that
// fingerprint at random for an in-memory table and never reads it back; we
// derive it from the features so that equal inputs give equal files.
func huggingfaceMetadata(features []Feature) (string, error) { return hfMetadata(features, false) }

// hfMetadata is huggingfaceMetadata, or with v21 the v2.1 form datasets 3.x
// writes: "Sequence" vectors and no fingerprint (spec §4.2).
func hfMetadata(features []Feature, v21 bool) (string, error) {
	fo := make(obj, 0, len(features))
	for _, f := range features {
		if f.isVideo() {
			continue // no column, no datasets feature
		}
		hf, err := f.hfFeatureJSON(v21)
		if err != nil {
			return "", fmt.Errorf("feature %q: %w", f.Name, err)
		}
		fo = append(fo, member{f.Name, hf})
	}
	enc := pyJSON{ensureASCII: true}
	info, err := enc.marshal(obj{{"info", obj{{"features", fo}}}})
	if err != nil {
		return "", err
	}
	if v21 {
		return string(info), nil
	}
	sum := sha256.Sum256(info)
	b, err := enc.marshal(obj{{"info", obj{{"features", fo}}}, {"fingerprint", hex.EncodeToString(sum[:8])}})
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Column names of meta/episodes/chunk-*/file-*.parquet (spec §3.3).
const (
	epColIndex          = "episode_index"
	epColTasks          = "tasks"
	epColLength         = "length"
	epColDataChunk      = "data/chunk_index"
	epColDataFile       = "data/file_index"
	epColFromIndex      = "dataset_from_index"
	epColToIndex        = "dataset_to_index"
	epColMetaChunk      = "meta/episodes/chunk_index"
	epColMetaFile       = "meta/episodes/file_index"
	epStatsPrefix       = "stats/"
	epVideosPrefix      = "videos/"
	episodesPerRowGroup = 10 // LeRobot's metadata_buffer_size (spec §1.2)
)

// episodesSchema is the Arrow schema of the episodes metadata files (spec
// §3.3): the location columns of every video, then the stats columns of
// every feature that has stats (the quantiles only when LeRobot stores them:
// recorded datasets, not ones converted from v2.1). Natively recorded files
// carry no schema metadata beyond ARROW:schema.
func episodesSchema(features []Feature, quantiles bool) *arrow.Schema {
	fields := []arrow.Field{
		field(epColIndex, arrow.PrimitiveTypes.Int64),
		field(epColTasks, arrow.ListOf(arrow.BinaryTypes.String)),
		field(epColLength, arrow.PrimitiveTypes.Int64),
		field(epColDataChunk, arrow.PrimitiveTypes.Int64),
		field(epColDataFile, arrow.PrimitiveTypes.Int64),
		field(epColFromIndex, arrow.PrimitiveTypes.Int64),
		field(epColToIndex, arrow.PrimitiveTypes.Int64),
	}
	for _, f := range features {
		if f.isVideo() {
			prefix := epVideosPrefix + f.Name + "/"
			fields = append(fields,
				field(prefix+"chunk_index", arrow.PrimitiveTypes.Int64),
				field(prefix+"file_index", arrow.PrimitiveTypes.Int64),
				field(prefix+"from_timestamp", arrow.PrimitiveTypes.Float64),
				field(prefix+"to_timestamp", arrow.PrimitiveTypes.Float64),
			)
		}
	}
	for _, f := range features {
		if !f.hasStats() {
			continue
		}
		for _, stat := range statNames(quantiles) {
			t := arrow.DataType(statElemType(f.Dtype, stat))
			if f.isVisual() && stat != "count" { // (3, 1, 1) per channel
				t = arrow.ListOf(arrow.ListOf(t))
			}
			fields = append(fields, field(statsColumn(f.Name, stat), arrow.ListOf(t)))
		}
	}
	fields = append(fields,
		field(epColMetaChunk, arrow.PrimitiveTypes.Int64),
		field(epColMetaFile, arrow.PrimitiveTypes.Int64),
	)
	return arrow.NewSchema(fields, nil)
}

func statsColumn(feature, stat string) string { return epStatsPrefix + feature + "/" + stat }

// statElemType is the list element type of a stats column (spec §3.3): count
// is int64; min and max follow minMaxKind; everything else is double.
func statElemType(dtype, stat string) arrow.DataType {
	switch stat {
	case "count":
		return arrow.PrimitiveTypes.Int64
	case "min", "max":
		switch minMaxKind(dtype) {
		case kindInt:
			return arrow.PrimitiveTypes.Int64
		case kindBool:
			return arrow.FixedWidthTypes.Boolean
		}
	}
	return arrow.PrimitiveTypes.Float64
}

// Column names of meta/tasks.parquet (spec §3.2): the task string is the
// pandas index, named "task" by LeRobot main and the v2.1→v3.0 converter,
// unnamed ("__index_level_0__") by lerobot 0.4.x.
const (
	taskColIndex     = "task_index"
	taskColTask      = "task"
	taskColPandasIdx = "__index_level_0__"
)

// tasksSchema is meta/tasks.parquet in the form LeRobot main writes (spec
// §3.2): task_index:int64, then the index column task:string, with the pandas
// metadata that makes pandas rebuild the task strings as the index.
func tasksSchema() (*arrow.Schema, error) {
	pandas, err := pyJSON{ensureASCII: true}.marshal(obj{
		{"index_columns", []string{taskColTask}},
		{"column_indexes", []any{obj{
			{"name", nil}, {"field_name", nil}, {"pandas_type", "unicode"}, {"numpy_type", "object"},
			{"metadata", obj{{"encoding", "UTF-8"}}},
		}}},
		{"columns", []any{
			obj{{"name", taskColIndex}, {"field_name", taskColIndex}, {"pandas_type", "int64"}, {"numpy_type", "int64"}, {"metadata", nil}},
			obj{{"name", taskColTask}, {"field_name", taskColTask}, {"pandas_type", "unicode"}, {"numpy_type", "object"}, {"metadata", nil}},
		}},
		{"attributes", obj{}},
		// Written as pyarrow does; readers use only index_columns, columns
		// and column_indexes (spec §8).
		{"creator", obj{{"library", "pyarrow"}, {"version", "22.0.0"}}},
		{"pandas_version", "2.3.3"},
	})
	if err != nil {
		return nil, err
	}
	md := arrow.NewMetadata([]string{"pandas"}, []string{string(pandas)})
	return arrow.NewSchema([]arrow.Field{
		field(taskColIndex, arrow.PrimitiveTypes.Int64),
		field(taskColTask, arrow.BinaryTypes.String),
	}, &md), nil
}
