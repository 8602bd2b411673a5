package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// hyparquetFile is what testdata/hyparquet_dump.mjs prints for one file.
type hyparquetFile struct {
	NumRows   int               `json:"num_rows"`
	RowGroups []int             `json:"row_groups"`
	Columns   []string          `json:"columns"`
	KeyValue  map[string]string `json:"key_value"`
	Rows      []map[string]any  `json:"rows"`
}

// TestHyparquetReadsOurFiles has an independent Parquet reader, hyparquet
// (pure JavaScript, installed by `make deps`), read the files we write.
func TestHyparquetReadsOurFiles(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		requireTools(t, "node not found: install Node.js, then hyparquet with `make deps`")
	}
	nodeModules := os.Getenv("E2HIL_NODE_MODULES")
	if nodeModules == "" {
		nodeModules = filepath.Join("..", ".cache", "node", "node_modules")
	}
	if nodeModules, err = filepath.Abs(nodeModules); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(nodeModules, "hyparquet", "package.json")); err != nil {
		requireTools(t, "hyparquet not found in %s: install it with `make deps`", nodeModules)
	}

	lengths := []int{4, 7, 5}
	root, rec := writeTestDataset(t, lengths)
	dataPath := filepath.Join(root, "data/chunk-000/file-000.parquet")
	tasksPath := filepath.Join(root, TasksPath)
	epPath := filepath.Join(root, "meta/episodes/chunk-000/file-000.parquet")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "hyparquet_dump.mjs"), nodeModules, dataPath, tasksPath, epPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.String())
	}
	var files map[string]hyparquetFile
	if err := json.Unmarshal(out, &files); err != nil {
		t.Fatalf("hyparquet output: %v\n%.500s", err, out)
	}
	total := 4 + 7 + 5

	t.Run("data", func(t *testing.T) {
		f := files[dataPath]
		want := featureNames(append(hilFeatures(), DefaultFeatures()...))
		if !slices.Equal(f.Columns, want) || f.NumRows != total || len(f.Rows) != total || !slices.Equal(f.RowGroups, lengths) {
			t.Fatalf("columns %v rows %d/%d row groups %v; want %v, %d rows, row groups %v", f.Columns, f.NumRows, len(f.Rows), f.RowGroups, want, total, lengths)
		}
		hf, _ := huggingfaceMetadata(append(hilFeatures(), DefaultFeatures()...))
		if f.KeyValue["huggingface"] != hf || f.KeyValue["ARROW:schema"] != "<present>" {
			t.Errorf("key-value metadata %v", f.KeyValue)
		}
		row := 0
		for ep, n := range lengths {
			for i := 0; i < n; i++ {
				r := f.Rows[row]
				if got := float32s(r["observation.state"]); !slices.Equal(got, rec.state[row*12:row*12+12]) {
					t.Fatalf("row %d observation.state %v, want %v", row, got, rec.state[row*12:row*12+12])
				}
				if got := float32s(r["action"]); !slices.Equal(got, rec.action[row*4:row*4+4]) {
					t.Fatalf("row %d action %v, want %v", row, got, rec.action[row*4:row*4+4])
				}
				if float32(r["next.reward"].(float64)) != rec.reward[row] || r["next.done"] != rec.done[row] {
					t.Fatalf("row %d next.reward %v next.done %v, want %v %v", row, r["next.reward"], r["next.done"], rec.reward[row], rec.done[row])
				}
				if float32(r["timestamp"].(float64)) != float32(float64(i)/30) {
					t.Fatalf("row %d timestamp %v", row, r["timestamp"])
				}
				wantTask := float64(slices.Index(testTasks, rec.task[row]))
				if r["frame_index"] != float64(i) || r["episode_index"] != float64(ep) || r["index"] != float64(row) || r["task_index"] != wantTask {
					t.Fatalf("row %d: %v", row, r)
				}
				row++
			}
		}
	})

	t.Run("tasks", func(t *testing.T) {
		f := files[tasksPath]
		if !slices.Equal(f.Columns, []string{"task_index", "task"}) || f.NumRows != 2 {
			t.Fatalf("columns %v rows %d", f.Columns, f.NumRows)
		}
		for i, task := range testTasks {
			if f.Rows[i]["task_index"] != float64(i) || f.Rows[i]["task"] != task {
				t.Errorf("row %d = %v, want %d %q", i, f.Rows[i], i, task)
			}
		}
		if _, ok := f.KeyValue["pandas"]; !ok {
			t.Errorf("no pandas metadata: %v", f.KeyValue)
		}
	})

	t.Run("episodes", func(t *testing.T) {
		f := files[epPath]
		if f.NumRows != 3 || len(f.Columns) != 7+9*10+2 || f.Columns[0] != "episode_index" || f.Columns[len(f.Columns)-1] != "meta/episodes/file_index" {
			t.Fatalf("rows %d, columns %v", f.NumRows, f.Columns)
		}
		var from int
		wantTasks := [][]any{{testTasks[0]}, {testTasks[1]}, {testTasks[0], testTasks[1]}}
		for i, n := range lengths {
			r := f.Rows[i]
			if r["episode_index"] != float64(i) || r["length"] != float64(n) || r["dataset_from_index"] != float64(from) ||
				r["dataset_to_index"] != float64(from+n) || r["data/chunk_index"] != 0.0 || r["data/file_index"] != 0.0 ||
				!slices.Equal(r["tasks"].([]any), wantTasks[i]) {
				t.Errorf("episode row %d = %v", i, r)
			}
			if c := r["stats/observation.state/count"].([]any); len(c) != 1 || c[0] != float64(n) {
				t.Errorf("episode %d stats count %v, want [%d]", i, c, n)
			}
			if m := r["stats/observation.state/mean"].([]any); len(m) != 12 {
				t.Errorf("episode %d state mean has %d values", i, len(m))
			}
			if mx := r["stats/next.done/max"].([]any); len(mx) != 1 || mx[0] != true {
				t.Errorf("episode %d next.done max %v, want [true]", i, mx)
			}
			if mx := r["stats/index/max"].([]any); len(mx) != 1 || mx[0] != float64(from+n-1) {
				t.Errorf("episode %d index max %v, want [%d]", i, mx, from+n-1)
			}
			from += n
		}
	})
}

func float32s(v any) []float32 {
	l, _ := v.([]any)
	out := make([]float32, len(l))
	for i, x := range l {
		f, _ := x.(float64)
		out[i] = float32(f)
	}
	return out
}
