package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/e2hil/e2hil/internal/testtool"
)

// runApp runs the e2hil app in-process with args and returns stdout.
func runApp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := NewApp("e2hil", "test", Demo(), Train(), Act(), ExportONNX(), Dataset(), Plot())
	var stdout, stderr bytes.Buffer
	app.Writer, app.ErrWriter = &stdout, &stderr
	err := app.Run(append([]string{"e2hil"}, args...))
	if err != nil {
		t.Logf("stderr:\n%s", stderr.String())
	}
	return stdout.String(), err
}

// TestDemoEndToEnd runs the whole chain (train → export → ONNX actor →
// dataset → inspect) with a short training budget, then checks every
// artefact: the success line, the checkpoint, the ONNX file, the dataset as
// an independent Parquet reader (hyparquet) sees it, and inspect --json.
func TestDemoEndToEnd(t *testing.T) {
	testtool.RequireORT(t)
	nodeModules := testtool.NodeModules(t)
	dir := filepath.Join(t.TempDir(), "demo")
	const episodes = 3
	stdout, err := runApp(t, "demo", "--output_dir", dir,
		"--set", "policy.online_steps=400", "--set", "policy.online_step_before_learning=200",
		"--set", "batch_size=32", "--set", "eval.n_episodes="+strconv.Itoa(episodes))
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, stdout)
	}

	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^success rate: random \d+\.\d% -> trained \d+\.\d% over 3 episodes$`).MatchString(last) {
		t.Errorf("last line %q is not the success line", last)
	}
	for _, f := range []string{"policy.onnx", "checkpoint/model.safetensors", "checkpoint/spec.json",
		"dataset/meta/info.json", "dataset/data/chunk-000/file-000.parquet"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
	}
	testtool.CheckONNX(t, filepath.Join(dir, "policy.onnx"))

	// inspect --json reports what the actor recorded.
	js, err := runApp(t, "dataset", "inspect", "--json", filepath.Join(dir, "dataset"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		CodebaseVersion string `json:"codebase_version"`
		FPS             int    `json:"fps"`
		TotalEpisodes   int    `json:"total_episodes"`
		TotalFrames     int    `json:"total_frames"`
	}
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("inspect --json: %v\n%s", err, js)
	}
	if rep.CodebaseVersion != "v3.0" || rep.FPS != 10 || rep.TotalEpisodes != episodes {
		t.Errorf("inspect: %+v, want v3.0, fps 10, %d episodes", rep, episodes)
	}

	// hyparquet, which shares no code with arrow-go, reads the data file.
	data := filepath.Join(dir, "dataset", "data", "chunk-000", "file-000.parquet")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("..", "..", "..", "dataset", "testdata", "hyparquet_dump.mjs"), nodeModules, data)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	var files map[string]struct {
		NumRows int              `json:"num_rows"`
		Columns []string         `json:"columns"`
		Rows    []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(raw, &files); err != nil {
		t.Fatal(err)
	}
	f := files[data]
	for _, col := range []string{"observation.state", "action", "next.reward", "next.done",
		"timestamp", "frame_index", "episode_index", "index", "task_index"} {
		if !slices.Contains(f.Columns, col) {
			t.Errorf("hyparquet: no column %q in %v", col, f.Columns)
		}
	}
	if f.NumRows != rep.TotalFrames || len(f.Rows) != f.NumRows || f.NumRows == 0 {
		t.Fatalf("hyparquet sees %d rows (%d read), inspect says %d frames", f.NumRows, len(f.Rows), rep.TotalFrames)
	}
	// Episodes are contiguous, frame_index restarts at 0, index is global.
	lastEp, frame := -1.0, 0.0
	for i, r := range f.Rows {
		ep := r["episode_index"].(float64)
		if ep != lastEp {
			if ep != lastEp+1 {
				t.Fatalf("row %d: episode_index %v after %v", i, ep, lastEp)
			}
			lastEp, frame = ep, 0
		}
		if r["frame_index"].(float64) != frame || r["index"].(float64) != float64(i) {
			t.Fatalf("row %d: frame_index %v index %v, want %v %d", i, r["frame_index"], r["index"], frame, i)
		}
		if n := len(r["action"].([]any)); n != 4 {
			t.Fatalf("row %d: action has %d values", i, n)
		}
		frame++
	}
	if int(lastEp)+1 != episodes {
		t.Errorf("hyparquet sees %d episodes, want %d", int(lastEp)+1, episodes)
	}
}
