package dataset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/e2hil/e2hil/internal/atomicfile"
)

// WriterConfig configures a new v3.0 dataset. Zero sizes take LeRobot's defaults.
type WriterConfig struct {
	Root      string // dataset directory; must not exist or be empty
	RepoID    string // informational (e.g. "user/so101_pick"); not stored in v3.0 files
	FPS       int
	RobotType string    // "" is written as JSON null
	Features  []Feature // user features, in order; the defaults are appended

	ChunksSize         int // files per chunk directory; 0 → 1000
	DataFilesSizeInMB  int // data and episodes-metadata file rollover; 0 → 100
	VideoFilesSizeInMB int // video file rollover; 0 → 200
}

func (c WriterConfig) withDefaults() WriterConfig {
	if c.ChunksSize == 0 {
		c.ChunksSize = DefaultChunksSize
	}
	if c.DataFilesSizeInMB == 0 {
		c.DataFilesSizeInMB = DefaultDataFilesSizeInMB
	}
	if c.VideoFilesSizeInMB == 0 {
		c.VideoFilesSizeInMB = DefaultVideoFilesSizeInMB
	}
	return c
}

// Validate returns every problem of c, each with its field name.
func (c WriterConfig) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("root: must not be empty"))
	}
	if c.FPS <= 0 {
		errs = append(errs, fmt.Errorf("fps: must be > 0, got %d", c.FPS))
	}
	for _, s := range []struct {
		name string
		v    int
	}{{"chunks_size", c.ChunksSize}, {"data_files_size_in_mb", c.DataFilesSizeInMB}, {"video_files_size_in_mb", c.VideoFilesSizeInMB}} {
		if s.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must be > 0 (or 0 for the default), got %d", s.name, s.v))
		}
	}
	errs = append(errs, validateFeatures(c.Features)...)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, joinProblems(errs))
}

// Frame holds one frame's value for every user feature: []float32 of length D
// for a float32 feature of shape [D], a float32 (or []float32 of length 1) for
// shape [1]; likewise float64, int64, int32, bool; string for strings.
type Frame map[string]any

// Writer records a LeRobot v3.0 dataset episode by episode. Frames are
// buffered in memory; SaveEpisode makes the episode durable. It is not safe
// for concurrent use.
type Writer struct {
	root     string
	mem      memory.Allocator
	info     Info
	features []Feature // user features then defaults, as in info.json
	cols     []column  // one per user feature

	dataSchema     *arrow.Schema
	episodesSchema *arrow.Schema

	frameTasks []string // task of each buffered frame

	tasks    []string
	episodes []Episode
	frames   int64 // saved frames

	data, meta openFile
	// Rollover thresholds in MiB, from data_files_size_in_mb (tests lower them).
	dataLimitMB, metaLimitMB float64

	closed bool
}

// openFile is the file a stream currently appends to.
type openFile struct {
	loc   fileLoc
	units int   // row groups (data) or rows (episodes) in it; 0: not started
	bytes int64 // its size on disk
}

// Create starts a new dataset in cfg.Root and writes its meta/info.json.
func Create(cfg WriterConfig) (*Writer, error) {
	return create(cfg, memory.DefaultAllocator)
}

func create(cfg WriterConfig, mem memory.Allocator) (*Writer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := prepareRoot(cfg.Root); err != nil {
		return nil, err
	}
	features := append(slices.Clone(cfg.Features), DefaultFeatures()...)
	w := &Writer{
		root:     cfg.Root,
		mem:      mem,
		features: features,
		info: Info{
			CodebaseVersion:    CodebaseVersion,
			RobotType:          cfg.RobotType,
			ChunksSize:         cfg.ChunksSize,
			DataFilesSizeInMB:  cfg.DataFilesSizeInMB,
			VideoFilesSizeInMB: cfg.VideoFilesSizeInMB,
			FPS:                cfg.FPS,
			Splits:             map[string]string{}, // create_empty_dataset_info writes {}
			DataPath:           DefaultDataPath,
			Features:           features,
		},
		dataLimitMB: float64(cfg.DataFilesSizeInMB),
		metaLimitMB: float64(cfg.DataFilesSizeInMB),
	}
	for _, f := range cfg.Features {
		c, err := newColumn(f)
		if err != nil {
			return nil, fmt.Errorf("feature %q: %w", f.Name, err)
		}
		w.cols = append(w.cols, c)
	}
	var err error
	if w.dataSchema, err = dataSchema(features); err != nil {
		return nil, err
	}
	w.episodesSchema = episodesSchema(features)
	if err := w.writeInfo(); err != nil {
		return nil, err
	}
	return w, nil
}

