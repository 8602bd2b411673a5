package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/e2hil/e2hil/dataset/video"
)

// Problem is one thing wrong with a dataset: what LeRobot's loader would
// reject or misread, or a file that is missing or damaged.
type Problem struct {
	File  string `json:"file"`  // path relative to the dataset root ("" for the dataset as a whole)
	Field string `json:"field"` // key, column or JSON path inside File; may be ""
	Msg   string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Validation is the result of Validate.
type Validation struct {
	Root            string    `json:"root"`
	CodebaseVersion string    `json:"codebase_version"`
	Problems        []Problem `json:"problems"`
	Warnings        []string  `json:"warnings"`
	// CheckedFrames counts the data rows read and checked.
	CheckedFrames int `json:"checked_frames"`
}

// OK reports a dataset without problems.
func (v *Validation) OK() bool { return len(v.Problems) == 0 }

// Err is nil for a valid dataset, else an error saying how many problems.
func (v *Validation) Err() error {
	if v.OK() {
		return nil
	}
	return fmt.Errorf("%w: %s: %d problem(s)", ErrInvalidDataset, v.Root, len(v.Problems))
}

// ValidateOptions tune Validate.
type ValidateOptions struct {
	// Tolerance for video timestamps, seconds; 0 is LeRobot's 1e-4.
	Tolerance float64
	// SkipDecode checks videos with ffprobe only, without decoding each
	// episode's first and last frame at its timestamp.
	SkipDecode bool
}

// maxRowProblems bounds the per-row problems reported for one file and column.
const maxRowProblems = 3

// Validate checks a dataset as LeRobot's loader would (spec §7.2, §7.3) and
// checks the integrity of every file it names: metadata present and
// consistent, every data file present, readable, with the columns and types
// of info.json and the `huggingface` metadata LeRobot writes, rows whose
// indices and timestamps agree with the metadata, every video present,
// readable, long enough, with decodable frames at the episodes' timestamps.
// The error is for validation that could not run (context cancelled, ffmpeg
// missing); what is wrong with the dataset is in Problems.
func Validate(ctx context.Context, root string, opts ValidateOptions) (*Validation, error) {
	if opts.Tolerance == 0 {
		opts.Tolerance = video.DefaultTolerance
	}
	x := &validator{ctx: ctx, root: root, opts: opts, mem: memory.DefaultAllocator,
		v: &Validation{Root: root, Problems: []Problem{}, Warnings: []string{}}}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("validate: %s is not a directory", root)
	}
	if pendingJournal(root) {
		x.add(filepath.Join(privateDir, journalName), "", "an episode save was interrupted half-way; `e2hil dataset validate --repair` (dataset.Recover) completes it")
		return x.v, nil
	}
	if _, err := os.Stat(filepath.Join(root, privateDir, lockName)); err == nil {
		x.v.Warnings = append(x.v.Warnings, fmt.Sprintf("%s exists: a writer has the dataset open or was stopped before closing it (saved episodes are complete either way)", filepath.Join(privateDir, lockName)))
	}
	if !x.readInfo() {
		return x.v, nil
	}
	if x.info.isV2() {
		x.validateV21()
	} else {
		x.validateV30()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if x.fatal != nil {
		return nil, x.fatal
	}
	return x.v, nil
}

type validator struct {
	ctx   context.Context
	root  string
	opts  ValidateOptions
	mem   memory.Allocator
	v     *Validation
	info  Info
	tasks []string
	fatal error // validation cannot go on (ffmpeg missing)
}

func (x *validator) add(file, field, format string, args ...any) {
	x.v.Problems = append(x.v.Problems, Problem{File: filepath.ToSlash(file), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (x *validator) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(x.root, rel))
	return err == nil
}

// readInfo parses meta/info.json, one problem per error.
func (x *validator) readInfo() bool {
	b, err := os.ReadFile(filepath.Join(x.root, InfoPath))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			x.add(InfoPath, "", "missing: not a LeRobot dataset (every version has meta/info.json)")
		} else {
			x.add(InfoPath, "", "%v", err)
		}
		return false
	}
	info, err := ParseInfo(b)
	if err != nil {
		var ps problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				x.add(InfoPath, "", "%s", strings.TrimPrefix(p.Error(), "info.json: "))
			}
		} else {
			x.add(InfoPath, "", "%s", strings.TrimPrefix(err.Error(), "info.json: "))
		}
		return false
	}
	x.info = info
	x.v.CodebaseVersion = info.CodebaseVersion
	if err := info.checkSupported(); err != nil {
		x.add(InfoPath, "codebase_version", "%s is not a version LeRobot datasets use here: e2hil reads v2.1 and v3.0", info.CodebaseVersion)
		return false
	}
	for _, k := range info.Extra {
		x.v.Warnings = append(x.v.Warnings, fmt.Sprintf("%s: key %q is not part of the format; LeRobot ignores it", InfoPath, k.Key))
	}
	ok := true
	for _, f := range info.Features {
		field := "features." + f.Name
		switch {
		case f.isVisual():
			if _, _, err := f.imageSize(); err != nil {
				x.add(InfoPath, field+".shape", "%v", err)
				ok = false
			}
		case f.Dtype == "string":
		default:
			if _, err := arrowScalarType(f.Dtype); err != nil {
				x.add(InfoPath, field+".dtype", "%q is not a dtype e2hil reads (float32, float64, int64, int32, bool, string, image, video)", f.Dtype)
				ok = false
			} else if _, err := f.arrowType(); err != nil {
				x.add(InfoPath, field+".shape", "%v", err)
				ok = false
			}
		}
	}
	for _, d := range DefaultFeatures() {
		f, found := info.Feature(d.Name)
		if !found {
			x.add(InfoPath, "features", "default feature %q is missing (LeRobot adds timestamp, frame_index, episode_index, index, task_index)", d.Name)
			ok = false
		} else if f.Dtype != d.Dtype || !slices.Equal(f.Shape, d.Shape) {
			x.add(InfoPath, "features."+d.Name, "is %s %v, LeRobot's is %s %v", f.Dtype, f.Shape, d.Dtype, d.Shape)
			ok = false
		}
	}
	if keys := info.VideoKeys(); len(keys) > 0 && info.VideoPath == "" {
		x.add(InfoPath, "video_path", "is null but %d feature(s) are videos", len(keys))
		ok = false
	}
	wantData := DefaultDataPath
	if info.isV2() {
		wantData = DefaultDataPathV21
	}
	if _, err := info.DataFile(Episode{}); err != nil {
		x.add(InfoPath, "data_path", "%v", err)
		ok = false
	} else if info.DataPath != wantData {
		x.v.Warnings = append(x.v.Warnings, fmt.Sprintf("%s: data_path %q is not LeRobot's %q", InfoPath, info.DataPath, wantData))
	}
	if info.TotalEpisodes > 0 {
		want := fmt.Sprintf("0:%d", info.TotalEpisodes)
		if got, found := info.Splits["train"]; found && got != want {
			x.add(InfoPath, "splits.train", "is %q, want %q for %d episodes", got, want, info.TotalEpisodes)
		}
	}
	return ok
}

