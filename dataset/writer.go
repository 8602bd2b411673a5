package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/e2hil/e2hil/dataset/video"
	"github.com/e2hil/e2hil/internal/atomicfile"
)

// WriterConfig configures a new dataset. Zero sizes take LeRobot's defaults.
type WriterConfig struct {
	Root      string // dataset directory; must not exist or be empty
	RepoID    string // informational (e.g. "user/so101_pick"); not stored in the files
	FPS       int
	RobotType string    // "" is written as JSON null
	Features  []Feature // user features, in order; the defaults are appended

	// CodebaseVersion selects the format: "v3.0" (the default; what LeRobot
	// ≥ 0.4 reads) or "v2.1" (LeRobot ≤ 0.3, the E2HiL code base).
	CodebaseVersion string

	ChunksSize         int // v3.0: files per chunk directory, v2.1: episodes per chunk; 0 → 1000
	DataFilesSizeInMB  int // v3.0 data and episodes-metadata file rollover; 0 → 100
	VideoFilesSizeInMB int // v3.0 video file rollover; 0 → 200

	// Video is the encoder of video features; the zero value is LeRobot's
	// (libsvtav1, yuv420p, GOP 2, CRF 30, preset 12).
	Video video.EncoderConfig
}

func (c WriterConfig) withDefaults() WriterConfig {
	if c.CodebaseVersion == "" {
		c.CodebaseVersion = CodebaseVersion
	}
	if c.ChunksSize == 0 {
		c.ChunksSize = DefaultChunksSize
	}
	if c.DataFilesSizeInMB == 0 {
		c.DataFilesSizeInMB = DefaultDataFilesSizeInMB
	}
	if c.VideoFilesSizeInMB == 0 {
		c.VideoFilesSizeInMB = DefaultVideoFilesSizeInMB
	}
	if c.Video == (video.EncoderConfig{}) {
		c.Video = video.DefaultEncoderConfig()
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
	switch c.CodebaseVersion {
	case "", CodebaseVersion, CodebaseVersionV21:
	default:
		errs = append(errs, fmt.Errorf("codebase_version: must be %s or %s, got %q", CodebaseVersion, CodebaseVersionV21, c.CodebaseVersion))
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
	enc := c.withDefaults().Video
	if slices.ContainsFunc(c.Features, Feature.isVideo) {
		if err := enc.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("video: %w", err))
		}
	}
	for i, f := range c.Features {
		if h, w, err := f.imageSize(); f.isVideo() && err == nil {
			if err := enc.CheckSize(w, h); err != nil {
				errs = append(errs, fmt.Errorf("features[%d] (%q).shape: %w", i, f.Name, err))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, joinProblems(errs))
}

// Frame holds one frame's value for every user feature: []float32 of length D
// for a float32 feature of shape [D], a float32 (or []float32 of length 1) for
// shape [1]; likewise float64, int64, int32, bool; string for strings; for
// image and video features an RGB, image.Image or packed RGB24 []byte of
// the feature's size.
type Frame map[string]any

// Writer records a LeRobot dataset (v3.0 or v2.1) episode by episode.
// Numeric and image values are buffered in memory, video frames stream into
// one ffmpeg encoder per camera as they arrive; SaveEpisode makes the
// episode durable, all files or none (commit.go). A lock file keeps a second
// writer off the dataset. It is not safe for concurrent use.
type Writer struct {
	root      string
	mem       memory.Allocator
	info      Info
	features  []Feature // user features then defaults, as in info.json
	user      []Feature // user features
	cols      []column  // one per user feature
	v21       bool
	quantiles bool // store v3.0 quantiles (not for datasets converted from v2.1)
	videoCfg  video.EncoderConfig

	dataSchema     *arrow.Schema
	episodesSchema *arrow.Schema

	frameTasks []string // task of each buffered frame

	tasks       []string
	tasksOnDisk int // tasks in the tasks file
	episodes    []Episode
	frames      int64 // saved frames

	data, meta openFile
	videos     map[string]videoFile // v3.0: the file each video key appends to
	// Rollover thresholds in MiB (tests lower them).
	dataLimitMB, metaLimitMB, videoLimitMB float64

	lock     *writerLock
	staging  string // absolute .e2hil/staging
	broken   error  // the buffered episode cannot be saved; ClearEpisode
	failed   error  // a save stopped half-way; only Close (which recovers) is left
	closed   bool
	videoSeq int
}

// openFile is the file a stream currently appends to.
type openFile struct {
	loc   fileLoc
	units int   // row groups (data) or rows (episodes) in it; 0: not started
	bytes int64 // its size on disk
}

// videoFile is the mp4 a video key currently appends to (v3.0).
type videoFile struct {
	started bool
	loc     fileLoc
	frames  int     // frames in it
	end     float64 // to_timestamp of its last segment
	bytes   int64
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
	return startWriter(cfg, mem, !(cfg.CodebaseVersion == CodebaseVersionV21))
}

// startWriter locks cfg.Root and starts a writer on it; quantiles says
// whether episodes carry v3.0's quantile stats.
func startWriter(cfg WriterConfig, mem memory.Allocator, quantiles bool) (*Writer, error) {
	hasVideo := slices.ContainsFunc(cfg.Features, Feature.isVideo)
	if hasVideo {
		if err := video.Available(); err != nil {
			return nil, fmt.Errorf("%w: video features need ffmpeg: %w", ErrInvalidConfig, err)
		}
	}
	if err := atomicfile.MkdirAll(cfg.Root); err != nil {
		return nil, fmt.Errorf("dataset directory %s: %w", cfg.Root, err)
	}
	lock, err := lockDataset(cfg.Root)
	if err != nil {
		return nil, err
	}
	w, err := newWriter(cfg, mem, lock, quantiles)
	if err != nil {
		lock.release()
		// Leave nothing of ours in a directory we refused: only empty dirs go.
		os.Remove(filepath.Join(cfg.Root, privateDir, stagingDir))
		os.Remove(filepath.Join(cfg.Root, privateDir))
		return nil, err
	}
	return w, nil
}

func newWriter(cfg WriterConfig, mem memory.Allocator, lock *writerLock, quantiles bool) (*Writer, error) {
	if err := checkEmpty(cfg.Root); err != nil {
		return nil, err
	}
	v21 := cfg.CodebaseVersion == CodebaseVersionV21
	features := append(slices.Clone(cfg.Features), DefaultFeatures()...)
	w := &Writer{
		root:      cfg.Root,
		mem:       mem,
		user:      slices.Clone(cfg.Features),
		features:  features,
		v21:       v21,
		quantiles: quantiles && !v21,
		videoCfg:  cfg.Video,
		lock:      lock,
		staging:   filepath.Join(cfg.Root, privateDir, stagingDir),
		videos:    map[string]videoFile{},
		info: Info{
			CodebaseVersion: cfg.CodebaseVersion,
			RobotType:       cfg.RobotType,
			ChunksSize:      cfg.ChunksSize,
			FPS:             cfg.FPS,
			Splits:          map[string]string{}, // create_empty_dataset_info writes {}
			DataPath:        DefaultDataPath,
			Features:        features,
		},
		dataLimitMB:  float64(cfg.DataFilesSizeInMB),
		metaLimitMB:  float64(cfg.DataFilesSizeInMB),
		videoLimitMB: float64(cfg.VideoFilesSizeInMB),
	}
	if v21 {
		w.info.DataPath = DefaultDataPathV21
	} else {
		w.info.DataFilesSizeInMB, w.info.VideoFilesSizeInMB = cfg.DataFilesSizeInMB, cfg.VideoFilesSizeInMB
	}
	if slices.ContainsFunc(cfg.Features, Feature.isVideo) {
		w.info.VideoPath = DefaultVideoPath
		if v21 {
			w.info.VideoPath = DefaultVideoPathV21
		}
	}
	if err := atomicfile.MkdirAll(w.staging); err != nil {
		return nil, err
	}
	for _, f := range cfg.Features {
		var c column
		var err error
		switch f.Dtype {
		case "video":
			key := f.Name
			c, err = newVideoColumn(f, cfg.FPS, cfg.Video, func() string {
				w.videoSeq++
				return filepath.Join(w.staging, fmt.Sprintf("rec-%06d-%s.mp4", w.videoSeq, safeName(key)))
			})
		case "image":
			var ic *imageColumn
			ic, err = newImageColumn(f)
			if err == nil && v21 {
				ic.pathFormat = "frame_%06d.png" // v2.1's image file names (spec §4.3)
			}
			c = ic
		default:
			c, err = newColumn(f)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: feature %q: %w", ErrInvalidConfig, f.Name, err)
		}
		w.cols = append(w.cols, c)
	}
	var err error
	if w.dataSchema, err = dataSchema(features, v21); err != nil {
		return nil, err
	}
	w.episodesSchema = episodesSchema(features, w.quantiles)
	if err := writeInfoFile(w.root, w.info); err != nil {
		return nil, err
	}
	// Encoders start before the first frame arrives (ffmpeg takes a quarter
	// of a second to start); a failure here is reported by that frame.
	for _, c := range w.cols {
		if vc, ok := c.(*videoColumn); ok {
			vc.startEncoder()
		}
	}
	return w, nil
}

// checkEmpty accepts a directory holding nothing but the writer's private
// directory.
func checkEmpty(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("dataset directory %s: %w", root, err)
	}
	for _, e := range entries {
		if e.Name() != privateDir {
			return fmt.Errorf("%w: %s (holds %s)", ErrNotEmpty, root, e.Name())
		}
	}
	return nil
}

// safeName makes a feature name usable in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == filepath.Separator || r == 0 {
			return '_'
		}
		return r
	}, s)
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
// Go type, length, size and finite values; on such an error nothing is
// added. An I/O error of a video encoder leaves the episode unusable:
// ClearEpisode discards it.
func (w *Writer) AddFrame(f Frame, task string) error {
	if w.closed {
		return ErrClosed
	}
	if w.failed != nil {
		return w.failed
	}
	if w.broken != nil {
		return fmt.Errorf("episode %d: %w (ClearEpisode discards it)", len(w.episodes), w.broken)
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
	prepared := make([]any, len(w.cols))
	for i, c := range w.cols {
		name := w.user[i].Name
		v, ok := f[name]
		if !ok {
			errs = append(errs, fmt.Errorf("feature %q: missing", name))
			continue
		}
		p, err := c.prepare(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("feature %q: %w", name, err))
		}
		prepared[i] = p
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: frame %d of episode %d: %w", ErrInvalidFrame, w.BufferedFrames(), len(w.episodes), joinProblems(errs))
	}
	for i, c := range w.cols {
		if err := c.add(prepared[i]); err != nil {
			w.broken = fmt.Errorf("feature %q: %w", w.user[i].Name, err)
			return fmt.Errorf("frame %d of episode %d: %w", w.BufferedFrames(), len(w.episodes), w.broken)
		}
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
	w.broken = nil
}

// SaveEpisode is SaveEpisodeContext without a deadline.
func (w *Writer) SaveEpisode() error { return w.SaveEpisodeContext(context.Background()) }

// SaveEpisodeContext writes the buffered frames as the next episode. When it
// returns nil the episode is durable; on error the dataset is as before, and
// the writer too (SaveEpisode may be retried), unless the error says the
// episode is unusable (ClearEpisode) or the save was interrupted half-way
// (ErrInterrupted: Close completes it).
func (w *Writer) SaveEpisodeContext(ctx context.Context) error {
	if w.closed {
		return ErrClosed
	}
	if w.failed != nil {
		return w.failed
	}
	epIndex := len(w.episodes)
	wrap := func(err error) error { return fmt.Errorf("save episode %d: %w", epIndex, err) }
	if w.broken != nil {
		return wrap(fmt.Errorf("%w (ClearEpisode discards it)", w.broken))
	}
	n := w.BufferedFrames()
	if n == 0 {
		return wrap(ErrEmptyEpisode)
	}
	pe := &pendingEpisode{
		length:       n,
		frameTasks:   w.frameTasks,
		stats:        map[string]Stats{},
		defaultStats: true,
		videos:       map[string]videoPart{},
		record: func(epIndex int, from int64, taskIdx []int64) (arrow.Record, error) {
			return w.buildDataRecord(epIndex, from, taskIdx)
		},
	}
	for _, c := range w.cols {
		if vc, ok := c.(*videoColumn); ok {
			vc.endInput()
		}
	}
	for i, c := range w.cols {
		f := w.user[i]
		if s, ok := c.stats(w.quantiles); ok {
			pe.stats[f.Name] = s
		}
		vc, ok := c.(*videoColumn)
		if !ok {
			continue
		}
		path, err := vc.finish()
		if err != nil {
			w.broken = fmt.Errorf("video %q: %w", f.Name, err)
			return wrap(w.broken)
		}
		part, err := checkOwnVideo(path, n, w.info.FPS, w.videoCfg.PixFmt)
		if err != nil {
			w.broken = fmt.Errorf("video %q: %w", f.Name, err)
			return wrap(w.broken)
		}
		pe.videos[f.Name] = part
	}
	if err := w.appendEpisode(ctx, pe); err != nil {
		return wrap(err)
	}
	for _, c := range w.cols {
		if vc, ok := c.(*videoColumn); ok {
			vc.release() // the dataset owns the mp4 now
		}
	}
	w.ClearEpisode()
	return nil
}

// checkOwnVideo checks an episode mp4 we encoded, n frames at pts k/fps,
// from its sample tables (no process to start), and describes it as
// ffprobe would for info.json: the codec from the sample entry, the pixel
// format we asked the encoder for.
func checkOwnVideo(path string, n, fps int, pixFmt string) (videoPart, error) {
	mi, err := video.ReadMP4(path)
	if err != nil {
		return videoPart{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return videoPart{}, err
	}
	info := video.Info{Codec: video.CodecName(mi.Codec), PixFmt: pixFmt, Width: mi.Width, Height: mi.Height,
		FPS: float64(fps), Duration: mi.Duration, NumFrames: mi.Frames, Size: st.Size()}
	if !closeTo(mi.FrameDuration, 1/float64(fps), 1e-9) {
		return videoPart{}, fmt.Errorf("%s: frames last %.6fs, want 1/%d s", path, mi.FrameDuration, fps)
	}
	want := float64(n) / float64(fps)
	if (info.NumFrames >= 0 && info.NumFrames != n) || !closeTo(info.Duration, want, video.DefaultTolerance) {
		return videoPart{}, fmt.Errorf("%s: encoded %d frames lasting %.6fs, the episode has %d frames (%.6fs)", path, info.NumFrames, info.Duration, n, want)
	}
	if err := fsyncFile(path); err != nil {
		return videoPart{}, err
	}
	return videoPart{path: path, owned: true, info: info}, nil
}

// videoInfo describes an mp4: with probe, as ffprobe sees it (codec, pixel
// format: what info.json records); else from its sample tables (frames,
// duration, size), without starting a process, falling back to ffprobe for
// files of another shape.
func videoInfo(ctx context.Context, path string, probe bool) (video.Info, error) {
	if !probe {
		if mi, err := video.ReadMP4(path); err == nil {
			st, err := os.Stat(path)
			if err != nil {
				return video.Info{}, err
			}
			fps := 0.0
			if mi.FrameDuration > 0 {
				fps = 1 / mi.FrameDuration
			}
			return video.Info{Width: mi.Width, Height: mi.Height, FPS: fps, Duration: mi.Duration, NumFrames: mi.Frames, Size: st.Size()}, nil
		}
	}
	return video.Probe(ctx, path)
}

func closeTo(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }

func fsyncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Close ends the writer. Saved episodes are already durable; frames of an
// unsaved episode are discarded and reported with ErrUnsavedFrames. Close
// completes a save that was interrupted half-way, then removes the writer's
// private directory and lock.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	n := w.BufferedFrames()
	w.ClearEpisode()
	for _, c := range w.cols {
		if vc, ok := c.(*videoColumn); ok {
			vc.shutdown()
		}
	}
	var errs []error
	if pendingJournal(w.root) { // the writer holds the lock: replay directly
		if _, err := replayJournal(w.root); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(w.staging); err != nil {
			errs = append(errs, err)
		}
	}
	if err := w.lock.release(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		os.Remove(filepath.Join(w.root, privateDir)) // only if empty
	}
	if n > 0 {
		errs = append(errs, fmt.Errorf("%w: %d frames of episode %d", ErrUnsavedFrames, n, len(w.episodes)))
	}
	if len(errs) > 0 {
		return fmt.Errorf("close %s: %w", w.root, joinProblems(errs))
	}
	return nil
}

// buildDataRecord turns the buffered episode into its data-parquet record.
func (w *Writer) buildDataRecord(epIndex int, from int64, taskIdx []int64) (arrow.Record, error) {
	b := array.NewRecordBuilder(w.mem, w.dataSchema)
	defer b.Release()
	k := 0
	for i, c := range w.cols {
		if w.user[i].isVideo() {
			continue
		}
		if err := c.build(b.Field(k)); err != nil {
			return nil, fmt.Errorf("feature %q: %w", w.user[i].Name, err)
		}
		k++
	}
	frameIdx := make([]int64, len(taskIdx))
	ts := make([]float32, len(taskIdx))
	for i := range frameIdx {
		frameIdx[i] = int64(i)
		// timestamp = float32(frame_index / fps), computed in float64 as
		// Python does, then rounded once (spec §4.1).
		ts[i] = float32(float64(i) / float64(w.info.FPS))
	}
	if err := appendDefaults(b, k, ts, frameIdx, epIndex, from, taskIdx); err != nil {
		return nil, err
	}
	return b.NewRecord(), nil
}

// appendDefaults fills the five default columns, at field k onwards.
func appendDefaults(b *array.RecordBuilder, k int, ts []float32, frameIdx []int64, epIndex int, from int64, taskIdx []int64) error {
	tsb, ok0 := b.Field(k).(*array.Float32Builder)
	fi, ok1 := b.Field(k + 1).(*array.Int64Builder)
	ei, ok2 := b.Field(k + 2).(*array.Int64Builder)
	gi, ok3 := b.Field(k + 3).(*array.Int64Builder)
	ti, ok4 := b.Field(k + 4).(*array.Int64Builder)
	if !ok0 || !ok1 || !ok2 || !ok3 || !ok4 {
		return errors.New("internal: default column builders have unexpected types")
	}
	tsb.AppendValues(ts, nil)
	fi.AppendValues(frameIdx, nil)
	for i := range taskIdx {
		ei.Append(int64(epIndex))
		gi.Append(from + int64(i))
	}
	ti.AppendValues(taskIdx, nil)
	return nil
}

// defaultStats computes the stats of the five default features, as
// compute_episode_stats does (spec §5), from the values written.
func defaultStats(ts []float64, frameIdx []int64, epIndex int, from int64, taskIdx []int64, quantiles bool) map[string]Stats {
	n := len(taskIdx)
	col := func(f func(i int) float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = f(i)
		}
		return v
	}
	out := map[string]Stats{
		colTimestamp:    computeStats(ts, 1, false),
		colFrameIndex:   computeStats(col(func(i int) float64 { return float64(frameIdx[i]) }), 1, false),
		colEpisodeIndex: computeStats(col(func(int) float64 { return float64(epIndex) }), 1, false),
		colIndex:        computeStats(col(func(i int) float64 { return float64(from + int64(i)) }), 1, false),
		colTaskIndex:    computeStats(col(func(i int) float64 { return float64(taskIdx[i]) }), 1, false),
	}
	if !quantiles {
		for k, s := range out {
			out[k] = s.withoutQuantiles()
		}
	}
	return out
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

func writeInfoFile(root string, info Info) error {
	b, err := info.EncodeJSON()
	if err != nil {
		return err
	}
	return replaceFile(filepath.Join(root, InfoPath), writeBytes(b))
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}