// prepareRoot accepts a missing or empty directory.
func prepareRoot(root string) error {
	entries, err := os.ReadDir(root)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return atomicfile.MkdirAll(root)
	case err != nil:
		return fmt.Errorf("dataset directory %s: %w", root, err)
	case len(entries) > 0:
		return fmt.Errorf("%w: %s (holds %s)", ErrNotEmpty, root, entries[0].Name())
	}
	return nil
}

// Root is the dataset directory.
func (w *Writer) Root() string { return w.root }

// NumEpisodes is the number of saved episodes.
func (w *Writer) NumEpisodes() int { return len(w.episodes) }

// NumFrames is the number of saved frames.
func (w *Writer) NumFrames() int { return int(w.frames) }

// BufferedFrames is the number of frames of the episode being recorded.
func (w *Writer) BufferedFrames() int { return len(w.frameTasks) }

// AddFrame appends a frame with its task to the episode being recorded. It
// checks that f holds every user feature, nothing else, each with the right
// Go type, length and finite values; on error nothing is added.
func (w *Writer) AddFrame(f Frame, task string) error {
	if w.closed {
		return ErrClosed
	}
	var errs []error
	if task == "" {
		errs = append(errs, errors.New("task: must not be empty"))
	}
	var unknown []string
	for k := range f {
		if !slices.ContainsFunc(w.features, func(ft Feature) bool { return ft.Name == k }) {
			unknown = append(unknown, k)
		} else if isDefaultFeature(k) {
			errs = append(errs, fmt.Errorf("feature %q: set by the writer, must not be in the frame", k))
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("feature %q: not a feature of this dataset", k))
	}
	for i, c := range w.cols {
		name := w.features[i].Name
		v, ok := f[name]
		if !ok {
			errs = append(errs, fmt.Errorf("feature %q: missing", name))
			continue
		}
		if err := c.check(v); err != nil {
			errs = append(errs, fmt.Errorf("feature %q: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: frame %d of episode %d: %w", ErrInvalidFrame, w.BufferedFrames(), len(w.episodes), joinProblems(errs))
	}
	for i, c := range w.cols {
		c.add(f[w.features[i].Name])
	}
	w.frameTasks = append(w.frameTasks, task)
	return nil
}

// ClearEpisode discards the frames of the episode being recorded (re-record).
func (w *Writer) ClearEpisode() {
	for _, c := range w.cols {
		c.reset()
	}
	w.frameTasks = w.frameTasks[:0]
}

// SaveEpisode writes the buffered frames as the next episode. When it
// returns nil the episode is durable: every file it changed was written to a
// temporary file, fsynced and renamed into place. On error the writer state
// is unchanged and SaveEpisode may be retried.
//
// Files are replaced in this order: tasks, data, episodes metadata, stats,
// info.json. A crash part-way leaves each file whole, and info.json (the
// last) describes a consistent prefix; a data or episodes file may then hold
// one episode more than info.json says (recovery is the crash-safety issue).
func (w *Writer) SaveEpisode() error {
	if w.closed {
		return ErrClosed
	}
	n := w.BufferedFrames()
	if n == 0 {
		return fmt.Errorf("save episode %d: %w", len(w.episodes), ErrEmptyEpisode)
	}
	epIndex := len(w.episodes)
	wrap := func(err error) error { return fmt.Errorf("save episode %d: %w", epIndex, err) }

	// Tasks: new ones get the next task_index, in order of first appearance.
	tasks := slices.Clone(w.tasks)
	var epTasks []string
	taskIdx := make([]int64, n)
	for i, t := range w.frameTasks {
		ti := slices.Index(tasks, t)
		if ti < 0 {
			ti = len(tasks)
			tasks = append(tasks, t)
		}
		if !slices.Contains(epTasks, t) {
			epTasks = append(epTasks, t)
		}
		taskIdx[i] = int64(ti)
	}

	from := w.frames
	rec, err := w.buildDataRecord(epIndex, from, taskIdx)
	if err != nil {
		return wrap(err)
	}
	defer rec.Release()
	stats := w.episodeStats(epIndex, from, taskIdx)

	if len(tasks) != len(w.tasks) {
		path := filepath.Join(w.root, TasksPath)
		if err := replaceFile(path, func(out io.Writer) error { return writeTasks(out, tasks, w.mem) }); err != nil {
			return wrap(err)
		}
	}

	data, err := w.writeData(rec)
	if err != nil {
		return wrap(err)
	}
	ep := Episode{
		Index:     epIndex,
		Length:    n,
		Tasks:     epTasks,
		DataChunk: data.loc.chunk,
		DataFile:  data.loc.file,
		FromIndex: from,
		ToIndex:   from + int64(n),
		Stats:     stats,
	}
	episodes := append(slices.Clip(w.episodes), ep)
	meta, err := w.writeEpisodes(episodes)
	if err != nil {
		return wrap(err)
	}

	info := w.info
	info.TotalEpisodes = len(episodes)
	info.TotalFrames = int(from) + n
	info.TotalTasks = len(tasks)
	info.Splits = map[string]string{"train": fmt.Sprintf("0:%d", len(episodes))}
	if err := w.writeStats(episodes); err != nil {
		return wrap(err)
	}
	if err := writeInfoFile(w.root, info); err != nil {
		return wrap(err)
	}

	w.tasks, w.episodes, w.frames, w.info = tasks, episodes, from+int64(n), info
	w.data, w.meta = data, meta
	w.ClearEpisode()
	return nil
}

// Close ends the writer. Saved episodes are already durable; frames of an
// unsaved episode are discarded and reported with ErrUnsavedFrames.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if n := w.BufferedFrames(); n > 0 {
		w.ClearEpisode()
		return fmt.Errorf("close %s: %w: %d frames of episode %d", w.root, ErrUnsavedFrames, n, len(w.episodes))
	}
	return nil
}

