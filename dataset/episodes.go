package dataset

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Episode is one row of the episodes metadata (spec §3.3).
type Episode struct {
	Index  int
	Length int
	Tasks  []string
	// Where the episode's rows live: data_path with these indices.
	DataChunk, DataFile int
	// Global frame range [FromIndex, ToIndex) (the `index` column).
	FromIndex, ToIndex int64
	// Where this metadata row lives: meta/episodes/chunk-MetaChunk/file-MetaFile.parquet.
	MetaChunk, MetaFile int
	// Videos by video key; nil when the dataset has no video features.
	Videos map[string]VideoSegment
	// Stats by feature, from the stats/* columns; nil when the file has none.
	Stats map[string]Stats
}

// VideoSegment locates an episode inside a concatenated mp4 (spec §1.2).
type VideoSegment struct {
	Chunk, File                int
	FromTimestamp, ToTimestamp float64
}

// buildEpisodesRecord makes the Arrow record of rows eps with schema (one of
// episodesSchema, with quantile columns when quantiles is set). The caller
// releases it.
func buildEpisodesRecord(mem memory.Allocator, schema *arrow.Schema, features []Feature, eps []Episode, quantiles bool) (arrow.Record, error) {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	field := func(name string) array.Builder {
		if idx := schema.FieldIndices(name); len(idx) == 1 {
			return b.Field(idx[0])
		}
		return nil
	}
	ints := func(name string, get func(Episode) int64) error {
		ib, ok := field(name).(*array.Int64Builder)
		if !ok {
			return fmt.Errorf("internal: column %q is not int64", name)
		}
		for _, e := range eps {
			ib.Append(get(e))
		}
		return nil
	}
	for _, c := range []struct {
		name string
		get  func(Episode) int64
	}{
		{epColIndex, func(e Episode) int64 { return int64(e.Index) }},
		{epColLength, func(e Episode) int64 { return int64(e.Length) }},
		{epColDataChunk, func(e Episode) int64 { return int64(e.DataChunk) }},
		{epColDataFile, func(e Episode) int64 { return int64(e.DataFile) }},
		{epColFromIndex, func(e Episode) int64 { return e.FromIndex }},
		{epColToIndex, func(e Episode) int64 { return e.ToIndex }},
		{epColMetaChunk, func(e Episode) int64 { return int64(e.MetaChunk) }},
		{epColMetaFile, func(e Episode) int64 { return int64(e.MetaFile) }},
	} {
		if err := ints(c.name, c.get); err != nil {
			return nil, err
		}
	}
	tb, ok := field(epColTasks).(*array.ListBuilder)
	if !ok {
		return nil, fmt.Errorf("internal: column %q is not a list", epColTasks)
	}
	tvb, ok := tb.ValueBuilder().(*array.StringBuilder)
	if !ok {
		return nil, fmt.Errorf("internal: column %q is not a list of strings", epColTasks)
	}
	for _, e := range eps {
		tb.Append(true)
		tvb.AppendValues(e.Tasks, nil)
	}
	for _, f := range features {
		if !f.isVideo() {
			continue
		}
		prefix := epVideosPrefix + f.Name + "/"
		cb, ok1 := field(prefix + "chunk_index").(*array.Int64Builder)
		fb, ok2 := field(prefix + "file_index").(*array.Int64Builder)
		fromB, ok3 := field(prefix + "from_timestamp").(*array.Float64Builder)
		toB, ok4 := field(prefix + "to_timestamp").(*array.Float64Builder)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return nil, fmt.Errorf("internal: video columns of %q have unexpected types", f.Name)
		}
		for _, e := range eps {
			seg, ok := e.Videos[f.Name]
			if !ok {
				return nil, fmt.Errorf("episode %d: no video segment for %q", e.Index, f.Name)
			}
			cb.Append(int64(seg.Chunk))
			fb.Append(int64(seg.File))
			fromB.Append(seg.FromTimestamp)
			toB.Append(seg.ToTimestamp)
		}
	}
	for _, f := range features {
		if !f.hasStats() {
			continue
		}
		for _, stat := range statNames(quantiles) {
			name := statsColumn(f.Name, stat)
			lb, ok := field(name).(*array.ListBuilder)
			if !ok {
				return nil, fmt.Errorf("internal: column %q is not a list", name)
			}
			for _, e := range eps {
				s, ok := e.Stats[f.Name]
				if !ok {
					return nil, fmt.Errorf("episode %d: no stats for feature %q", e.Index, f.Name)
				}
				if err := appendStat(lb, s, stat, f.isVisual()); err != nil {
					return nil, fmt.Errorf("episode %d: %s: %w", e.Index, name, err)
				}
			}
		}
	}
	return b.NewRecord(), nil
}

// appendStat appends one list value, statistic stat of s, to lb, typed by
// lb's element builder (statElemType); nested per channel as (3, 1, 1) for
// images and videos.
func appendStat(lb *array.ListBuilder, s Stats, stat string, visual bool) error {
	var vals []float64
	switch stat {
	case "min":
		vals = s.Min
	case "max":
		vals = s.Max
	case "mean":
		vals = s.Mean
	case "std":
		vals = s.Std
	case "count":
		vals = []float64{float64(s.Count)}
	default:
		q := s.quantile(stat)
		if q == nil {
			return fmt.Errorf("unknown statistic %q", stat)
		}
		vals = *q
	}
	if vals == nil {
		return fmt.Errorf("statistic %q missing", stat)
	}
	lb.Append(true)
	if visual && stat != "count" {
		l2, ok := lb.ValueBuilder().(*array.ListBuilder)
		if !ok {
			return fmt.Errorf("internal: image stats builder %T", lb.ValueBuilder())
		}
		l3, ok := l2.ValueBuilder().(*array.ListBuilder)
		if !ok {
			return fmt.Errorf("internal: image stats builder %T", l2.ValueBuilder())
		}
		vb, ok := l3.ValueBuilder().(*array.Float64Builder)
		if !ok {
			return fmt.Errorf("internal: image stats builder %T", l3.ValueBuilder())
		}
		for _, v := range vals {
			l2.Append(true)
			l3.Append(true)
			vb.Append(v)
		}
		return nil
	}
	switch vb := lb.ValueBuilder().(type) {
	case *array.Float64Builder:
		vb.AppendValues(vals, nil)
	case *array.Int64Builder:
		for _, v := range vals {
			vb.Append(int64(v))
		}
	case *array.BooleanBuilder:
		for _, v := range vals {
			vb.Append(v != 0)
		}
	default:
		return fmt.Errorf("internal: stats element builder %T", vb)
	}
	return nil
}

