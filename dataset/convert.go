package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// ConvertOptions tune ConvertV21.
type ConvertOptions struct {
	// Episodes are the source episode indices to convert, increasing; they
	// become episodes 0, 1, … of the result. nil converts every episode.
	Episodes []int
	// File rollover thresholds of the result; 0 takes LeRobot's defaults.
	DataFilesSizeInMB, VideoFilesSizeInMB int
}

// ConvertReport says what ConvertV21 wrote.
type ConvertReport struct {
	Episodes, Frames int
}

// ConvertV21 converts the v2.1 dataset at src to a new v3.0 dataset at dst
// (which must not exist or be empty), as LeRobot's
// convert_dataset_v21_to_v30 does (spec §1, §3): episodes gathered into data
// files, videos concatenated per camera by stream copy (frames are not
// re-encoded, so they decode exactly as before), tasks.parquet from
// tasks.jsonl, the episodes' stats copied from episodes_stats.jsonl, and a
// per-feature "fps" in info.json. Values, frame indices and timestamps are
// copied unchanged; with Episodes, episode_index, index and task_index are
// renumbered and their stats recomputed.
//
// Every selected episode's files must be present; a partial copy is
// converted by selecting the episodes it holds. On error dst is removed (or
// emptied, if it existed), so nothing half-converted remains.
func ConvertV21(ctx context.Context, src, dst string, opts ConvertOptions) (rep *ConvertReport, err error) {
	return convertV21(ctx, src, dst, opts, memory.DefaultAllocator)
}

func convertV21(ctx context.Context, src, dst string, opts ConvertOptions, mem memory.Allocator) (rep *ConvertReport, err error) {
	wrap := func(err error) error { return fmt.Errorf("convert %s to %s: %w", src, dst, err) }
	s, err := open(src, mem)
	if err != nil {
		return nil, wrap(err)
	}
	if !s.Info.isV2() {
		return nil, wrap(fmt.Errorf("%w: %s is codebase_version %s; convert reads v2.1", ErrUnsupported, src, s.Info.CodebaseVersion))
	}
	sel := opts.Episodes
	if sel == nil {
		for i := range s.Episodes {
			sel = append(sel, i)
		}
	}
	if len(sel) == 0 {
		return nil, wrap(errors.New("no episodes to convert"))
	}
	for i, e := range sel {
		if e < 0 || e >= len(s.Episodes) {
			return nil, wrap(fmt.Errorf("episode %d: %s has episodes 0..%d", e, src, len(s.Episodes)-1))
		}
		if i > 0 && e <= sel[i-1] {
			return nil, wrap(fmt.Errorf("episodes must be increasing, got %d after %d", e, sel[i-1]))
		}
	}
	if err := s.checkFilesPresent(sel); err != nil {
		return nil, wrap(err)
	}

	_, statErr := os.Stat(dst)
	dstExisted := statErr == nil
	w, err := startWriter(convertedConfig(s, dst, opts), mem, false)
	if err != nil {
		if !dstExisted && !errors.Is(err, ErrLocked) {
			os.RemoveAll(dst)
		}
		return nil, wrap(err)
	}
	// convert_info gives every non-video feature, defaults included, an "fps".
	for i, f := range w.features {
		if isDefaultFeature(f.Name) {
			w.features[i].Extra = append(slices.Clone(f.Extra), RawField{Key: "fps", Value: json.RawMessage(fmt.Sprint(s.Info.FPS))})
		}
	}
	w.info.Features = w.features
	if err := writeInfoFile(dst, w.info); err != nil {
		w.Close()
		removeOutput(dst, dstExisted)
		return nil, wrap(err)
	}
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = wrap(cerr)
		}
		if err != nil {
			removeOutput(dst, dstExisted)
		}
	}()
	// Tasks keep their source order (tasks.parquet is tasks.jsonl in v3.0
	// form); only those of the selected episodes are kept.
	used := map[string]bool{}
	for _, e := range sel {
		for _, t := range s.Episodes[e].Tasks {
			used[t] = true
		}
	}
	for _, t := range s.Tasks {
		if used[t] {
			w.tasks = append(w.tasks, t)
		}
	}
	rep = &ConvertReport{}
	for _, e := range sel {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pe, release, err := s.convertEpisode(ctx, w, e)
		if err != nil {
			return nil, wrap(err)
		}
		err = w.appendEpisode(ctx, pe)
		release()
		if err != nil {
			return nil, wrap(fmt.Errorf("episode %d: %w", e, err))
		}
		rep.Episodes++
		rep.Frames += pe.length
	}
	return rep, nil
}