// buildDataRecord turns the buffered episode into its data-parquet record.
func (w *Writer) buildDataRecord(epIndex int, from int64, taskIdx []int64) (arrow.Record, error) {
	b := array.NewRecordBuilder(w.mem, w.dataSchema)
	defer b.Release()
	for i, c := range w.cols {
		if err := c.build(b.Field(i)); err != nil {
			return nil, fmt.Errorf("feature %q: %w", w.features[i].Name, err)
		}
	}
	k := len(w.cols)
	ts, ok0 := b.Field(k).(*array.Float32Builder)
	fi, ok1 := b.Field(k + 1).(*array.Int64Builder)
	ei, ok2 := b.Field(k + 2).(*array.Int64Builder)
	gi, ok3 := b.Field(k + 3).(*array.Int64Builder)
	ti, ok4 := b.Field(k + 4).(*array.Int64Builder)
	if !ok0 || !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, errors.New("internal: default column builders have unexpected types")
	}
	for i := range taskIdx {
		// timestamp = float32(frame_index / fps), computed in float64 as
		// Python does, then rounded once (spec §4.1).
		ts.Append(float32(float64(i) / float64(w.info.FPS)))
		fi.Append(int64(i))
		ei.Append(int64(epIndex))
		gi.Append(from + int64(i))
		ti.Append(taskIdx[i])
	}
	return b.NewRecord(), nil
}