// readEpisodes reads one episodes metadata file. videoKeys are the video
// features of info.json; stats columns are read for every stats/* column.
func readEpisodes(pf *parquetFile, videoKeys []string) (_ []Episode, err error) {
	defer recoverParquetPanic(&err, pf.path)
	tbl, err := pf.readRowGroups(nil, nil)
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	n := int(tbl.NumRows())
	cols := map[string]*arrow.Chunked{}
	for i, f := range tbl.Schema().Fields() {
		cols[f.Name] = tbl.Column(i).Data()
	}
	need := func(name string) (*arrow.Chunked, error) {
		c, ok := cols[name]
		if !ok {
			return nil, fmt.Errorf("%s: missing column %q", pf.path, name)
		}
		return c, nil
	}
	eps := make([]Episode, n)
	for _, c := range []struct {
		name string
		set  func(*Episode, int64)
	}{
		{epColIndex, func(e *Episode, v int64) { e.Index = int(v) }},
		{epColLength, func(e *Episode, v int64) { e.Length = int(v) }},
		{epColDataChunk, func(e *Episode, v int64) { e.DataChunk = int(v) }},
		{epColDataFile, func(e *Episode, v int64) { e.DataFile = int(v) }},
		{epColFromIndex, func(e *Episode, v int64) { e.FromIndex = v }},
		{epColToIndex, func(e *Episode, v int64) { e.ToIndex = v }},
		{epColMetaChunk, func(e *Episode, v int64) { e.MetaChunk = int(v) }},
		{epColMetaFile, func(e *Episode, v int64) { e.MetaFile = int(v) }},
	} {
		col, err := need(c.name)
		if err != nil {
			return nil, err
		}
		vals, err := chunkedInts(col)
		if err != nil {
			return nil, fmt.Errorf("%s: column %q: %w", pf.path, c.name, err)
		}
		for i, v := range vals {
			c.set(&eps[i], v)
		}
	}
	col, err := need(epColTasks)
	if err != nil {
		return nil, err
	}
	tasks, err := chunkedStringLists(col)
	if err != nil {
		return nil, fmt.Errorf("%s: column %q: %w", pf.path, epColTasks, err)
	}
	for i := range eps {
		eps[i].Tasks = tasks[i]
	}
	for _, key := range videoKeys {
		prefix := epVideosPrefix + key + "/"
		if _, ok := cols[prefix+"chunk_index"]; !ok {
			continue // validate (follow-up) reports it; reading numbers does not need it
		}
		chunks, err1 := columnInts(cols, prefix+"chunk_index")
		files, err2 := columnInts(cols, prefix+"file_index")
		from, err3 := columnFloats(cols, prefix+"from_timestamp")
		to, err4 := columnFloats(cols, prefix+"to_timestamp")
		for _, err := range []error{err1, err2, err3, err4} {
			if err != nil {
				return nil, fmt.Errorf("%s: %w", pf.path, err)
			}
		}
		for i := range eps {
			if eps[i].Videos == nil {
				eps[i].Videos = map[string]VideoSegment{}
			}
			eps[i].Videos[key] = VideoSegment{Chunk: int(chunks[i]), File: int(files[i]), FromTimestamp: from[i], ToTimestamp: to[i]}
		}
	}
	for name, col := range cols {
		rest, ok := strings.CutPrefix(name, epStatsPrefix)
		if !ok {
			continue
		}
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			continue
		}
		feature, stat := rest[:i], rest[i+1:]
		lists, err := chunkedNumberLists(col)
		if err != nil {
			return nil, fmt.Errorf("%s: column %q: %w", pf.path, name, err)
		}
		for r := range eps {
			if eps[r].Stats == nil {
				eps[r].Stats = map[string]Stats{}
			}
			s := eps[r].Stats[feature]
			if err := s.set(stat, lists[r]); err != nil {
				return nil, fmt.Errorf("%s: column %q, row %d: %w", pf.path, name, r, err)
			}
			eps[r].Stats[feature] = s
		}
	}
	return eps, nil
}

func columnInts(cols map[string]*arrow.Chunked, name string) ([]int64, error) {
	c, ok := cols[name]
	if !ok {
		return nil, fmt.Errorf("missing column %q", name)
	}
	v, err := chunkedInts(c)
	if err != nil {
		return nil, fmt.Errorf("column %q: %w", name, err)
	}
	return v, nil
}

func columnFloats(cols map[string]*arrow.Chunked, name string) ([]float64, error) {
	c, ok := cols[name]
	if !ok {
		return nil, fmt.Errorf("missing column %q", name)
	}
	var out []float64
	for _, chunk := range c.Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			v, err := leafFloat(chunk, i)
			if err != nil {
				return nil, fmt.Errorf("column %q, row %d: %w", name, len(out), err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}
