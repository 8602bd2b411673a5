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
)

// Dataset is an open v3.0 dataset: its metadata is read by Open, data
// columns on demand.
type Dataset struct {
	Root     string
	Info     Info
	Tasks    []string // by task_index
	Episodes []Episode
	Stats    map[string]Stats // meta/stats.json; nil when the file is absent

	mem memory.Allocator
}

// Open reads a v3.0 dataset's meta/info.json, meta/tasks.parquet,
// meta/episodes/*/*.parquet and meta/stats.json (optional). Data files are
// not opened until a column is read, so a metadata-only copy opens fine.
func Open(root string) (*Dataset, error) {
	return open(root, memory.DefaultAllocator)
}

func open(root string, mem memory.Allocator) (*Dataset, error) {
	wrap := func(err error) error { return fmt.Errorf("open dataset %s: %w", root, err) }
	infoPath := filepath.Join(root, InfoPath)
	b, err := os.ReadFile(infoPath)
	if err != nil {
		return nil, wrap(err)
	}
	info, err := ParseInfo(b)
	if err != nil {
		return nil, wrap(fmt.Errorf("%s: %w", infoPath, err))
	}
	if major, _ := info.major(); major != 3 {
		return nil, wrap(fmt.Errorf("%w: codebase_version %s; this reader reads v3.x", ErrUnsupported, info.CodebaseVersion))
	}
	d := &Dataset{Root: root, Info: info, mem: mem}

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
	if len(d.Episodes) != info.TotalEpisodes {
		return nil, wrap(fmt.Errorf("%w: meta/episodes has %d episodes, info.json total_episodes is %d", ErrInconsistent, len(d.Episodes), info.TotalEpisodes))
	}
	var frames int
	for i, e := range d.Episodes {
		if e.Index != i {
			return nil, wrap(fmt.Errorf("%w: meta/episodes row %d has episode_index %d; rows must be in episode order", ErrInconsistent, i, e.Index))
		}
		frames += e.Length
	}
	if frames != info.TotalFrames {
		return nil, wrap(fmt.Errorf("%w: episode lengths sum to %d, info.json total_frames is %d", ErrInconsistent, frames, info.TotalFrames))
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
	if f.Dtype == "video" {
		return 0, fmt.Errorf("dataset %s: feature %q is a video and has no data column", d.Root, feature)
	}
	dim := f.dim()
	alloc(d.NumFrames() * dim)
	for _, df := range d.dataFiles() {
		rel, err := df.loc.path(d.Info.DataPath)
		if err != nil {
			return 0, err
		}
		if err := d.readDataColumn(filepath.Join(d.Root, rel), feature, dim, df.frames, fn); err != nil {
			return 0, fmt.Errorf("dataset %s: feature %q: %w", d.Root, feature, err)
		}
	}
	return dim, nil
}

func (d *Dataset) readDataColumn(path, feature string, dim int, frames int64, fn func(leaf arrow.Array, j int) error) error {
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

type dataFile struct {
	loc    fileLoc
	frames int64
}

// dataFiles lists the data files in the order their episodes come, with the
// frames each holds.
func (d *Dataset) dataFiles() []dataFile {
	var out []dataFile
	for _, e := range d.Episodes {
		loc := fileLoc{e.DataChunk, e.DataFile}
		if len(out) == 0 || out[len(out)-1].loc != loc {
			out = append(out, dataFile{loc: loc})
		}
		out[len(out)-1].frames += int64(e.Length)
	}
	return out
}