// ----- v3.0 -----

func (x *validator) validateV30() {
	info := x.info
	// Tasks (spec §3.2).
	if x.exists(TasksPath) {
		x.tasks = x.v30Tasks()
	} else if info.TotalTasks > 0 {
		x.add(TasksPath, "", "missing (info.json total_tasks is %d)", info.TotalTasks)
	}
	if x.tasks != nil && len(x.tasks) != info.TotalTasks {
		x.add(TasksPath, "", "has %d tasks, info.json total_tasks is %d", len(x.tasks), info.TotalTasks)
	}
	eps, ok := x.v30Episodes()
	x.v30Stats()
	if !ok {
		return
	}
	x.checkData(eps)
	x.checkVideos(eps)
}

func (x *validator) v30Tasks() []string {
	pf, err := openParquet(filepath.Join(x.root, TasksPath), x.mem)
	if err != nil {
		x.add(TasksPath, "", "not a readable Parquet file: %v", trimPath(err, x.root))
		return nil
	}
	defer pf.Close()
	if md, ok := pf.keyValue("pandas"); !ok {
		x.add(TasksPath, "pandas", "no pandas metadata: pandas would give the tasks a RangeIndex, so LeRobot's tasks.iloc[i].name would be a number, not the task")
	} else {
		var pandas struct {
			IndexColumns []any `json:"index_columns"`
		}
		if err := json.Unmarshal([]byte(md), &pandas); err != nil {
			x.add(TasksPath, "pandas", "metadata is not JSON: %v", err)
		} else if len(pandas.IndexColumns) != 1 {
			x.add(TasksPath, "pandas", "index_columns is %v; LeRobot needs the task string as the index", pandas.IndexColumns)
		} else if name, ok := pandas.IndexColumns[0].(string); !ok || !pf.hasField(name) {
			x.add(TasksPath, "pandas", "index column %v is not a column of the file; LeRobot needs the task string as the index", pandas.IndexColumns[0])
		}
	}
	tasks, err := readTasks(pf)
	if err != nil {
		x.add(TasksPath, "", "%s", trimPath(err, x.root))
		return nil
	}
	return tasks
}

// episodeColumns are the columns LeRobot reads from meta/episodes, with the
// types it writes.
var episodeColumns = []struct {
	name string
	typ  arrow.DataType
}{
	{epColIndex, arrow.PrimitiveTypes.Int64},
	{epColTasks, arrow.ListOf(arrow.BinaryTypes.String)},
	{epColLength, arrow.PrimitiveTypes.Int64},
	{epColDataChunk, arrow.PrimitiveTypes.Int64},
	{epColDataFile, arrow.PrimitiveTypes.Int64},
	{epColFromIndex, arrow.PrimitiveTypes.Int64},
	{epColToIndex, arrow.PrimitiveTypes.Int64},
	{epColMetaChunk, arrow.PrimitiveTypes.Int64},
	{epColMetaFile, arrow.PrimitiveTypes.Int64},
}

