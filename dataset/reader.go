package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/e2hil/e2hil/dataset/video"
)

// Dataset is an open dataset (v3.0 or v2.1): its metadata is read by Open,
// data columns and video frames on demand.
type Dataset struct {
	Root     string
	Info     Info
	Tasks    []string // by task_index
	Episodes []Episode
	// Stats are meta/stats.json (v3.0; nil when the file is absent), or the
	// aggregate of episodes_stats.jsonl (v2.1), as LeRobot loads them.
	Stats map[string]Stats
	// Tolerance is how far, in seconds, a decoded video frame may be from the
	// timestamp asked for (LeRobot's tolerance_s).
	Tolerance float64

	mem   memory.Allocator
	cache *episodeCache // Item's last episode
}

// Open reads a dataset's metadata: for v3.0 meta/info.json,
// meta/tasks.parquet, meta/episodes/*/*.parquet and meta/stats.json
// (optional); for v2.1 meta/info.json and the JSON-lines files. Data and
// video files are not opened until read, so a metadata-only copy opens fine.
func Open(root string) (*Dataset, error) {
	return open(root, memory.DefaultAllocator)
}

func open(root string, mem memory.Allocator) (d *Dataset, err error) {
	wrap := func(err error) error { return fmt.Errorf("open dataset %s: %w", root, err) }
	if pendingJournal(root) {
		return nil, wrap(fmt.Errorf("%w: %s exists; run `e2hil dataset validate --repair %s` (dataset.Recover) to finish it",
			ErrInterrupted, filepath.Join(privateDir, journalName), root))
	}
	infoPath := filepath.Join(root, InfoPath)
	b, err := os.ReadFile(infoPath)
	if err != nil {
		return nil, wrap(err)
	}
	info, err := ParseInfo(b)
	if err != nil {
		return nil, wrap(fmt.Errorf("%s: %w", infoPath, err))
	}
	if err := info.checkSupported(); err != nil {
		return nil, wrap(err)
	}
	defer recoverParquetPanic(&err, root)
	if info.isV2() {
		d, err := openV21(root, info, mem)
		if err != nil {
			return nil, wrap(err)
		}
		if err := d.checkTotals(); err != nil {
			return nil, wrap(err)
		}
		d.Tolerance = video.DefaultTolerance
		return d, nil
	}
	d = &Dataset{Root: root, Info: info, mem: mem, Tolerance: video.DefaultTolerance}

	tasksPath := filepath.Join(root, TasksPath)
	if _, err := os.Stat(tasksPath); err == nil || info.TotalTasks > 0 {
		if d.Tasks, err = readTasksFile(tasksPath, mem); err != nil {
			return nil, wrap(err)
		}
	}
	if len(d.Tasks) != info.TotalTasks {
		return nil, wrap(fmt.Errorf("%w: %s has %d tasks, info.json total_tasks is %d", ErrInconsistent, TasksPath, len(d.Tasks), info.TotalTasks))
	}

	// LeRobot concatenates meta/episodes/*/*.parquet in sorted path order.
	files, err := filepath.Glob(filepath.Join(root, "meta", "episodes", "*", "*.parquet"))
	if err != nil {
		return nil, wrap(err)
	}
	sort.Strings(files)
	var videoKeys []string
	for _, f := range info.Features {
		if f.Dtype == "video" {
			videoKeys = append(videoKeys, f.Name)
		}
	}
	for _, path := range files {
		eps, err := readEpisodesFile(path, videoKeys, mem)
		if err != nil {
			return nil, wrap(err)
		}
		d.Episodes = append(d.Episodes, eps...)
	}
	if err := d.checkTotals(); err != nil {
		return nil, wrap(err)
	}

	statsPath := filepath.Join(root, StatsPath)
	if b, err := os.ReadFile(statsPath); err == nil {
		if d.Stats, err = ParseStats(b); err != nil {
			return nil, wrap(fmt.Errorf("%s: %w", statsPath, err))
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, wrap(err)
	}
	return d, nil
}

// checkTotals checks the episodes against info.json's totals: indices
// 0..N-1 in order, lengths summing to total_frames, index ranges contiguous.
func (d *Dataset) checkTotals() error {
	meta := "meta/episodes"
	if d.Info.isV2() {
		meta = EpisodesPathV21
	}
	if len(d.Episodes) != d.Info.TotalEpisodes {
		return fmt.Errorf("%w: %s has %d episodes, info.json total_episodes is %d", ErrInconsistent, meta, len(d.Episodes), d.Info.TotalEpisodes)
	}
	var frames int64
	for i, e := range d.Episodes {
		if e.Index != i {
			return fmt.Errorf("%w: %s row %d has episode_index %d; rows must be in episode order", ErrInconsistent, meta, i, e.Index)
		}
		if e.Length <= 0 || e.FromIndex != frames || e.ToIndex != frames+int64(e.Length) {
			return fmt.Errorf("%w: %s: episode %d has length %d and index range [%d, %d), want [%d, %d)",
				ErrInconsistent, meta, i, e.Length, e.FromIndex, e.ToIndex, frames, frames+int64(e.Length))
		}
		frames += int64(e.Length)
	}
	if frames != int64(d.Info.TotalFrames) {
		return fmt.Errorf("%w: episode lengths sum to %d, info.json total_frames is %d", ErrInconsistent, frames, d.Info.TotalFrames)
	}
	if len(d.Tasks) != d.Info.TotalTasks {
		return fmt.Errorf("%w: %d tasks, info.json total_tasks is %d", ErrInconsistent, len(d.Tasks), d.Info.TotalTasks)
	}
	return nil
}

func readTasksFile(path string, mem memory.Allocator) ([]string, error) {
	pf, err := openParquet(path, mem)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	return readTasks(pf)
}

func readEpisodesFile(path string, videoKeys []string, mem memory.Allocator) ([]Episode, error) {
	pf, err := openParquet(path, mem)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	return readEpisodes(pf, videoKeys)
}

// NumFrames is the number of frames of the dataset (the sum of episode lengths).
func (d *Dataset) NumFrames() int {
	n := 0
	for _, e := range d.Episodes {
		n += e.Length
	}
	return n
}

// Float32Column returns every frame's value of feature in global index order,
// flattened row-major, with dim values per frame. It reads float32 features
// of any shape and converts float64, integer and bool features.
func (d *Dataset) Float32Column(feature string) (values []float32, dim int, err error) {
	dim, err = d.dataColumn(feature, func(n int) { values = make([]float32, 0, n) }, func(leaf arrow.Array, j int) error {
		if f, ok := leaf.(*array.Float32); ok && f.IsValid(j) {
			values = append(values, f.Value(j))
			return nil
		}
		v, err := leafFloat(leaf, j)
		values = append(values, float32(v))
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return values, dim, nil
}

// Float64Column is Float32Column without the rounding to float32.
func (d *Dataset) Float64Column(feature string) (values []float64, dim int, err error) {
	dim, err = d.dataColumn(feature, func(n int) { values = make([]float64, 0, n) }, func(leaf arrow.Array, j int) error {
		v, err := leafFloat(leaf, j)
		values = append(values, v)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return values, dim, nil
}

// Int64Column reads an integer (or bool) feature, such as index or task_index.
func (d *Dataset) Int64Column(feature string) (values []int64, dim int, err error) {
	dim, err = d.dataColumn(feature, func(n int) { values = make([]int64, 0, n) }, func(leaf arrow.Array, j int) error {
		v, err := leafInt(leaf, j)
		values = append(values, v)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return values, dim, nil
}

// BoolColumn reads a bool feature, such as next.done.
func (d *Dataset) BoolColumn(feature string) (values []bool, dim int, err error) {
	dim, err = d.dataColumn(feature, func(n int) { values = make([]bool, 0, n) }, func(leaf arrow.Array, j int) error {
		b, ok := leaf.(*array.Boolean)
		if !ok {
			return fmt.Errorf("type %s is not bool", leaf.DataType())
		}
		if b.IsNull(j) {
			return errNull
		}
		values = append(values, b.Value(j))
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return values, dim, nil
}

// dataColumn walks feature's column through every data file named by the
// episodes, in episode order; alloc gets the total value count first.
func (d *Dataset) dataColumn(feature string, alloc func(n int), fn func(leaf arrow.Array, j int) error) (int, error) {
	f, ok := d.Info.Feature(feature)
	if !ok {
		return 0, fmt.Errorf("dataset %s: no feature %q", d.Root, feature)
	}
	if f.isVisual() {
		return 0, fmt.Errorf("dataset %s: feature %q is a %s; read it with Item or VideoFrames", d.Root, feature, f.Dtype)
	}
	dim := f.dim()
	files, err := d.dataFiles()
	if err != nil {
		return 0, err
	}
	alloc(d.NumFrames() * dim)
	for _, df := range files {
		if err := d.readDataColumn(filepath.Join(d.Root, df.path), feature, dim, df.frames, fn); err != nil {
			return 0, fmt.Errorf("dataset %s: feature %q: %w", d.Root, feature, err)
		}
	}
	return dim, nil
}

func (d *Dataset) readDataColumn(path, feature string, dim int, frames int64, fn func(leaf arrow.Array, j int) error) (err error) {
	defer recoverParquetPanic(&err, path)
	pf, err := openParquet(path, d.mem)
	if err != nil {
		return err
	}
	defer pf.Close()
	if pf.numRows() != frames {
		return fmt.Errorf("%w: %s has %d rows, its episodes have %d frames", ErrInconsistent, path, pf.numRows(), frames)
	}
	col, err := pf.readField(feature, nil)
	if err != nil {
		return err
	}
	defer col.Release()
	if err := forEachValue(col, dim, fn); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// dataFile is one data file (relative path) with the episodes it holds.
type dataFile struct {
	path     string
	frames   int64
	episodes []int
}

// dataFiles lists the data files in the order their episodes come, with the
// frames each holds: many episodes per file in v3.0, one in v2.1.
func (d *Dataset) dataFiles() ([]dataFile, error) {
	var out []dataFile
	for _, e := range d.Episodes {
		rel, err := d.Info.DataFile(e)
		if err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].path != rel {
			out = append(out, dataFile{path: rel})
		}
		last := &out[len(out)-1]
		last.frames += int64(e.Length)
		last.episodes = append(last.episodes, e.Index)
	}
	return out, nil
}