// episodeStats computes the per-episode stats of every feature that has
// them, the defaults included, as compute_episode_stats does (spec §5).
func (w *Writer) episodeStats(epIndex int, from int64, taskIdx []int64) map[string]Stats {
	n := len(taskIdx)
	out := make(map[string]Stats, len(w.features))
	for i, c := range w.cols {
		if vals := c.float64s(); vals != nil {
			out[w.features[i].Name] = computeStats(vals, w.features[i].dim(), w.features[i].Dtype == "float32")
		}
	}
	col := func(f func(i int) float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = f(i)
		}
		return v
	}
	// LeRobot buffers timestamps as Python floats, so their stats are of the
	// float64 values frame_index/fps, not of the stored float32.
	out[colTimestamp] = computeStats(col(func(i int) float64 { return float64(i) / float64(w.info.FPS) }), 1, false)
	out[colFrameIndex] = computeStats(col(func(i int) float64 { return float64(i) }), 1, false)
	out[colEpisodeIndex] = computeStats(col(func(int) float64 { return float64(epIndex) }), 1, false)
	out[colIndex] = computeStats(col(func(i int) float64 { return float64(from + int64(i)) }), 1, false)
	out[colTaskIndex] = computeStats(col(func(i int) float64 { return float64(taskIdx[i]) }), 1, false)
	return out
}

