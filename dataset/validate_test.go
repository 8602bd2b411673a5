package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/e2hil/e2hil/dataset/video"
)

// copyTree copies a dataset directory.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// treeHash fingerprints every file of a directory.
func treeHash(t testing.TB, root string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			out[path] = sha256.Sum256(b)
		}
		return nil
	})
	return out
}

var (
	validOnce  sync.Once
	validRoots map[string]string
	validDir   string
)

// validCameraDatasets writes one small camera dataset per version, shared
// by the tests that corrupt copies of them.
func validCameraDatasets(t *testing.T) map[string]string {
	requireVideo(t)
	validOnce.Do(func() {
		dir, err := os.MkdirTemp("", "e2hil-valid-")
		if err != nil {
			t.Fatal(err)
		}
		validDir = dir
		validRoots = map[string]string{}
		for _, v := range []string{CodebaseVersion, CodebaseVersionV21} {
			root := filepath.Join(dir, v)
			w, err := Create(WriterConfig{Root: root, FPS: 30, Features: cameraFeatures(), CodebaseVersion: v})
			if err != nil {
				t.Fatal(err)
			}
			recordCameras(t, w, []int{8, 6, 5})
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			validRoots[v] = root
		}
	})
	if validRoots == nil {
		t.Fatal("writing the valid datasets failed earlier")
	}
	return validRoots
}

func TestMain(m *testing.M) {
	code := m.Run()
	if validDir != "" {
		os.RemoveAll(validDir)
	}
	os.Exit(code)
}