// convertedConfig is the v3.0 writer configuration for a converted dataset:
// the source's features, non-video ones with the "fps" key convert_info adds.
func convertedConfig(s *Dataset, dst string, opts ConvertOptions) WriterConfig {
	var features []Feature
	for _, f := range s.Info.Features {
		if isDefaultFeature(f.Name) {
			continue
		}
		f.Extra = slices.Clone(f.Extra)
		if !f.isVideo() && !slices.ContainsFunc(f.Extra, func(x RawField) bool { return x.Key == "fps" }) {
			f.Extra = append(f.Extra, RawField{Key: "fps", Value: json.RawMessage(fmt.Sprint(s.Info.FPS))})
		}
		features = append(features, f)
	}
	cfg := WriterConfig{
		Root: dst, FPS: s.Info.FPS, RobotType: s.Info.RobotType, Features: features,
		DataFilesSizeInMB: opts.DataFilesSizeInMB, VideoFilesSizeInMB: opts.VideoFilesSizeInMB,
	}
	return cfg.withDefaults()
}

// removeOutput removes a failed conversion's output.
func removeOutput(dst string, existed bool) {
	if !existed {
		os.RemoveAll(dst)
		return
	}
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dst, e.Name()))
	}
}

// checkFilesPresent lists every missing data or video file of the episodes.
func (d *Dataset) checkFilesPresent(eps []int) error {
	var missing []string
	for _, i := range eps {
		e := d.Episodes[i]
		rel, err := d.Info.DataFile(e)
		if err != nil {
			return err
		}
		paths := []string{rel}
		for _, k := range d.Info.VideoKeys() {
			v, err := d.Info.VideoFile(e, k)
			if err != nil {
				return err
			}
			paths = append(paths, v)
		}
		for _, p := range paths {
			if _, err := os.Stat(filepath.Join(d.Root, p)); err != nil {
				missing = append(missing, p)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	more := ""
	if len(missing) > 5 {
		more = fmt.Sprintf(" and %d more", len(missing)-5)
		missing = missing[:5]
	}
	return fmt.Errorf("%w: missing %v%s (select the episodes that are present with --episodes)", ErrInconsistent, missing, more)
}

// convertEpisode reads source episode e as a pending episode of w.
func (d *Dataset) convertEpisode(ctx context.Context, w *Writer, e int) (*pendingEpisode, func(), error) {
	ep := d.Episodes[e]
	rel, err := d.Info.DataFile(ep)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(d.Root, rel)
	tbl, err := readWholeFile(path, d.mem)
	if err != nil {
		return nil, nil, err
	}
	if tbl.NumRows() != int64(ep.Length) {
		tbl.Release()
		return nil, nil, fmt.Errorf("%w: %s has %d rows, episodes.jsonl says episode %d has %d frames", ErrInconsistent, path, tbl.NumRows(), e, ep.Length)
	}
	cols := map[string]*arrow.Chunked{}
	for i, f := range tbl.Schema().Fields() {
		cols[f.Name] = tbl.Column(i).Data()
	}
	column := func(name string) (*arrow.Chunked, error) {
		c, ok := cols[name]
		if !ok {
			return nil, fmt.Errorf("%s: no column %q (info.json declares it)", path, name)
		}
		return c, nil
	}
	fail := func(err error) (*pendingEpisode, func(), error) {
		tbl.Release()
		return nil, nil, err
	}
	taskCol, err := column(colTaskIndex)
	if err != nil {
		return fail(err)
	}
	srcTasks, err := chunkedInts(taskCol)
	if err != nil {
		return fail(fmt.Errorf("%s: task_index: %w", path, err))
	}
	frameTasks := make([]string, len(srcTasks))
	for i, ti := range srcTasks {
		if ti < 0 || int(ti) >= len(d.Tasks) {
			return fail(fmt.Errorf("%w: %s row %d: task_index %d, tasks.jsonl has %d tasks", ErrInconsistent, path, i, ti, len(d.Tasks)))
		}
		frameTasks[i] = d.Tasks[ti]
	}
	stats := map[string]Stats{}
	for _, f := range d.Info.Features {
		if !f.hasStats() {
			continue
		}
		st, ok := ep.Stats[f.Name]
		if !ok {
			switch f.Name {
			case colEpisodeIndex, colIndex, colTaskIndex: // recomputed below when renumbered
			default:
				return fail(fmt.Errorf("%s: episode %d has no stats for %q", EpisodesStatsPathV21, e, f.Name))
			}
		}
		stats[f.Name] = st.withoutQuantiles()
	}
	pe := &pendingEpisode{
		length:     ep.Length,
		frameTasks: frameTasks,
		stats:      stats,
		videos:     map[string]videoPart{},
	}
	pe.record = func(epIndex int, from int64, taskIdx []int64) (arrow.Record, error) {
		// Renumbered indices get fresh stats; unchanged ones keep the source's.
		for _, c := range []struct {
			name    string
			same    bool
			compute func(i int) float64
		}{
			{colEpisodeIndex, epIndex == e, func(int) float64 { return float64(epIndex) }},
			{colIndex, from == ep.FromIndex, func(i int) float64 { return float64(from + int64(i)) }},
			{colTaskIndex, slices.Equal(taskIdx, srcTasks), func(i int) float64 { return float64(taskIdx[i]) }},
		} {
			if _, ok := ep.Stats[c.name]; c.same && ok {
				continue
			}
			v := make([]float64, len(taskIdx))
			for i := range v {
				v[i] = c.compute(i)
			}
			stats[c.name] = computeStats(v, 1, false).withoutQuantiles()
		}
		return buildConvertedRecord(w, cols, path, epIndex, from, taskIdx)
	}
	for _, key := range d.Info.VideoKeys() {
		vrel, err := d.Info.VideoFile(ep, key)
		if err != nil {
			return fail(err)
		}
		vpath := filepath.Join(d.Root, vrel)
		vi, err := videoInfo(ctx, vpath, false)
		if err != nil {
			return fail(err)
		}
		want := float64(ep.Length) / float64(d.Info.FPS)
		if vi.Duration+d.Tolerance < want {
			return fail(fmt.Errorf("%w: %s lasts %.6fs, shorter than episode %d (%d frames, %.6fs)", ErrInconsistent, vpath, vi.Duration, e, ep.Length, want))
		}
		pe.videos[key] = videoPart{path: vpath, info: vi}
	}
	return pe, tbl.Release, nil
}

// readWholeFile reads every column of a Parquet file.
func readWholeFile(path string, mem memory.Allocator) (arrow.Table, error) {
	pf, err := openParquet(path, mem)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	return pf.readRowGroups(nil, nil)
}

// buildConvertedRecord builds a converted episode's rows in w's data
// schema: user columns' values copied (a variable list becomes the fixed
// list LeRobot writes), timestamp and frame_index copied, episode_index,
// index and task_index as renumbered.
func buildConvertedRecord(w *Writer, cols map[string]*arrow.Chunked, path string, epIndex int, from int64, taskIdx []int64) (arrow.Record, error) {
	b := array.NewRecordBuilder(w.mem, w.dataSchema)
	defer b.Release()
	k := 0
	for _, f := range w.user {
		if f.isVideo() {
			continue
		}
		c, ok := cols[f.Name]
		if !ok {
			return nil, fmt.Errorf("%s: no column %q (info.json declares it)", path, f.Name)
		}
		if err := copyColumn(b.Field(k), c, f); err != nil {
			return nil, fmt.Errorf("%s: column %q: %w", path, f.Name, err)
		}
		k++
	}
	n := len(taskIdx)
	ts := make([]float32, 0, n)
	tsCol, ok := cols[colTimestamp]
	if !ok {
		return nil, fmt.Errorf("%s: no column %q", path, colTimestamp)
	}
	if err := forEachValue(tsCol, 1, func(leaf arrow.Array, j int) error {
		v, err := leafFloat(leaf, j)
		ts = append(ts, float32(v))
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: timestamp: %w", path, err)
	}
	fiCol, ok := cols[colFrameIndex]
	if !ok {
		return nil, fmt.Errorf("%s: no column %q", path, colFrameIndex)
	}
	frameIdx, err := chunkedInts(fiCol)
	if err != nil {
		return nil, fmt.Errorf("%s: frame_index: %w", path, err)
	}
	if len(ts) != n || len(frameIdx) != n {
		return nil, fmt.Errorf("%s: %d timestamps and %d frame indices for %d rows", path, len(ts), len(frameIdx), n)
	}
	if err := appendDefaults(b, k, ts, frameIdx, epIndex, from, taskIdx); err != nil {
		return nil, err
	}
	return b.NewRecord(), nil
}

// copyColumn appends the values of c, a column of feature f in another
// file, to b, a builder of f's arrowType.
func copyColumn(b array.Builder, c *arrow.Chunked, f Feature) error {
	switch f.Dtype {
	case "image":
		sb, ok := b.(*array.StructBuilder)
		if !ok {
			return fmt.Errorf("internal: image builder %T", b)
		}
		for _, chunk := range c.Chunks() {
			st, ok := chunk.(*array.Struct)
			if !ok {
				return fmt.Errorf("type %s, want struct<bytes, path>", chunk.DataType())
			}
			var bytesArr *array.Binary
			var pathArr *array.String
			for i, fd := range st.DataType().(*arrow.StructType).Fields() {
				switch fd.Name {
				case "bytes":
					bytesArr, _ = st.Field(i).(*array.Binary)
				case "path":
					pathArr, _ = st.Field(i).(*array.String)
				}
			}
			if bytesArr == nil {
				return errors.New("no binary bytes field")
			}
			bb := sb.FieldBuilder(0).(*array.BinaryBuilder)
			pb := sb.FieldBuilder(1).(*array.StringBuilder)
			for i := 0; i < st.Len(); i++ {
				if st.IsNull(i) || bytesArr.IsNull(i) {
					return fmt.Errorf("row %d: no image bytes", i)
				}
				sb.Append(true)
				bb.Append(bytesArr.Value(i))
				if pathArr != nil && pathArr.IsValid(i) {
					pb.Append(pathArr.Value(i))
				} else {
					pb.AppendNull()
				}
			}
		}
		return nil
	case "string":
		sb, ok := b.(*array.StringBuilder)
		if !ok {
			return fmt.Errorf("internal: string builder %T", b)
		}
		for _, chunk := range c.Chunks() {
			sa, ok := chunk.(*array.String)
			if !ok {
				return fmt.Errorf("type %s, want string", chunk.DataType())
			}
			for i := 0; i < sa.Len(); i++ {
				sb.Append(sa.Value(i))
			}
		}
		return nil
	}
	leaf := b
	if lb, ok := b.(*array.FixedSizeListBuilder); ok {
		rows := c.Len()
		lb.Reserve(rows)
		for i := 0; i < rows; i++ {
			lb.Append(true)
		}
		leaf = lb.ValueBuilder()
	}
	return forEachValue(c, f.dim(), func(arr arrow.Array, j int) error {
		switch lb := leaf.(type) {
		case *array.Float32Builder:
			v, err := leafFloat(arr, j)
			lb.Append(float32(v))
			return err
		case *array.Float64Builder:
			v, err := leafFloat(arr, j)
			lb.Append(v)
			return err
		case *array.Int64Builder:
			v, err := leafInt(arr, j)
			lb.Append(v)
			return err
		case *array.Int32Builder:
			v, err := leafInt(arr, j)
			lb.Append(int32(v))
			return err
		case *array.BooleanBuilder:
			v, err := leafInt(arr, j)
			lb.Append(v != 0)
			return err
		}
		return fmt.Errorf("internal: builder %T", leaf)
	})
}