// v30Episodes reads meta/episodes/*/*.parquet (sorted, concatenated, as
// LeRobot does) and checks them against info.json.
func (x *validator) v30Episodes() ([]Episode, bool) {
	files, err := filepath.Glob(filepath.Join(x.root, "meta", "episodes", "*", "*.parquet"))
	if err != nil {
		x.add("meta/episodes", "", "%v", err)
		return nil, false
	}
	sort.Strings(files)
	if len(files) == 0 {
		if x.info.TotalEpisodes > 0 {
			x.add("meta/episodes", "", "no chunk-*/file-*.parquet (info.json total_episodes is %d)", x.info.TotalEpisodes)
			return nil, false
		}
		return nil, true
	}
	keys := x.info.VideoKeys()
	var eps []Episode
	var firstSchema *arrow.Schema
	ok := true
	for _, path := range files {
		rel := x.rel(path)
		pf, err := openParquet(path, x.mem)
		if err != nil {
			x.add(rel, "", "not a readable Parquet file: %v", trimPath(err, x.root))
			ok = false
			continue
		}
		fileOK := true
		if schema, err := pf.schema(); err != nil {
			x.add(rel, "", "%v", trimPath(err, x.root))
			fileOK = false
		} else {
			for _, c := range episodeColumns {
				fileOK = x.checkColumnType(rel, schema, c.name, c.typ) && fileOK
			}
			for _, k := range keys {
				prefix := epVideosPrefix + k + "/"
				fileOK = x.checkColumnType(rel, schema, prefix+"chunk_index", arrow.PrimitiveTypes.Int64) && fileOK
				fileOK = x.checkColumnType(rel, schema, prefix+"file_index", arrow.PrimitiveTypes.Int64) && fileOK
				fileOK = x.checkColumnType(rel, schema, prefix+"from_timestamp", arrow.PrimitiveTypes.Float64) && fileOK
				fileOK = x.checkColumnType(rel, schema, prefix+"to_timestamp", arrow.PrimitiveTypes.Float64) && fileOK
			}
			if firstSchema == nil {
				firstSchema = schema
			} else if !sameColumns(schema, firstSchema) {
				x.add(rel, "", "its columns differ from %s's; LeRobot concatenates the episodes files, which needs one schema", x.rel(files[0]))
			}
		}
		if !fileOK {
			pf.Close()
			ok = false
			continue
		}
		fileEps, err := readEpisodes(pf, keys)
		pf.Close()
		if err != nil {
			x.add(rel, "", "%s", trimPath(err, x.root))
			ok = false
			continue
		}
		if m := fileLocPattern.FindStringSubmatch(filepath.ToSlash(rel)); m != nil {
			chunk, _ := strconv.Atoi(m[1])
			file, _ := strconv.Atoi(m[2])
			for i, e := range fileEps {
				if e.MetaChunk != chunk || e.MetaFile != file {
					x.add(rel, fmt.Sprintf("row %d: meta/episodes/chunk_index, file_index", i), "are %d, %d, not this file's %d, %d", e.MetaChunk, e.MetaFile, chunk, file)
				}
			}
		}
		eps = append(eps, fileEps...)
	}
	if !ok {
		return nil, false
	}
	if len(eps) != x.info.TotalEpisodes {
		x.add("meta/episodes", "", "%d episodes, info.json total_episodes is %d", len(eps), x.info.TotalEpisodes)
		ok = false
	}
	var frames int64
	for i, e := range eps {
		where := fmt.Sprintf("episode row %d", i)
		if e.Index != i {
			x.add("meta/episodes", where, "episode_index is %d; LeRobot looks episodes up by row, so rows must be episode 0, 1, 2, … in order", e.Index)
			ok = false
		}
		if e.Length <= 0 {
			x.add("meta/episodes", where, "length is %d", e.Length)
			ok = false
		}
		if e.FromIndex != frames || e.ToIndex != e.FromIndex+int64(e.Length) {
			x.add("meta/episodes", where, "dataset_from_index, dataset_to_index are %d, %d; want %d, %d (contiguous, length %d)",
				e.FromIndex, e.ToIndex, frames, frames+int64(e.Length), e.Length)
			ok = false
		}
		frames += int64(e.Length)
		for _, t := range e.Tasks {
			if x.tasks != nil && !slices.Contains(x.tasks, t) {
				x.add("meta/episodes", where, "task %q is not in %s", t, TasksPath)
			}
		}
		for _, k := range keys {
			seg := e.Videos[k]
			if seg.FromTimestamp < 0 || seg.ToTimestamp < seg.FromTimestamp {
				x.add("meta/episodes", where+": videos/"+k, "from_timestamp %v, to_timestamp %v", seg.FromTimestamp, seg.ToTimestamp)
				ok = false
			}
		}
		x.checkEpisodeStats("meta/episodes", where, e.Stats, true)
	}
	if ok && frames != int64(x.info.TotalFrames) {
		x.add("meta/episodes", "length", "episode lengths sum to %d, info.json total_frames is %d", frames, x.info.TotalFrames)
		ok = false
	}
	return eps, ok
}

// fileLocPattern extracts (chunk, file) from a v3.0 file name.
var fileLocPattern = regexp.MustCompile(`chunk-(\d+)/file-(\d+)\.[a-z0-9]+$`)

func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.Fields() {
		if a.Field(i).Name != b.Field(i).Name || !arrow.TypeEqual(a.Field(i).Type, b.Field(i).Type) {
			return false
		}
	}
	return true
}

// checkColumnType reports a missing column or one of another type.
func (x *validator) checkColumnType(rel string, schema *arrow.Schema, name string, want arrow.DataType) bool {
	idx := schema.FieldIndices(name)
	if len(idx) == 0 {
		x.add(rel, name, "missing column")
		return false
	}
	got := schema.Field(idx[0]).Type
	if !sameShapeType(got, want) {
		x.add(rel, name, "type %s, want %s", got, want)
		return false
	}
	return true
}

// sameShapeType compares types ignoring list child names and nullability.
func sameShapeType(a, b arrow.DataType) bool {
	la, okA := a.(*arrow.ListType)
	lb, okB := b.(*arrow.ListType)
	if okA && okB {
		return sameShapeType(la.Elem(), lb.Elem())
	}
	return arrow.TypeEqual(a, b)
}