func editFile(t *testing.T, path string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replaceIn(old, new string) func([]byte) []byte {
	return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
}

// shortVideo replaces path by an mp4 of n frames of the camera size.
func shortVideo(t *testing.T, path string, n int) {
	t.Helper()
	e, err := video.NewEncoder(context.Background(), path, 128, 128, 30, video.DefaultEncoderConfig())
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < n; k++ {
		if err := e.WriteFrame(scene(128, 128, k, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestValidateBadInput corrupts copies of valid datasets, one way each, and
// checks that validation names the file and field, and that Open refuses
// with an error naming the file. Nothing is ever written by either.
func TestValidateBadInput(t *testing.T) {
	roots := validCameraDatasets(t)
	const v3, v21 = CodebaseVersion, CodebaseVersionV21
	data3 := "data/chunk-000/file-000.parquet"
	front3 := "videos/observation.images.front/chunk-000/file-000.mp4"
	tests := []struct {
		name     string
		version  string
		corrupt  func(t *testing.T, root string)
		want     []string // substrings of one problem line each
		openWant string   // substring of Open's error; "" when Open still succeeds
	}{
		{"valid v3.0", v3, func(*testing.T, string) {}, nil, ""},
		{"valid v2.1", v21, func(*testing.T, string) {}, nil, ""},
		{"truncated data file", v3, func(t *testing.T, root string) {
			p := filepath.Join(root, data3)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, []string{data3 + ": not a readable Parquet file"}, ""},
		{"truncated episodes file", v3, func(t *testing.T, root string) {
			p := filepath.Join(root, "meta/episodes/chunk-000/file-000.parquet")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-100], 0o644)
		}, []string{"meta/episodes/chunk-000/file-000.parquet: not a readable Parquet file"}, "meta/episodes/chunk-000/file-000.parquet"},
		{"info.json without fps", v3, func(t *testing.T, root string) {
			editFile(t, filepath.Join(root, InfoPath), replaceIn(`"fps": 30,`, ``))
		}, []string{"meta/info.json: fps: missing"}, "fps: missing"},
		{"info.json with an unknown key", v3, func(t *testing.T, root string) {
			editFile(t, filepath.Join(root, InfoPath), replaceIn(`"fps": 30,`, `"fps": 30, "camera_serials": [1, 2],`))
		}, nil, ""},
		{"unknown codebase_version", v3, func(t *testing.T, root string) {
			editFile(t, filepath.Join(root, InfoPath), replaceIn(`"v3.0"`, `"v9.9"`))
		}, []string{"meta/info.json: codebase_version: v9.9 is not a version"}, "codebase_version v9.9"},
		{"shape mismatch", v3, func(t *testing.T, root string) {
			editFile(t, filepath.Join(root, InfoPath), replaceIn("\"shape\": [\n                6\n", "\"shape\": [\n                7\n"))
		}, []string{data3 + ": observation.state: 6 values per frame, info.json shape is [7]"}, ""},
		{"column not in info.json", v3, func(t *testing.T, root string) {
			editFile(t, filepath.Join(root, InfoPath), replaceIn(`"next.reward"`, `"next.rewards"`))
		}, []string{data3 + ": next.rewards: missing column", data3 + ": next.reward: column is not a feature of info.json"}, ""},
		{"missing tasks", v3, func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, TasksPath))
		}, []string{"meta/tasks.parquet: missing (info.json total_tasks is 1)"}, "tasks.parquet"},
		{"video shorter than its episodes", v3, func(t *testing.T, root string) {
			shortVideo(t, filepath.Join(root, front3), 10)
		}, []string{front3 + ": episode 1: video lasts 0.333333s, shorter than the episode, whose 6 frames end at 0.466667s",
			front3 + ": episode 2: video lasts 0.333333s"}, ""},
		{"v2.1 video shorter than its episode", v21, func(t *testing.T, root string) {
			shortVideo(t, filepath.Join(root, "videos/chunk-000/observation.images.wrist/episode_000000.mp4"), 4)
		}, []string{"videos/chunk-000/observation.images.wrist/episode_000000.mp4: episode 0: video lasts 0.133333s, shorter than the episode, whose 8 frames end at 0.266667s"}, ""},
		{"video of another size", v3, func(t *testing.T, root string) {
			p := filepath.Join(root, front3)
			e, err := video.NewEncoder(context.Background(), p, 96, 64, 30, video.DefaultEncoderConfig())
			if err != nil {
				t.Fatal(err)
			}
			for k := 0; k < 19; k++ {
				e.WriteFrame(scene(96, 64, k, 0))
			}
			e.Close()
		}, []string{front3 + ": frames are 96x64, info.json observation.images.front shape [3 128 128] says 128x128"}, ""},
		{"not a video", v3, func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, front3), []byte("nope"), 0o644)
		}, []string{front3 + ": not a readable video"}, ""},
		{"v2.1 episode length wrong", v21, func(t *testing.T, root string) {
			editFile(t, filepath.Join(root, EpisodesPathV21), replaceIn(`"length": 6`, `"length": 7`))
		}, []string{"meta/episodes.jsonl: length: episode lengths sum to 20, info.json total_frames is 19"}, "episode lengths sum to 20"},
		{"v2.1 stats of an episode missing", v21, func(t *testing.T, root string) {
			editFile(t, filepath.Join(root, EpisodesStatsPathV21), func(b []byte) []byte {
				lines := bytes.SplitAfter(b, []byte("\n"))
				return bytes.Join(append(lines[:1], lines[2:]...), nil)
			})
		}, []string{"meta/episodes_stats.jsonl: episode 1: no stats line"}, ""},
		{"v2.1 List metadata", v21, func(t *testing.T, root string) {
			// A v2.1 file written with datasets 4.x metadata: LeRobot 0.3 cannot read it.
			src := filepath.Join(roots[v3], data3)
			dst := filepath.Join(root, "data/chunk-000/episode_000000.parquet")
			b, _ := os.ReadFile(src)
			os.WriteFile(dst, b, 0o644)
		}, []string{`data/chunk-000/episode_000000.parquet: huggingface: uses "_type": "List"`, "data/chunk-000/episode_000000.parquet: 19 rows, but episode 0 have 8 frames"}, ""},
		{"stray data file", v3, func(t *testing.T, root string) {
			b, _ := os.ReadFile(filepath.Join(root, data3))
			os.WriteFile(filepath.Join(root, "data/chunk-000/file-007.parquet"), b, 0o644)
		}, []string{"data/chunk-000/file-007.parquet: no episode names this file"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ds")
			copyTree(t, roots[tc.version], root)
			tc.corrupt(t, root)
			before := treeHash(t, root)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			v, err := Validate(ctx, root, ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, p := range v.Problems {
				lines = append(lines, p.String())
			}
			all := strings.Join(lines, "\n")
			if tc.want == nil && !v.OK() {
				t.Errorf("problems in a dataset that should be valid:\n%s", all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("no problem contains %q; got:\n%s", w, all)
				}
			}
			_, err = Open(root)
			switch {
			case tc.openWant == "" && err != nil && tc.want == nil:
				t.Errorf("Open: %v", err)
			case tc.openWant != "" && (err == nil || !strings.Contains(err.Error(), tc.openWant)):
				t.Errorf("Open = %v, want an error containing %q", err, tc.openWant)
			}
			after := treeHash(t, root)
			if len(after) != len(before) {
				t.Errorf("validation changed the files: %d before, %d after", len(before), len(after))
			}
			for p, h := range before {
				if after[p] != h {
					t.Errorf("validation changed %s", p)
				}
			}
		})
	}
}

