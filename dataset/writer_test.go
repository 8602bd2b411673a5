package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	lengths := []int{37, 5, 120}
	root, rec := writeTestDataset(t, lengths)
	d, err := open(root, checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	total := 37 + 5 + 120

	in := d.Info
	if in.CodebaseVersion != "v3.0" || in.TotalEpisodes != 3 || in.TotalFrames != total || in.TotalTasks != 2 ||
		in.FPS != 30 || in.RobotType != "so101_follower" || in.ChunksSize != 1000 ||
		in.DataFilesSizeInMB != 100 || in.VideoFilesSizeInMB != 200 || in.Splits["train"] != "0:3" ||
		in.DataPath != DefaultDataPath || in.VideoPath != "" {
		t.Errorf("info = %+v", in)
	}
	var names []string
	for _, f := range in.Features {
		names = append(names, f.Name)
	}
	wantNames := []string{"observation.state", "action", "next.reward", "next.done", "timestamp", "frame_index", "episode_index", "index", "task_index"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("features = %v, want %v", names, wantNames)
	}
	if f, _ := in.Feature("observation.state"); len(f.Names) != 12 || f.Names[1] != "shoulder_pan.pos.vel" {
		t.Errorf("observation.state names = %v", f.Names)
	}
	if !slices.Equal(d.Tasks, testTasks) {
		t.Errorf("tasks = %q, want %q", d.Tasks, testTasks)
	}
	if d.NumFrames() != total {
		t.Errorf("NumFrames = %d, want %d", d.NumFrames(), total)
	}

	wantEpTasks := [][]string{{testTasks[0]}, {testTasks[1]}, {testTasks[0], testTasks[1]}}
	var from int64
	for i, e := range d.Episodes {
		to := from + int64(lengths[i])
		if e.Index != i || e.Length != lengths[i] || e.FromIndex != from || e.ToIndex != to ||
			e.DataChunk != 0 || e.DataFile != 0 || e.MetaChunk != 0 || e.MetaFile != 0 ||
			!slices.Equal(e.Tasks, wantEpTasks[i]) {
			t.Errorf("episode %d = %+v, want length %d [%d,%d) tasks %q", i, e, lengths[i], from, to, wantEpTasks[i])
		}
		from = to
	}

	state, dim, err := d.Float32Column("observation.state")
	if err != nil || dim != 12 || !slices.Equal(state, rec.state) {
		t.Errorf("observation.state: dim %d err %v, equal %v", dim, err, slices.Equal(state, rec.state))
	}
	action, dim, err := d.Float32Column("action")
	if err != nil || dim != 4 || !slices.Equal(action, rec.action) {
		t.Errorf("action: dim %d err %v, equal %v", dim, err, slices.Equal(action, rec.action))
	}
	reward, dim, err := d.Float32Column("next.reward")
	if err != nil || dim != 1 || !slices.Equal(reward, rec.reward) {
		t.Errorf("next.reward: dim %d err %v, equal %v", dim, err, slices.Equal(reward, rec.reward))
	}
	done, dim, err := d.BoolColumn("next.done")
	if err != nil || dim != 1 || !slices.Equal(done, rec.done) {
		t.Errorf("next.done: dim %d err %v, equal %v", dim, err, slices.Equal(done, rec.done))
	}

	ts, _, err := d.Float32Column("timestamp")
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string][]int64{}
	for _, name := range []string{"frame_index", "episode_index", "index", "task_index"} {
		if cols[name], _, err = d.Int64Column(name); err != nil {
			t.Fatal(err)
		}
	}
	row := 0
	for ep, n := range lengths {
		for i := 0; i < n; i++ {
			wantTask := int64(slices.Index(testTasks, rec.task[row]))
			if got := ts[row]; got != float32(float64(i)/30) {
				t.Fatalf("row %d: timestamp %v, want float32(%d/30) = %v", row, got, i, float32(float64(i)/30))
			}
			if cols["frame_index"][row] != int64(i) || cols["episode_index"][row] != int64(ep) ||
				cols["index"][row] != int64(row) || cols["task_index"][row] != wantTask {
				t.Fatalf("row %d: frame_index %d episode_index %d index %d task_index %d, want %d %d %d %d", row,
					cols["frame_index"][row], cols["episode_index"][row], cols["index"][row], cols["task_index"][row], i, ep, row, wantTask)
			}
			row++
		}
	}
	// A timestamp that is not exactly representable: float32(1/30).
	if ts[1] != 0.033333335 {
		t.Errorf("timestamp[1] = %v, want float32(1/30)", ts[1])
	}
}