// v30Stats checks meta/stats.json, which is optional.
func (x *validator) v30Stats() {
	b, err := os.ReadFile(filepath.Join(x.root, StatsPath))
	if errors.Is(err, fs.ErrNotExist) {
		x.v.Warnings = append(x.v.Warnings, StatsPath+" is missing: LeRobot loads without it, but normalisation needs it")
		return
	}
	if err != nil {
		x.add(StatsPath, "", "%v", err)
		return
	}
	stats, err := ParseStats(b)
	if err != nil {
		x.add(StatsPath, "", "%s", strings.TrimPrefix(err.Error(), "stats.json: "))
		return
	}
	x.checkEpisodeStats(StatsPath, "", stats, false)
}

// checkEpisodeStats checks stats shapes as aggregate_stats does (spec §5):
// count is [n]; image and video stats are (3,1,1); vectors have dim values.
func (x *validator) checkEpisodeStats(file, where string, stats map[string]Stats, perEpisode bool) {
	names := make([]string, 0, len(stats))
	for k := range stats {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		s := stats[name]
		f, ok := x.info.Feature(name)
		field := strings.TrimPrefix(where+": stats/"+name, ": ")
		if !ok {
			if !perEpisode {
				x.v.Warnings = append(x.v.Warnings, fmt.Sprintf("%s: %s is not a feature of info.json", file, name))
			}
			continue
		}
		if !f.hasStats() {
			continue
		}
		want := f.statsDim()
		for _, st := range []struct {
			key  string
			vals []float64
		}{{"min", s.Min}, {"max", s.Max}, {"mean", s.Mean}, {"std", s.Std}, {"q01", s.Q01}, {"q10", s.Q10}, {"q50", s.Q50}, {"q90", s.Q90}, {"q99", s.Q99}} {
			if st.vals != nil && len(st.vals) != want {
				shape := fmt.Sprintf("(%d,)", want)
				if f.isVisual() {
					shape = "(3, 1, 1)"
				}
				x.add(file, field+"/"+st.key, "has %d values, want shape %s", len(st.vals), shape)
			}
		}
		if s.Min == nil || s.Max == nil || s.Mean == nil || s.Std == nil {
			x.add(file, field, "lacks min, max, mean or std")
		}
	}
}

// ----- v2.1 -----

func (x *validator) validateV21() {
	info := x.info
	// LeRobot ≤ 0.3 needs all three (spec §7.2); report them first.
	var missing []string
	for _, p := range []string{TasksPathV21, EpisodesPathV21, EpisodesStatsPathV21} {
		if !x.exists(p) {
			x.add(p, "", "missing: LeRobot ≤ 0.3 needs it to load a v2.1 dataset")
			missing = append(missing, p)
		}
	}
	if x.exists(StatsPath) {
		x.v.Warnings = append(x.v.Warnings, StatsPath+" is present: v2.1 loaders ignore it (it is v2.0's)")
	}
	if info.TotalChunks != (info.TotalEpisodes+info.ChunksSize-1)/info.ChunksSize {
		x.add(InfoPath, "total_chunks", "is %d, want %d for %d episodes of chunks_size %d",
			info.TotalChunks, (info.TotalEpisodes+info.ChunksSize-1)/info.ChunksSize, info.TotalEpisodes, info.ChunksSize)
	}
	if want := info.TotalEpisodes * len(info.VideoKeys()); info.TotalVideos != want {
		x.add(InfoPath, "total_videos", "is %d, want %d (%d episodes × %d video features)", info.TotalVideos, want, info.TotalEpisodes, len(info.VideoKeys()))
	}
	if !slices.Contains(missing, TasksPathV21) {
		tasks, err := func() ([]string, error) {
			b, err := os.ReadFile(filepath.Join(x.root, TasksPathV21))
			if err != nil {
				return nil, err
			}
			return ParseTasksJSONL(b)
		}()
		if err != nil {
			x.add(TasksPathV21, "", "%s", strings.TrimPrefix(err.Error(), "tasks.jsonl: "))
		} else {
			x.tasks = tasks
			if len(tasks) != info.TotalTasks {
				x.add(TasksPathV21, "", "has %d tasks, info.json total_tasks is %d", len(tasks), info.TotalTasks)
			}
		}
	}
	var eps []Episode
	lengthsKnown := false
	if !slices.Contains(missing, EpisodesPathV21) {
		b, err := os.ReadFile(filepath.Join(x.root, EpisodesPathV21))
		if err == nil {
			eps, err = ParseEpisodesJSONL(b)
		}
		if err != nil {
			x.add(EpisodesPathV21, "", "%s", strings.TrimPrefix(err.Error(), "episodes.jsonl: "))
			eps = nil
		} else {
			lengthsKnown = x.v21EpisodeIndex(eps)
		}
	}
	if !slices.Contains(missing, EpisodesStatsPathV21) {
		b, err := os.ReadFile(filepath.Join(x.root, EpisodesStatsPathV21))
		var stats map[int]map[string]Stats
		if err == nil {
			stats, err = ParseEpisodesStatsJSONL(b)
		}
		if err != nil {
			x.add(EpisodesStatsPathV21, "", "%s", strings.TrimPrefix(err.Error(), "episodes_stats.jsonl: "))
		} else {
			x.v21Stats(stats)
		}
	}
	if !lengthsKnown {
		// Without lengths the files can still be named, from total_episodes.
		eps = make([]Episode, info.TotalEpisodes)
		for i := range eps {
			eps[i] = Episode{Index: i, Length: -1}
		}
	}
	for i := range eps {
		e := &eps[i]
		e.DataChunk, e.DataFile = e.Index/max(info.ChunksSize, 1), e.Index
		for _, k := range info.VideoKeys() {
			if e.Videos == nil {
				e.Videos = map[string]VideoSegment{}
			}
			e.Videos[k] = VideoSegment{Chunk: e.DataChunk, File: e.Index, ToTimestamp: float64(e.Length) / float64(info.FPS)}
		}
	}
	x.checkData(eps)
	x.checkVideos(eps)
}

