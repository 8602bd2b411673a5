package dataset

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Fuzz targets for the episodes readers, the parsers of outside input that
// decide where every frame lives: the v3.0 episodes Parquet file and the
// v2.1 JSON-lines metadata. The committed seeds (testdata/fuzz/…) are real
// files: what LeRobot wrote (record-test, G1-policy-train) and what our
// writer writes; TestFuzzSeeds -update regenerates ours.

var episodeVideoKeys = []string{"observation.images.front", "observation.images.top"}

func FuzzEpisodesParquet(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := openParquetReader("episodes.parquet", bytes.NewReader(data), memory.DefaultAllocator)
		if err != nil {
			return
		}
		defer pf.Close()
		eps, err := readEpisodes(pf, episodeVideoKeys)
		if err != nil {
			return
		}
		// What was read can be checked and written back without a panic.
		d := &Dataset{Root: "fuzz", Info: Info{TotalEpisodes: len(eps), FPS: 30, DataPath: DefaultDataPath}, Episodes: eps}
		_ = d.checkTotals()
		for _, e := range eps {
			_, _ = d.Info.DataFile(e)
			_ = reportEpisode(e)
		}
	})
}

func FuzzEpisodesJSONL(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if eps, err := ParseEpisodesJSONL(data); err == nil {
			var buf bytes.Buffer
			if err := writeEpisodesJSONL(&buf, eps); err != nil {
				t.Fatalf("re-encode episodes: %v", err)
			}
			again, err := ParseEpisodesJSONL(buf.Bytes())
			if err != nil || len(again) != len(eps) {
				t.Fatalf("episodes.jsonl does not round-trip: %v\n%s", err, buf.Bytes())
			}
			for i := range eps {
				if again[i].Index != eps[i].Index || again[i].Length != eps[i].Length || len(again[i].Tasks) != len(eps[i].Tasks) {
					t.Fatalf("episode %d: %+v became %+v", i, eps[i], again[i])
				}
			}
		}
		if stats, err := ParseEpisodesStatsJSONL(data); err == nil {
			for _, st := range stats {
				for _, s := range st {
					_, _ = aggregateStats([]Stats{s, s})
				}
			}
		}
		if tasks, err := ParseTasksJSONL(data); err == nil {
			var buf bytes.Buffer
			if err := writeTasksJSONL(&buf, tasks); err != nil {
				t.Fatalf("re-encode tasks: %v", err)
			}
			again, err := ParseTasksJSONL(buf.Bytes())
			if err != nil || fmt.Sprint(again) != fmt.Sprint(tasks) {
				t.Fatalf("tasks.jsonl does not round-trip: %v", err)
			}
		}
	})
}

// TestFuzzSeeds checks that the committed seed corpus exists and, with
// -update, regenerates the seeds written by this package's writer and taken
// from the fixtures.
func TestFuzzSeeds(t *testing.T) {
	parquetDir := filepath.Join("testdata", "fuzz", "FuzzEpisodesParquet")
	jsonlDir := filepath.Join("testdata", "fuzz", "FuzzEpisodesJSONL")
	if *update {
		requireVideo(t)
		seeds := map[string][]byte{}
		// Ours, kept small so that the fuzzer mutates them quickly: a vector,
		// a video (location columns, (3,1,1) stats) and an image feature.
		root := filepath.Join(t.TempDir(), "seed")
		w, err := Create(WriterConfig{Root: root, FPS: 10, Features: []Feature{
			{Name: "observation.state", Dtype: "float32", Shape: []int{2}},
			{Name: "observation.images.front", Dtype: "video", Shape: []int{64, 64, 3}},
			{Name: "observation.images.wrist", Dtype: "image", Shape: []int{8, 8, 3}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		for ep, n := range []int{2, 3} {
			for i := 0; i < n; i++ {
				if err := w.AddFrame(Frame{"observation.state": []float32{float32(i), -1}, "observation.images.front": scene(64, 64, i, 0),
					"observation.images.wrist": scene(8, 8, i, 1)}, testTasks[ep]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.SaveEpisode(); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		seeds["ours"], _ = os.ReadFile(filepath.Join(root, "meta/episodes/chunk-000/file-000.parquet"))
		seeds["lerobot_record_test"], _ = os.ReadFile(filepath.Join(fixture(t, "record-test"), "meta/episodes/chunk-000/file-000.parquet"))
		writeSeeds(t, parquetDir, seeds)

		g1 := fixture(t, "G1-policy-train")
		firstLines := func(path string, n int) []byte {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.SplitAfterN(b, []byte("\n"), n+1)
			return bytes.Join(lines[:n], nil)
		}
		v21, _ := writeCameraDataset(t, CodebaseVersionV21, []int{2, 3})
		oursStats, _ := os.ReadFile(filepath.Join(v21, EpisodesStatsPathV21))
		writeSeeds(t, jsonlDir, map[string][]byte{
			"lerobot_g1_episodes":       firstLines(filepath.Join(g1, EpisodesPathV21), 5),
			"lerobot_g1_tasks":          firstLines(filepath.Join(g1, TasksPathV21), 1),
			"lerobot_g1_episodes_stats": firstLines(filepath.Join(g1, EpisodesStatsPathV21), 1),
			"ours_episodes_stats":       oursStats,
			"unicode_task":              []byte("{\"task_index\": 0, \"task\": \"pick the ключ 🔑\"}\n{\"task_index\": 1, \"task\": \"\\u00e9\"}\n"),
			"bad_length":                []byte(`{"episode_index": 0, "tasks": ["a"], "length": -3}` + "\n"),
			"duplicate_index":           []byte("{\"episode_index\": 0, \"tasks\": [], \"length\": 1}\n{\"episode_index\": 0, \"tasks\": [], \"length\": 2}\n"),
		})
	}
	for _, dir := range []string{parquetDir, jsonlDir} {
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) < 2 {
			t.Errorf("%s: %d seeds (%v); run go test ./dataset -run TestFuzzSeeds -update", dir, len(entries), err)
		}
	}
}

func writeSeeds(t *testing.T, dir string, seeds map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		if len(b) == 0 {
			t.Fatalf("seed %s is empty", name)
		}
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