func TestAddFrameRejects(t *testing.T) {
	ok := func() Frame {
		return Frame{
			"observation.state": make([]float32, 12),
			"action":            []float32{0, 0, 0, 1},
			"next.reward":       float32(0),
			"next.done":         false,
		}
	}
	with := func(k string, v any) Frame { f := ok(); f[k] = v; return f }
	without := func(k string) Frame { f := ok(); delete(f, k); return f }
	nan := make([]float32, 12)
	nan[3] = float32(nanF64())
	tests := []struct {
		name  string
		frame Frame
		task  string
		want  []string // substrings of the error
	}{
		{"missing feature", without("action"), "t", []string{`feature "action": missing`}},
		{"unknown key", with("observation.image", 1), "t", []string{`feature "observation.image": not a feature`}},
		{"default feature", with("timestamp", float32(0)), "t", []string{`feature "timestamp": set by the writer`}},
		{"short vector", with("action", []float32{1, 2, 3}), "t", []string{`feature "action": want []float32 of length 4, got length 3`}},
		{"wrong element type", with("action", []float64{1, 2, 3, 4}), "t", []string{`feature "action": want []float32 of length 4, got []float64 ([1 2 3 4])`}},
		{"scalar for vector", with("action", float32(2)), "t", []string{`feature "action": want []float32 of length 4, got a single float32 (2)`}},
		{"float64 for float32 scalar", with("next.reward", 0.5), "t", []string{`feature "next.reward": want float32 or []float32 of length 1, got float64 (0.5)`}},
		{"int for bool", with("next.done", 1), "t", []string{`feature "next.done": want bool or []bool of length 1, got int (1)`}},
		{"NaN", with("observation.state", nan), "t", []string{`feature "observation.state": [3]: value NaN is not finite`}},
		{"empty task", ok(), "", []string{"task: must not be empty"}},
		{"two problems", with("next.done", "yes"), "", []string{"task: must not be empty", `feature "next.done": want bool`}},
	}
	w, err := create(testConfig(filepath.Join(t.TempDir(), "ds")), checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := w.AddFrame(tc.frame, tc.task)
			if !errors.Is(err, ErrInvalidFrame) {
				t.Fatalf("err = %v, want ErrInvalidFrame", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if w.BufferedFrames() != 0 {
				t.Errorf("a rejected frame was buffered")
			}
		})
	}
	// Slices of length 1 are accepted for shape [1].
	f := ok()
	f["next.reward"], f["next.done"] = []float32{1}, []bool{true}
	if err := w.AddFrame(f, "t"); err != nil {
		t.Errorf("length-1 slices for scalars: %v", err)
	}
}