// v21EpisodeIndex checks episodes.jsonl against info.json and completes
// each episode's index range; it reports whether lengths can be trusted.
func (x *validator) v21EpisodeIndex(eps []Episode) bool {
	ok := true
	if len(eps) != x.info.TotalEpisodes {
		x.add(EpisodesPathV21, "", "%d episodes, info.json total_episodes is %d", len(eps), x.info.TotalEpisodes)
		ok = false
	}
	// legacy_load_episodes sorts by episode_index.
	sort.SliceStable(eps, func(i, j int) bool { return eps[i].Index < eps[j].Index })
	var frames int64
	for i := range eps {
		e := &eps[i]
		if e.Index != i {
			x.add(EpisodesPathV21, "episode_index", "%d episodes but episode_index %d; indices must be 0..%d, each once", len(eps), e.Index, len(eps)-1)
			return false
		}
		e.FromIndex, e.ToIndex = frames, frames+int64(e.Length)
		frames = e.ToIndex
		for _, t := range e.Tasks {
			if x.tasks != nil && !slices.Contains(x.tasks, t) {
				x.add(EpisodesPathV21, fmt.Sprintf("episode %d: tasks", e.Index), "task %q is not in %s", t, TasksPathV21)
			}
		}
	}
	if ok && frames != int64(x.info.TotalFrames) {
		x.add(EpisodesPathV21, "length", "episode lengths sum to %d, info.json total_frames is %d", frames, x.info.TotalFrames)
		ok = false
	}
	return ok
}

func (x *validator) v21Stats(stats map[int]map[string]Stats) {
	for i := 0; i < x.info.TotalEpisodes; i++ {
		st, ok := stats[i]
		where := fmt.Sprintf("episode %d", i)
		if !ok {
			x.add(EpisodesStatsPathV21, where, "no stats line (LeRobot ≤ 0.3 aggregates every episode's stats on load)")
			continue
		}
		for _, f := range x.info.Features {
			if _, ok := st[f.Name]; f.hasStats() && !ok {
				x.add(EpisodesStatsPathV21, where, "no stats for feature %q", f.Name)
			}
		}
		x.checkEpisodeStats(EpisodesStatsPathV21, where, st, true)
	}
	for i := range stats {
		if i >= x.info.TotalEpisodes {
			x.add(EpisodesStatsPathV21, fmt.Sprintf("episode %d", i), "not an episode of the dataset (total_episodes %d)", x.info.TotalEpisodes)
		}
	}
}

// ----- data files (both versions) -----

// checkData checks every data file the episodes name, and that no other
// file would be loaded with them.
func (x *validator) checkData(eps []Episode) {
	type fileEps struct {
		rel string
		eps []Episode
	}
	var files []fileEps
	for _, e := range eps {
		rel, err := x.info.DataFile(e)
		if err != nil {
			x.add(InfoPath, "data_path", "%v", err)
			return
		}
		rel = filepath.ToSlash(rel)
		if len(files) == 0 || files[len(files)-1].rel != rel {
			files = append(files, fileEps{rel: rel})
		}
		files[len(files)-1].eps = append(files[len(files)-1].eps, e)
	}
	named := map[string]bool{}
	for _, f := range files {
		named[f.rel] = true
		if !x.exists(f.rel) {
			x.add(f.rel, "", "missing (data of %s)", episodeRange(f.eps))
			continue
		}
		x.checkDataFile(f.rel, f.eps)
		if x.ctx.Err() != nil {
			return
		}
	}
	// LeRobot loads every data/*/*.parquet (v3.0) or every Parquet file under
	// data/ (v2.1): a file no episode names adds rows.
	var found []string
	filepath.WalkDir(filepath.Join(x.root, "data"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".parquet") && !strings.HasPrefix(d.Name(), ".") {
			found = append(found, filepath.ToSlash(x.rel(path)))
		}
		return nil
	})
	sort.Strings(found)
	for _, rel := range found {
		if named[rel] {
			continue
		}
		depth := strings.Count(rel, "/")
		if !x.info.isV2() && depth != 2 {
			x.v.Warnings = append(x.v.Warnings, fmt.Sprintf("%s: not at data/*/*.parquet, so LeRobot does not load it", rel))
			continue
		}
		x.add(rel, "", "no episode names this file, but LeRobot loads it with the others: its rows would join the dataset")
	}
}

func episodeRange(eps []Episode) string {
	if len(eps) == 1 {
		return fmt.Sprintf("episode %d", eps[0].Index)
	}
	return fmt.Sprintf("episodes %d–%d", eps[0].Index, eps[len(eps)-1].Index)
}