// TestValidateTimestamps flips a timestamp and an index in a data file
// written by the writer with a different fps, so rows disagree with info.json.
func TestValidateRows(t *testing.T) {
	roots := validCameraDatasets(t)
	root := filepath.Join(t.TempDir(), "ds")
	copyTree(t, roots[CodebaseVersion], root)
	// The same rows read at 15 fps: every timestamp after frame 0 is wrong.
	editFile(t, filepath.Join(root, InfoPath), replaceIn(`"fps": 30,`, `"fps": 15,`))
	v, err := Validate(context.Background(), root, ValidateOptions{SkipDecode: true})
	if err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, p := range v.Problems {
		all += p.String() + "\n"
	}
	for _, want := range []string{
		"data/chunk-000/file-000.parquet: timestamp, row 1: is 0.03333333507180214, want 0.06666667014360428 (frame_index/fps within 0.0001s)",
		"data/chunk-000/file-000.parquet: timestamp: more rows are wrong (only the first 3 are listed)",
		"videos/observation.images.front/chunk-000/file-000.mp4: frame rate 30.000, the dataset's fps is 15",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no problem %q in:\n%s", want, all)
		}
	}
}

func TestRecoverInterruptedSave(t *testing.T) {
	// The third save replaces tasks, data, episodes, stats and info.json.
	for n := 0; n < 5; n++ {
		t.Run(fmt.Sprintf("crash after %d renames", n), func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "ds")
			w, err := Create(testConfig(root))
			if err != nil {
				t.Fatal(err)
			}
			recordEpisodes(t, w, []int{5, 7}, 3)
			// A crash after n renames of the third episode's save.
			crash := errors.New("simulated crash")
			commitHook = func(renamed int) error {
				if renamed == n {
					return crash
				}
				return nil
			}
			defer func() { commitHook = nil }()
			for i := 0; i < 4; i++ {
				w.AddFrame(Frame{"observation.state": make([]float32, 12), "action": make([]float32, 4), "next.reward": float32(0), "next.done": false}, "t")
			}
			err = w.SaveEpisode()
			commitHook = nil
			if !errors.Is(err, ErrInterrupted) || !errors.Is(err, crash) {
				t.Fatalf("SaveEpisode = %v, want ErrInterrupted", err)
			}
			if err := w.AddFrame(Frame{}, "t"); !errors.Is(err, ErrInterrupted) {
				t.Errorf("AddFrame after an interrupted save = %v", err)
			}
			// The process dies here: no Close. The lock goes with it.
			w.lock.f.Close()
			for _, c := range w.cols {
				if vc, ok := c.(*videoColumn); ok {
					vc.shutdown()
				}
			}
			if _, err := Open(root); !errors.Is(err, ErrInterrupted) {
				t.Errorf("Open = %v, want ErrInterrupted", err)
			}
			v, err := Validate(context.Background(), root, ValidateOptions{})
			if err != nil || v.OK() || !strings.Contains(v.Problems[0].String(), "--repair") {
				t.Errorf("validate before repair: %+v, %v", v, err)
			}
			done, err := Recover(root)
			if err != nil || !done {
				t.Fatalf("Recover = %v, %v", done, err)
			}
			d, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Episodes) != 3 || d.NumFrames() != 16 {
				t.Errorf("after recovery: %d episodes, %d frames; want the interrupted save completed (3, 16)", len(d.Episodes), d.NumFrames())
			}
			if v, err := Validate(context.Background(), root, ValidateOptions{}); err != nil || !v.OK() {
				t.Errorf("after recovery: %v %v", v.Problems, err)
			}
		})
	}
}