func nanF64() float64 { var z float64; return z / z }

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*WriterConfig)
		want []string
	}{
		{"fps", func(c *WriterConfig) { c.FPS = 0 }, []string{"fps: must be > 0, got 0"}},
		{"slash in name", func(c *WriterConfig) { c.Features[0].Name = "obs/state" }, []string{`features[0] ("obs/state").name: must not contain '/'`}},
		{"default name", func(c *WriterConfig) { c.Features[1].Name = "index" }, []string{`features[1] ("index").name: "index" is a default feature`}},
		{"duplicate", func(c *WriterConfig) { c.Features[1].Name = "observation.state" }, []string{`features[1] ("observation.state").name: duplicate`}},
		{"video shape", func(c *WriterConfig) { c.Features[0].Dtype = "video" }, []string{`features[0] ("observation.state").shape: shape [12]: video features have shape [H, W, 3] or [3, H, W]`}},
		{"image channels", func(c *WriterConfig) {
			c.Features[0] = Feature{Name: "observation.images.front", Dtype: "image", Shape: []int{64, 64, 1}, Names: []string{"height", "width", "channels"}}
		}, []string{`features[0] ("observation.images.front").shape: shape [64 64 1]: 1 channels, only RGB (3) is supported`}},
		{"video too small for svt-av1", func(c *WriterConfig) {
			c.Features[0] = Feature{Name: "observation.images.front", Dtype: "video", Shape: []int{3, 32, 32}, Names: []string{"channels", "height", "width"}}
		}, []string{`features[0] ("observation.images.front").shape: 32x32: libsvtav1 encodes frames of at least 64x64 pixels`}},
		{"codebase version", func(c *WriterConfig) { c.CodebaseVersion = "v2.0" }, []string{`codebase_version: must be v3.0 or v2.1, got "v2.0"`}},
		{"dtype", func(c *WriterConfig) { c.Features[2].Dtype = "float16" }, []string{`features[2] ("next.reward").dtype: must be one of`}},
		{"2-D shape", func(c *WriterConfig) { c.Features[1].Shape = []int{2, 2} }, []string{`features[1] ("action").shape: shape [2 2]: only [1] and [D]`}},
		{"names length", func(c *WriterConfig) { c.Features[1].Names = []string{"x"} }, []string{`features[1] ("action").names: has 1 names for shape [4]`}},
		{"several", func(c *WriterConfig) { c.FPS = -1; c.ChunksSize = -2 }, []string{"fps:", "chunks_size:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(filepath.Join(t.TempDir(), "ds"))
			tc.edit(&cfg)
			_, err := Create(cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestCreateNeedsEmptyRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "README.md"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Create(testConfig(root))
	if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), root) {
		t.Fatalf("err = %v, want ErrNotEmpty naming %s", err, root)
	}
	// An existing empty directory is fine.
	empty := t.TempDir()
	w, err := Create(testConfig(empty))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
}

func TestClearSaveClose(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	w, err := create(testConfig(root), checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SaveEpisode(); !errors.Is(err, ErrEmptyEpisode) {
		t.Errorf("SaveEpisode on nothing: %v, want ErrEmptyEpisode", err)
	}
	// A dataset with no episode yet is readable.
	if d, err := Open(root); err != nil || len(d.Episodes) != 0 || d.Info.Splits == nil {
		t.Errorf("Open before any episode: %v", err)
	}
	recordEpisodes(t, w, []int{4}, 1)
	// Re-record: frames added then cleared do not reach the dataset.
	frame := Frame{"observation.state": make([]float32, 12), "action": make([]float32, 4), "next.reward": float32(9), "next.done": true}
	for i := 0; i < 3; i++ {
		if err := w.AddFrame(frame, "discarded task"); err != nil {
			t.Fatal(err)
		}
	}
	w.ClearEpisode()
	if w.BufferedFrames() != 0 {
		t.Fatalf("BufferedFrames after ClearEpisode = %d", w.BufferedFrames())
	}
	recordEpisodes(t, w, []int{6}, 2)
	if err := w.AddFrame(frame, "unsaved"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, ErrUnsavedFrames) {
		t.Errorf("Close with an unsaved frame: %v, want ErrUnsavedFrames", err)
	}
	if err := w.AddFrame(frame, "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("AddFrame after Close: %v, want ErrClosed", err)
	}
	if w.NumEpisodes() != 2 || w.NumFrames() != 10 {
		t.Errorf("NumEpisodes %d NumFrames %d, want 2 and 10", w.NumEpisodes(), w.NumFrames())
	}
	d, err := open(root, checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Tasks) != 1 || d.NumFrames() != 10 {
		t.Errorf("tasks %q frames %d, want 1 task and 10 frames", d.Tasks, d.NumFrames())
	}
	reward, _, err := d.Float32Column("next.reward")
	if err != nil || slices.Contains(reward, 9) {
		t.Errorf("cleared frames reached the data: %v %v", reward, err)
	}
	// No temporary files are left behind.
	filepath.WalkDir(root, func(path string, de os.DirEntry, err error) error {
		if strings.Contains(de.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", path)
		}
		return nil
	})
}

// TestRollover lowers the size limits so that data and episodes metadata
// roll over to new files, and checks the (chunk, file) sequence, the episode
// locations and that reading across files gives the frames back in order.
func TestRollover(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	cfg := testConfig(root)
	cfg.ChunksSize = 2 // two files per chunk directory: file-000, file-001, then chunk-001
	w, err := create(cfg, checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	w.dataLimitMB = 12.0 / 1024 // ~12 KiB data files
	w.metaLimitMB = 20.0 / 1024 // ~20 KiB metadata files
	lengths := []int{100, 100, 100, 100, 100, 100, 100}
	rec := recordEpisodes(t, w, lengths, 3)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := open(root, checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	var locs []fileLoc
	for _, e := range d.Episodes {
		if l := (fileLoc{e.DataChunk, e.DataFile}); len(locs) == 0 || locs[len(locs)-1] != l {
			locs = append(locs, l)
		}
	}
	if len(locs) < 3 {
		t.Fatalf("data files %v: want at least 3 (the limit is lower than 2 episodes)", locs)
	}
	for i, l := range locs {
		if want := (fileLoc{i / 2, i % 2}); l != want {
			t.Errorf("data file %d at %v, want %v", i, l, want)
		}
		rel, _ := l.path(DefaultDataPath)
		if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
			t.Error(err)
		}
	}
	metaFiles, _ := filepath.Glob(filepath.Join(root, "meta", "episodes", "*", "*.parquet"))
	if len(metaFiles) < 2 {
		t.Errorf("episodes metadata files %v: want at least 2", metaFiles)
	}
	state, _, err := d.Float32Column("observation.state")
	if err != nil || !slices.Equal(state, rec.state) {
		t.Errorf("observation.state across files: err %v equal %v", err, slices.Equal(state, rec.state))
	}
	index, _, err := d.Int64Column("index")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range index {
		if v != int64(i) {
			t.Fatalf("index[%d] = %d across files", i, v)
		}
	}
}

func TestFileLocNext(t *testing.T) {
	tests := []struct {
		at   fileLoc
		size int
		want fileLoc
	}{
		{fileLoc{0, 0}, 1000, fileLoc{0, 1}},
		{fileLoc{0, 998}, 1000, fileLoc{0, 999}},
		{fileLoc{0, 999}, 1000, fileLoc{1, 0}},
		{fileLoc{3, 0}, 1, fileLoc{4, 0}},
	}
	for _, tc := range tests {
		if got := tc.at.next(tc.size); got != tc.want {
			t.Errorf("%v.next(%d) = %v, want %v", tc.at, tc.size, got, tc.want)
		}
	}
}