// checkDataFile reads a data file in full and checks its schema, metadata
// and rows against info.json and the episodes it holds (in order).
func (x *validator) checkDataFile(rel string, eps []Episode) {
	path := filepath.Join(x.root, rel)
	pf, err := openParquet(path, x.mem)
	if err != nil {
		x.add(rel, "", "not a readable Parquet file: %v", trimPath(err, x.root))
		return
	}
	defer pf.Close()
	schema, err := pf.schema()
	if err != nil {
		x.add(rel, "", "%v", trimPath(err, x.root))
		return
	}
	x.checkHFMetadata(rel, pf)
	var want []Feature
	for _, f := range x.info.Features {
		if !f.isVideo() {
			want = append(want, f)
		}
	}
	columnsOK := true
	for _, f := range want {
		idx := schema.FieldIndices(f.Name)
		if len(idx) == 0 {
			x.add(rel, f.Name, "missing column: info.json declares the feature, so LeRobot's cast to its features fails")
			columnsOK = false
			continue
		}
		if msg := columnTypeProblem(f, schema.Field(idx[0]).Type); msg != "" {
			x.add(rel, f.Name, "%s", msg)
			if !isVariableListOf(f, schema.Field(idx[0]).Type) {
				columnsOK = false
			}
		}
	}
	for _, fd := range schema.Fields() {
		if _, ok := x.info.Feature(fd.Name); !ok {
			x.add(rel, fd.Name, "column is not a feature of info.json; LeRobot's cast to the declared features fails on it")
		}
	}
	var frames int64
	for _, e := range eps {
		frames += int64(e.Length)
	}
	lengthsKnown := len(eps) > 0 && eps[0].Length >= 0
	if lengthsKnown && pf.numRows() != frames {
		x.add(rel, "", "%d rows, but %s have %d frames", pf.numRows(), episodeRange(eps), frames)
		return
	}
	if !columnsOK {
		return
	}
	tbl, err := pf.readRowGroups(nil, nil)
	if err != nil {
		x.add(rel, "", "unreadable data: %v", trimPath(err, x.root))
		return
	}
	defer tbl.Release()
	cols := map[string]*arrow.Chunked{}
	for i, f := range tbl.Schema().Fields() {
		cols[f.Name] = tbl.Column(i).Data()
	}
	if lengthsKnown {
		x.checkRows(rel, cols, eps)
	}
	for _, f := range want {
		c := cols[f.Name]
		if c == nil {
			continue
		}
		if f.Dtype == "image" {
			x.checkImages(rel, f, c)
			continue
		}
		if f.Dtype == "string" || isDefaultFeature(f.Name) {
			continue
		}
		// Every value present and numeric, every list of the feature's length.
		if err := forEachValue(c, f.dim(), func(leaf arrow.Array, j int) error {
			_, err := leafFloat(leaf, j)
			return err
		}); err != nil {
			x.add(rel, f.Name, "%v", err)
		}
	}
	x.v.CheckedFrames += int(tbl.NumRows())
}

// columnTypeProblem says how a data column differs from what LeRobot
// writes for feature f (spec §4.1), or "".
func columnTypeProblem(f Feature, got arrow.DataType) string {
	want, err := f.arrowType()
	if err != nil {
		return err.Error()
	}
	if f.Dtype == "image" {
		st, ok := got.(*arrow.StructType)
		if !ok {
			return fmt.Sprintf("type %s, want struct<bytes: binary, path: string> (datasets.Image)", got)
		}
		if _, ok := st.FieldByName("bytes"); !ok {
			return fmt.Sprintf("type %s has no bytes field (datasets.Image is struct<bytes: binary, path: string>)", got)
		}
		return ""
	}
	if isVariableListOf(f, got) {
		return fmt.Sprintf("variable-length %s: LeRobot writes %s (its rows are checked to have %d values; datasets casts them, but this is not a file LeRobot wrote)", got, want, f.dim())
	}
	if !sameShapeType(got, want) {
		if gl, ok := got.(*arrow.FixedSizeListType); ok {
			if wl, ok := want.(*arrow.FixedSizeListType); ok && arrow.TypeEqual(gl.Elem(), wl.Elem()) {
				return fmt.Sprintf("%d values per frame, info.json shape is %v", gl.Len(), f.Shape)
			}
		}
		return fmt.Sprintf("type %s, info.json declares %s %v (%s)", got, f.Dtype, f.Shape, want)
	}
	return ""
}

// isVariableListOf reports a variable-length list of the right element type
// where LeRobot writes a fixed-size list: pandas-based writers do that.
func isVariableListOf(f Feature, got arrow.DataType) bool {
	want, err := f.arrowType()
	if err != nil {
		return false
	}
	wl, ok := want.(*arrow.FixedSizeListType)
	if !ok {
		return false
	}
	switch gl := got.(type) {
	case *arrow.ListType:
		return arrow.TypeEqual(gl.Elem(), wl.Elem())
	case *arrow.LargeListType:
		return arrow.TypeEqual(gl.Elem(), wl.Elem())
	}
	return false
}