// writeData appends rec as a new row group of the current data file, or
// starts the next file when the current one would reach
// data_files_size_in_mb (LeRobot's rule: size + mean size per frame × frames
// of the episode ≥ limit, spec §1.2).
//
// Appending rewrites the file: its row groups are decoded and re-encoded,
// with rec added, into a temporary file that then replaces it, so a crash
// never leaves a file without its footer. That costs O(file size) per
// episode (measured ~75 ms per MB of existing file on a loaded 2-core
// machine); the rollover bounds it by data_files_size_in_mb. Appending in
// place with Parquet's cumulative footers, truncated back on recovery, would
// make it O(episode).
func (w *Writer) writeData(rec arrow.Record) (openFile, error) {
	cur := w.data
	if cur.units > 0 {
		sizeMB := float64(cur.bytes) / (1024 * 1024)
		perFrame := sizeMB / float64(w.framesInDataFile(cur.loc))
		if sizeMB+perFrame*float64(rec.NumRows()) >= w.dataLimitMB {
			cur = openFile{loc: cur.loc.next(w.info.ChunksSize)}
		}
	}
	rel, err := cur.loc.path(w.info.DataPath)
	if err != nil {
		return openFile{}, err
	}
	path := filepath.Join(w.root, rel)
	keep := cur.units
	err = replaceFile(path, func(out io.Writer) error {
		fw, err := newParquetWriter(out, w.dataSchema, w.mem)
		if err != nil {
			return err
		}
		defer fw.Close()
		if keep > 0 {
			if err := copyRowGroups(fw, path, keep, w.dataSchema, w.mem); err != nil {
				return err
			}
		}
		if err := fw.Write(rec); err != nil {
			return err
		}
		return fw.Close()
	})
	if err != nil {
		return openFile{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return openFile{}, err
	}
	cur.units++
	cur.bytes = st.Size()
	return cur, nil
}

func (w *Writer) framesInDataFile(loc fileLoc) int64 {
	var n int64
	for _, e := range w.episodes {
		if e.DataChunk == loc.chunk && e.DataFile == loc.file {
			n += int64(e.Length)
		}
	}
	return max(n, 1)
}

// rowGroupWriter is the part of pqarrow.FileWriter that copies row groups.
type rowGroupWriter interface {
	NewRowGroup()
	WriteColumnChunked(data *arrow.Chunked, offset, size int64) error
}

// copyRowGroups copies the first n row groups of the Parquet file at path
// into fw, one row group each. Only row groups of saved episodes are copied,
// so a retried SaveEpisode never duplicates one.
func copyRowGroups(fw rowGroupWriter, path string, n int, schema *arrow.Schema, mem memory.Allocator) error {
	pf, err := openParquet(path, mem)
	if err != nil {
		return err
	}
	defer pf.Close()
	if pf.numRowGroups() < n {
		return fmt.Errorf("%s: %d row groups, want at least %d: %w", path, pf.numRowGroups(), n, ErrInconsistent)
	}
	for rg := 0; rg < n; rg++ {
		if err := copyRowGroup(fw, pf, rg, schema); err != nil {
			return err
		}
	}
	return nil
}

func copyRowGroup(fw rowGroupWriter, pf *parquetFile, rg int, schema *arrow.Schema) error {
	tbl, err := pf.readRowGroups(nil, []int{rg})
	if err != nil {
		return err
	}
	defer tbl.Release()
	if int(tbl.NumCols()) != schema.NumFields() {
		return fmt.Errorf("%s: %d columns, want %d: %w", pf.path, tbl.NumCols(), schema.NumFields(), ErrInconsistent)
	}
	for i, f := range schema.Fields() {
		got := tbl.Schema().Field(i)
		if got.Name != f.Name || !arrow.TypeEqual(got.Type, f.Type) {
			return fmt.Errorf("%s: column %d is %s %s, want %s %s: %w", pf.path, i, got.Name, got.Type, f.Name, f.Type, ErrInconsistent)
		}
	}
	fw.NewRowGroup()
	for i := 0; i < int(tbl.NumCols()); i++ {
		if err := fw.WriteColumnChunked(tbl.Column(i).Data(), 0, tbl.NumRows()); err != nil {
			return fmt.Errorf("%s: row group %d, column %q: %w", pf.path, rg, schema.Field(i).Name, err)
		}
	}
	return nil
}

// writeEpisodes rewrites the current episodes metadata file with the rows
// that belong to it, the last of episodes being new; rows go in row groups of
// 10 as LeRobot buffers them. The file rolls over by the same rule as data.
func (w *Writer) writeEpisodes(episodes []Episode) (openFile, error) {
	cur := w.meta
	if cur.units > 0 {
		sizeMB := float64(cur.bytes) / (1024 * 1024)
		if sizeMB+sizeMB/float64(cur.units) >= w.metaLimitMB {
			cur = openFile{loc: cur.loc.next(w.info.ChunksSize)}
		}
	}
	last := &episodes[len(episodes)-1]
	last.MetaChunk, last.MetaFile = cur.loc.chunk, cur.loc.file
	rows := episodes[len(episodes)-1-cur.units:]

	rel, err := cur.loc.path(DefaultEpisodesPath)
	if err != nil {
		return openFile{}, err
	}
	path := filepath.Join(w.root, rel)
	err = replaceFile(path, func(out io.Writer) error {
		var recs []arrow.Record
		defer func() {
			for _, r := range recs {
				r.Release()
			}
		}()
		for start := 0; start < len(rows); start += episodesPerRowGroup {
			r, err := buildEpisodesRecord(w.mem, w.episodesSchema, w.features, rows[start:min(start+episodesPerRowGroup, len(rows))])
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		return writeRecords(out, w.episodesSchema, w.mem, recs...)
	})
	if err != nil {
		return openFile{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return openFile{}, err
	}
	cur.units++
	cur.bytes = st.Size()
	return cur, nil
}

// writeStats rewrites meta/stats.json as the aggregate of every episode's stats.
func (w *Writer) writeStats(episodes []Episode) error {
	agg := make(map[string]Stats, len(w.features))
	for _, f := range w.features {
		if !f.hasStats() {
			continue
		}
		list := make([]Stats, len(episodes))
		for i, e := range episodes {
			list[i] = e.Stats[f.Name]
		}
		s, err := aggregateStats(list)
		if err != nil {
			return fmt.Errorf("stats of %q: %w", f.Name, err)
		}
		agg[f.Name] = s
	}
	b, err := encodeStatsJSON(w.features, agg)
	if err != nil {
		return err
	}
	return replaceFile(filepath.Join(w.root, StatsPath), func(out io.Writer) error {
		_, err := out.Write(b)
		return err
	})
}

func (w *Writer) writeInfo() error { return writeInfoFile(w.root, w.info) }

func writeInfoFile(root string, info Info) error {
	b, err := info.EncodeJSON()
	if err != nil {
		return err
	}
	return replaceFile(filepath.Join(root, InfoPath), func(out io.Writer) error {
		_, err := out.Write(b)
		return err
	})
}
