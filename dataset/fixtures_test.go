package dataset

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// manifestEntry is one dataset of the fixtures' MANIFEST.json.
type manifestEntry struct {
	CodebaseVersion string   `json:"codebase_version"`
	TotalEpisodes   int      `json:"total_episodes"`
	TotalFrames     int      `json:"total_frames"`
	FPS             int      `json:"fps"`
	PresentDataRows int      `json:"present_data_rows"`
	PresentEpisodes []int    `json:"present_episodes"`
	Missing         []string `json:"missing"`
	Validate        string   `json:"validate"`
}

func readManifest(t *testing.T) map[string]manifestEntry {
	t.Helper()
	dir := filepath.Dir(fixture(t, "record-test"))
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]manifestEntry
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("MANIFEST.json: %v", err)
	}
	return m
}

// seq is "a..b" as paths made by format.
func seq(a, b int, format string) []string {
	var out []string
	for i := a; i <= b; i++ {
		out = append(out, fmt.Sprintf(format, i))
	}
	return out
}

// TestFixtures runs inspect, the reader and validate over every real
// dataset of MANIFEST.json: the totals of info.json, every present data row,
// and exactly the problems the manifest describes. The manifest states the
// missing files in prose ("data for episodes 3..99"); wantProblems spells
// each statement out as the exact problem lines.
func TestFixtures(t *testing.T) {
	requireVideo(t) // G1's present videos are decoded
	manifest := readManifest(t)
	g1Data := "data/chunk-000/episode_%06d.parquet"
	g1Video := "videos/chunk-000/observation.images.cam_high/episode_%06d.mp4"
	type expect struct {
		// missing files, each reported as "<file>: missing (…)"
		missing []string
		// other problems, as regular-expression-free substrings of "file: field: message", in order
		others []string
		// the first problems, in order (hilserl: metadata files first)
		first []string
	}
	tests := map[string]expect{
		// "fails, naming exactly the missing video files and nothing else"
		"record-test": {missing: manifest["record-test"].Missing},
		// "all data/ files named by meta/episodes", "all videos/ files named by meta/episodes": one of each
		"oc_models": {missing: []string{"data/chunk-000/file-000.parquet", "videos/observation.images.top_phone/chunk-000/file-000.mp4"}},
		// "data for episodes 3..99", "cam_high video of episode 0 and of episodes 3..99"
		"G1-policy-train": {missing: slices.Concat(seq(3, 99, g1Data), []string{fmt.Sprintf(g1Video, 0)}, seq(3, 99, g1Video))},
		// "everything but meta/info.json", "naming the missing metadata files first"
		"hilserl-v2.1-card": {
			first: []string{"meta/tasks.jsonl: missing", "meta/episodes.jsonl: missing", "meta/episodes_stats.jsonl: missing"},
			missing: slices.Concat([]string{"meta/tasks.jsonl", "meta/episodes.jsonl", "meta/episodes_stats.jsonl"},
				seq(0, 29, "data/chunk-000/episode_%06d.parquet"),
				seq(0, 29, "videos/chunk-000/observation.images.front/episode_%06d.mp4"),
				seq(0, 29, "videos/chunk-000/observation.images.wrist/episode_%06d.mp4")),
		},
		// "not written by LeRobot (no huggingface metadata, variable-length list
		// columns …, videos under video/), each named" — and its absent files.
		"open_50": {
			others: []string{
				"data/chunk-000/file-000.parquet: huggingface: no Hugging Face features metadata",
				"data/chunk-000/file-000.parquet: actions: variable-length list<list: float32, nullable>: LeRobot writes fixed_size_list<item: float32, nullable>[34]",
				"data/chunk-000/file-000.parquet: state: variable-length list<list: float32, nullable>: LeRobot writes fixed_size_list<item: float32, nullable>[34]",
				"data/chunk-000/file-001.parquet: huggingface: no Hugging Face features metadata",
				"data/chunk-000/file-001.parquet: actions: variable-length list",
				"data/chunk-000/file-001.parquet: state: variable-length list",
			},
			missing: slices.Concat(seq(2, 49, "data/chunk-000/file-%03d.parquet"), seq(0, 49, "videos/image/chunk-000/file-%03d.mp4")),
		},
	}
	if len(tests) != len(manifest) {
		t.Errorf("MANIFEST.json has %d datasets, this test knows %d", len(manifest), len(tests))
	}
	names := make([]string, 0, len(manifest))
	for n := range manifest {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		m := manifest[name]
		tc, ok := tests[name]
		if !ok {
			t.Errorf("%s: no expectations in this test", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			root := fixture(t, name)

			// inspect --json reports info.json's totals.
			rep, err := Inspect(root)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				CodebaseVersion string                     `json:"codebase_version"`
				FPS             int                        `json:"fps"`
				TotalEpisodes   int                        `json:"total_episodes"`
				TotalFrames     int                        `json:"total_frames"`
				TotalTasks      *int                       `json:"total_tasks"`
				Features        map[string]json.RawMessage `json:"features"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.CodebaseVersion != m.CodebaseVersion || got.FPS != m.FPS || got.TotalEpisodes != m.TotalEpisodes ||
				got.TotalFrames != m.TotalFrames || got.TotalTasks == nil || len(got.Features) == 0 {
				t.Errorf("inspect --json: %s; manifest: %+v", b, m)
			}

			// Every present data row reads back.
			rows := 0
			var present []int
			if d, err := Open(root); err == nil {
				for _, e := range d.Episodes {
					rel, _ := d.Info.DataFile(e)
					if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
						continue
					}
					data, err := d.ReadEpisode(e.Index)
					if err != nil {
						t.Fatalf("episode %d: %v", e.Index, err)
					}
					if len(data.Index) != e.Length || data.Index[0] != e.FromIndex {
						t.Errorf("episode %d: %d rows from index %d, want %d from %d", e.Index, len(data.Index), data.Index[0], e.Length, e.FromIndex)
					}
					for _, f := range d.Info.Features {
						if f.Dtype == "float32" && !isDefaultFeature(f.Name) && len(data.Values[f.Name]) != e.Length*f.dim() {
							t.Errorf("episode %d %s: %d values, want %d", e.Index, f.Name, len(data.Values[f.Name]), e.Length*f.dim())
						}
					}
					rows += len(data.Index)
					present = append(present, e.Index)
				}
			} else if m.PresentDataRows != 0 {
				t.Fatalf("Open: %v, but the manifest says %d rows are present", err, m.PresentDataRows)
			}
			if rows != m.PresentDataRows {
				t.Errorf("read %d data rows, manifest present_data_rows is %d", rows, m.PresentDataRows)
			}
			if m.PresentEpisodes != nil && !slices.Equal(present, m.PresentEpisodes) {
				t.Errorf("episodes with data %v, manifest present_episodes %v", present, m.PresentEpisodes)
			}

			// validate reports exactly the manifest's problems.
			v, err := Validate(ctx, root, ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if v.OK() {
				t.Fatalf("validate passed; manifest: %s", m.Validate)
			}
			var lines []string
			for _, p := range v.Problems {
				lines = append(lines, p.String())
			}
			for i, want := range tc.first {
				if i >= len(lines) || !strings.HasPrefix(lines[i], want) {
					t.Errorf("problem %d is %q, want it to start with %q", i, at(lines, i), want)
				}
			}
			var gotMissing, rest []string
			for _, l := range lines {
				if file, _, ok := strings.Cut(l, ": missing"); ok {
					gotMissing = append(gotMissing, file)
				} else {
					rest = append(rest, l)
				}
			}
			sort.Strings(gotMissing)
			wantMissing := slices.Sorted(slices.Values(tc.missing))
			if !slices.Equal(gotMissing, wantMissing) {
				t.Errorf("missing files reported: %d, want %d\n extra:   %v\n absent:  %v",
					len(gotMissing), len(wantMissing), diff(gotMissing, wantMissing), diff(wantMissing, gotMissing))
			}
			if len(rest) != len(tc.others) {
				t.Errorf("%d other problems, want %d:\n%s", len(rest), len(tc.others), strings.Join(rest, "\n"))
			}
			for i, want := range tc.others {
				if i < len(rest) && !strings.HasPrefix(rest[i], want) {
					t.Errorf("problem %q, want it to start with %q", rest[i], want)
				}
			}
			if m.PresentDataRows != v.CheckedFrames {
				t.Errorf("validate checked %d rows, %d are present", v.CheckedFrames, m.PresentDataRows)
			}
		})
	}
}

func at(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return "(none)"
}

// diff returns the elements of a not in b.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	if len(out) > 6 {
		out = append(out[:6], fmt.Sprintf("… %d more", len(out)-6))
	}
	return out
}