// checkHFMetadata checks the `huggingface` key (spec §4.2): present, and
// describing info.json's features; "Sequence" in v2.1 files, whose loaders
// (datasets 3.x) do not know "List".
func (x *validator) checkHFMetadata(rel string, pf *parquetFile) {
	got, ok := pf.keyValue("huggingface")
	if !ok {
		x.add(rel, "huggingface", "no Hugging Face features metadata in the Parquet key-value metadata: not written by LeRobot (datasets adds it); streaming and v2.1 loaders take the column types from it")
		return
	}
	var md struct {
		Info struct {
			Features map[string]json.RawMessage `json:"features"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(got), &md); err != nil || md.Info.Features == nil {
		x.add(rel, "huggingface", "is not {\"info\": {\"features\": …}}: %v", err)
		return
	}
	want := map[string]json.RawMessage{}
	for _, f := range x.info.Features {
		if f.isVideo() {
			continue
		}
		hf, err := f.hfFeatureJSON(true)
		if err != nil {
			continue
		}
		b, _ := pyJSON{}.marshal(hf)
		want[f.Name] = b
	}
	canon := func(b []byte) string {
		var v any
		if json.Unmarshal(b, &v) != nil {
			return string(b)
		}
		out, _ := json.Marshal(v)
		return strings.ReplaceAll(string(out), `"_type":"List"`, `"_type":"Sequence"`)
	}
	names := make([]string, 0, len(md.Info.Features))
	for k := range md.Info.Features {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		w, ok := want[name]
		if !ok {
			x.add(rel, "huggingface", "describes %q, which is not a (non-video) feature of info.json", name)
			continue
		}
		if canon(md.Info.Features[name]) != canon(w) {
			x.add(rel, "huggingface", "describes %q as %s; info.json says %s", name, md.Info.Features[name], w)
		}
	}
	for _, f := range x.info.Features {
		if _, ok := md.Info.Features[f.Name]; !ok && !f.isVideo() {
			x.add(rel, "huggingface", "does not describe feature %q", f.Name)
		}
	}
	if x.info.isV2() && strings.Contains(got, `"_type": "List"`) {
		x.add(rel, "huggingface", `uses "_type": "List", which datasets 3.x (LeRobot ≤ 0.3, the v2.1 loaders) rejects: Feature type 'List' not found; v2.1 files use "Sequence"`)
	}
}

// checkRows checks the default columns row by row against the episodes:
// episode_index, index (global, contiguous), frame_index (from 0),
// timestamp = frame_index/fps (v2.1's check_timestamps_sync, spec §7.2),
// task_index a valid task.
func (x *validator) checkRows(rel string, cols map[string]*arrow.Chunked, eps []Episode) {
	ints := func(name string) []int64 {
		c := cols[name]
		if c == nil {
			return nil
		}
		v, err := chunkedInts(c)
		if err != nil {
			x.add(rel, name, "%v", err)
			return nil
		}
		return v
	}
	epIdx, index, frameIdx, taskIdx := ints(colEpisodeIndex), ints(colIndex), ints(colFrameIndex), ints(colTaskIndex)
	var ts []float64
	if c := cols[colTimestamp]; c != nil {
		var err error
		if ts, err = columnFloatsChunked(c); err != nil {
			x.add(rel, colTimestamp, "%v", err)
		}
	}
	if epIdx == nil || index == nil || frameIdx == nil || taskIdx == nil || ts == nil {
		return
	}
	fps := float64(x.info.FPS)
	counts := map[string]int{}
	report := func(col string, row int, format string, args ...any) {
		counts[col]++
		if counts[col] <= maxRowProblems {
			x.add(rel, fmt.Sprintf("%s, row %d", col, row), format, args...)
		} else if counts[col] == maxRowProblems+1 {
			x.add(rel, col, "more rows are wrong (only the first %d are listed)", maxRowProblems)
		}
	}
	row := 0
	for _, e := range eps {
		for i := 0; i < e.Length; i, row = i+1, row+1 {
			if epIdx[row] != int64(e.Index) {
				report(colEpisodeIndex, row, "is %d, want %d (this file holds %s in order)", epIdx[row], e.Index, episodeRange(eps))
			}
			if index[row] != e.FromIndex+int64(i) {
				report(colIndex, row, "is %d, want %d (global and contiguous)", index[row], e.FromIndex+int64(i))
			}
			if frameIdx[row] != int64(i) {
				report(colFrameIndex, row, "is %d, want %d (frame of episode %d)", frameIdx[row], i, e.Index)
			}
			// The stored float32 of frame_index/fps; tolerance as LeRobot's.
			want := float64(float32(float64(i) / fps))
			if math.Abs(ts[row]-want) > x.opts.Tolerance {
				report(colTimestamp, row, "is %v, want %v (frame_index/fps within %gs)", ts[row], want, x.opts.Tolerance)
			}
			if taskIdx[row] < 0 || (x.tasks != nil && taskIdx[row] >= int64(len(x.tasks))) {
				report(colTaskIndex, row, "is %d; there are %d tasks", taskIdx[row], len(x.tasks))
			}
		}
	}
}

func columnFloatsChunked(c *arrow.Chunked) ([]float64, error) {
	out := make([]float64, 0, c.Len())
	for _, chunk := range c.Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			v, err := leafFloat(chunk, i)
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", len(out), err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// checkImages checks that every image cell holds a decodable picture of
// the feature's size.
func (x *validator) checkImages(rel string, f Feature, c *arrow.Chunked) {
	h, w, _ := f.imageSize()
	row, bad := 0, 0
	for _, chunk := range c.Chunks() {
		st, ok := chunk.(*array.Struct)
		if !ok {
			return
		}
		var bytesArr *array.Binary
		for i, fd := range st.DataType().(*arrow.StructType).Fields() {
			if fd.Name == "bytes" {
				bytesArr, _ = st.Field(i).(*array.Binary)
			}
		}
		if bytesArr == nil {
			x.add(rel, f.Name, "bytes field is not binary")
			return
		}
		for i := 0; i < st.Len(); i, row = i+1, row+1 {
			var msg string
			switch {
			case st.IsNull(i) || bytesArr.IsNull(i):
				msg = "no image bytes"
			default:
				cfg, err := png.DecodeConfig(bytes.NewReader(bytesArr.Value(i)))
				if err != nil {
					msg = fmt.Sprintf("not a decodable PNG: %v", err)
				} else if cfg.Width != w || cfg.Height != h {
					msg = fmt.Sprintf("image is %dx%d, info.json shape %v says %dx%d", cfg.Width, cfg.Height, f.Shape, w, h)
				}
			}
			if msg != "" {
				bad++
				if bad <= maxRowProblems {
					x.add(rel, fmt.Sprintf("%s, row %d", f.Name, row), "%s", msg)
				}
			}
		}
	}
}

// ----- videos (both versions) -----

// checkVideos checks every mp4 the episodes name: present, readable, of the
// declared size and frame rate, long enough for every segment, and with a
// frame at each segment's first and last timestamp (spec §6.2, §7.3).
func (x *validator) checkVideos(eps []Episode) {
	for _, key := range x.info.VideoKeys() {
		f, _ := x.info.Feature(key)
		type fileSegs struct {
			rel string
			eps []Episode
		}
		var files []fileSegs
		for _, e := range eps {
			rel, err := x.info.VideoFile(e, key)
			if err != nil {
				x.add(InfoPath, "video_path", "%v", err)
				return
			}
			rel = filepath.ToSlash(rel)
			if len(files) == 0 || files[len(files)-1].rel != rel {
				files = append(files, fileSegs{rel: rel})
			}
			files[len(files)-1].eps = append(files[len(files)-1].eps, e)
		}
		for _, fs := range files {
			if !x.exists(fs.rel) {
				hint := ""
				if alt := strings.Replace(fs.rel, "videos/", "video/", 1); alt != fs.rel && x.exists(alt) {
					hint = fmt.Sprintf("; %s exists, but LeRobot looks under videos/ (info.json video_path)", alt)
				}
				x.add(fs.rel, "", "missing (video %q of %s)%s", key, episodeRange(fs.eps), hint)
				continue
			}
			if err := video.Available(); err != nil {
				x.fatal = fmt.Errorf("validate %s: cannot check videos: %w", x.root, err)
				return
			}
			x.checkVideoFile(fs.rel, f, fs.eps)
			if x.ctx.Err() != nil {
				return
			}
		}
	}
}

func (x *validator) checkVideoFile(rel string, f Feature, eps []Episode) {
	path := filepath.Join(x.root, rel)
	vi, err := video.Probe(x.ctx, path)
	if err != nil {
		x.add(rel, "", "not a readable video: %s", trimPath(err, x.root))
		return
	}
	h, w, _ := f.imageSize()
	if vi.Width != w || vi.Height != h {
		x.add(rel, "", "frames are %dx%d, info.json %s shape %v says %dx%d", vi.Width, vi.Height, f.Name, f.Shape, w, h)
	}
	if math.Abs(vi.FPS-float64(x.info.FPS)) > 1e-6 {
		x.add(rel, "", "frame rate %.3f, the dataset's fps is %d", vi.FPS, x.info.FPS)
	}
	fps := float64(x.info.FPS)
	// Each episode's first and last frame must decode at its timestamp: one
	// ffmpeg run for the whole file.
	var queries []float64
	var owners []int
	for _, e := range eps {
		if e.Length < 0 {
			continue // v2.1 without episodes.jsonl: no segment to check
		}
		seg := e.Videos[f.Name]
		where := fmt.Sprintf("episode %d", e.Index)
		dur := float64(e.Length) / fps
		if !x.info.isV2() && math.Abs((seg.ToTimestamp-seg.FromTimestamp)-dur) > 1/fps {
			x.add(rel, where, "segment [%.6f, %.6f] lasts %.6fs, but the episode's %d frames last %.6fs", seg.FromTimestamp, seg.ToTimestamp, seg.ToTimestamp-seg.FromTimestamp, e.Length, dur)
		}
		end := seg.FromTimestamp + dur
		if vi.Duration+x.opts.Tolerance < end {
			x.add(rel, where, "video lasts %.6fs, shorter than the episode, whose %d frames end at %.6fs", vi.Duration, e.Length, end)
			continue
		}
		queries = append(queries, seg.FromTimestamp, seg.FromTimestamp+float64(e.Length-1)/fps)
		owners = append(owners, e.Index, e.Index)
	}
	if x.opts.SkipDecode || len(queries) == 0 {
		return
	}
	frames, dist, err := video.Nearest(x.ctx, path, queries, fps)
	if err != nil {
		if x.ctx.Err() == nil {
			x.add(rel, "", "cannot be decoded: %s", trimPath(err, x.root))
		}
		return
	}
	reported := map[int]bool{}
	for i, q := range queries {
		if dist[i] <= x.opts.Tolerance || reported[owners[i]] {
			continue
		}
		reported[owners[i]] = true
		near := "no frame within half a frame"
		if !math.IsInf(dist[i], 1) {
			near = fmt.Sprintf("the nearest frame is at %.6fs", frames[i].PTS)
		}
		x.add(rel, fmt.Sprintf("episode %d", owners[i]), "no frame at %.6fs within LeRobot's tolerance of %gs: %s", q, x.opts.Tolerance, near)
	}
}

func (x *validator) rel(path string) string {
	r, err := filepath.Rel(x.root, path)
	if err != nil {
		return path
	}
	return r
}

// trimPath shortens absolute paths under root in an error message.
func trimPath(err error, root string) string {
	s := err.Error()
	if abs, e := filepath.Abs(root); e == nil {
		s = strings.ReplaceAll(s, abs+string(filepath.Separator), "")
	}
	return strings.ReplaceAll(s, filepath.Clean(root)+string(filepath.Separator), "")
}
