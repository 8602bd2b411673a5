package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// duckFile is what testdata/duckdb_dump.mjs prints for one file.
type duckFile struct {
	NumRows  int               `json:"num_rows"`
	Columns  [][2]string       `json:"columns"` // name, DuckDB type
	KeyValue map[string]string `json:"key_value"`
}

func (f duckFile) typeOf(col string) string {
	for _, c := range f.Columns {
		if c[0] == col {
			return c[1]
		}
	}
	return ""
}

// duckdb runs the DuckDB dump script over files (npm @duckdb/node-api,
// installed by `make deps`).
func duckdb(t *testing.T, files ...string) map[string]duckFile {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireTools(t, "node not found: install Node.js, then @duckdb/node-api with `make deps`")
	}
	nodeModules := os.Getenv("E2HIL_NODE_MODULES")
	if nodeModules == "" {
		nodeModules = filepath.Join("..", ".cache", "node", "node_modules")
	}
	if nodeModules, err = filepath.Abs(nodeModules); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(nodeModules, "@duckdb", "node-api", "package.json")); err != nil {
		requireTools(t, "@duckdb/node-api not found in %s: install it with `make deps`", nodeModules)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join("testdata", "duckdb_dump.mjs"), nodeModules}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.String())
	}
	var res map[string]duckFile
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb output: %v\n%.500s", err, out)
	}
	return res
}

// hfShape reduces a `huggingface` metadata string to its shape: the
// top-level keys, and for each feature the entry with its vector length
// replaced by "D", keyed by the feature's kind.
func hfShape(t *testing.T, s string, kindOf func(name string) string) (top []string, kinds map[string]string) {
	t.Helper()
	v, err := decodeOrdered([]byte(s))
	if err != nil {
		t.Fatalf("huggingface metadata %q: %v", s, err)
	}
	o := v.(obj)
	for _, m := range o {
		top = append(top, m.key)
	}
	info, _ := o.get("info")
	features, _ := info.(obj).get("features")
	kinds = map[string]string{}
	lengthRE := regexp.MustCompile(`"length": \d+`)
	for _, m := range features.(obj) {
		b, err := pyJSON{}.marshal(m.val)
		if err != nil {
			t.Fatal(err)
		}
		kinds[kindOf(m.key)] = lengthRE.ReplaceAllString(string(b), `"length": D`)
	}
	return top, kinds
}

// kindOf names a feature's kind: dtype and whether it is a vector.
func kindOf(features []Feature) func(string) string {
	return func(name string) string {
		for _, f := range features {
			if f.Name == name {
				switch {
				case f.isVisual():
					return f.Dtype
				case f.isScalar():
					return f.Dtype + " scalar"
				}
				return f.Dtype + " vector"
			}
		}
		return "unknown " + name
	}
}

// TestDuckDBReadsOurFiles has DuckDB, an independent Parquet reader, read
// the files we write (state, two video cameras, an image feature) and
// compares what it sees with what it sees in LeRobot's own files for the
// same kinds of feature: column types, and the shape of the `huggingface`
// metadata (v3.0: record-test; v2.1: G1-policy-train).
func TestDuckDBReadsOurFiles(t *testing.T) {
	lengths := []int{9, 6}
	for _, tc := range []struct {
		version, fixture, refData, refEpisodes string
		top                                    []string
	}{
		{CodebaseVersion, "record-test", "data/chunk-000/file-000.parquet", "meta/episodes/chunk-000/file-000.parquet", []string{"info", "fingerprint"}},
		{CodebaseVersionV21, "G1-policy-train", "data/chunk-000/episode_000000.parquet", "", []string{"info"}},
	} {
		t.Run(tc.version, func(t *testing.T) {
			root, _ := writeCameraDataset(t, tc.version, lengths)
			ref := fixture(t, tc.fixture)
			refInfo, err := Open(ref)
			if err != nil {
				t.Fatal(err)
			}
			ours := append(cameraFeatures(), DefaultFeatures()...)

			dataFile := filepath.Join(root, "data/chunk-000/file-000.parquet")
			if tc.version == CodebaseVersionV21 {
				dataFile = filepath.Join(root, "data/chunk-000/episode_000000.parquet")
			}
			files := []string{dataFile, filepath.Join(ref, tc.refData)}
			if tc.refEpisodes != "" {
				files = append(files, filepath.Join(root, "meta/episodes/chunk-000/file-000.parquet"), filepath.Join(ref, tc.refEpisodes),
					filepath.Join(root, TasksPath), filepath.Join(ref, TasksPath))
			}
			got := duckdb(t, files...)
			data, refData := got[files[0]], got[files[1]]

			// Column types: every column of a kind the LeRobot file also has
			// must read as that file's column of the same kind does.
			refTypes := map[string]string{}
			for _, c := range refData.Columns {
				refTypes[kindOf(refInfo.Info.Features)(c[0])] = c[1]
			}
			// Kinds no LeRobot file in the fixtures has: datasets' own types.
			refTypes["bool scalar"] = "BOOLEAN"
			refTypes["image"] = "STRUCT(bytes BLOB, path VARCHAR)" // datasets.Image: struct<bytes: binary, path: string>
			var names []string
			for _, c := range data.Columns {
				names = append(names, c[0])
				kind := kindOf(ours)(c[0])
				if want, ok := refTypes[kind]; !ok || c[1] != want {
					t.Errorf("column %s (%s): DuckDB reads %s, LeRobot's %s column reads %s", c[0], kind, c[1], kind, want)
				}
			}
			var wantNames []string
			for _, f := range ours {
				if !f.isVideo() {
					wantNames = append(wantNames, f.Name)
				}
			}
			if !slices.Equal(names, wantNames) || data.NumRows != lengths[0] && tc.version == CodebaseVersionV21 || data.NumRows != 15 && tc.version == CodebaseVersion {
				t.Errorf("columns %v rows %d", names, data.NumRows)
			}
			if data.KeyValue["ARROW:schema"] != "<present>" {
				t.Errorf("no ARROW:schema: %v", data.KeyValue)
			}

			// huggingface metadata: same keys, same entry per feature kind.
			top, kinds := hfShape(t, data.KeyValue["huggingface"], kindOf(ours))
			refTop, refKinds := hfShape(t, refData.KeyValue["huggingface"], kindOf(refInfo.Info.Features))
			if !slices.Equal(top, refTop) || !slices.Equal(top, tc.top) {
				t.Errorf("huggingface top-level keys %v, LeRobot's file has %v", top, refTop)
			}
			refKinds["image"] = `{"_type": "Image"}` // datasets.Image().to_dict() with defaults omitted (spec §4.2)
			refKinds["bool scalar"] = `{"dtype": "bool", "_type": "Value"}`
			for kind, entry := range kinds {
				if refKinds[kind] != entry {
					t.Errorf("huggingface entry of a %s feature: %s, LeRobot's: %s", kind, entry, refKinds[kind])
				}
			}
			if _, hasVideo := kinds["video"]; hasVideo {
				t.Error("huggingface metadata describes a video feature (videos have no column)")
			}

			if tc.refEpisodes == "" {
				return
			}
			// Episodes metadata: every column both files have reads the same,
			// stats columns compared by feature kind.
			eps, refEps := got[files[2]], got[files[3]]
			statsRE := regexp.MustCompile(`^stats/(.+)/([a-z0-9]+)$`)
			canon := func(features []Feature, col string) string {
				if m := statsRE.FindStringSubmatch(col); m != nil {
					return "stats/" + kindOf(features)(m[1]) + "/" + m[2]
				}
				return col
			}
			refEpTypes := map[string]string{}
			for _, c := range refEps.Columns {
				refEpTypes[canon(refInfo.Info.Features, c[0])] = c[1]
			}
			common := 0
			for _, c := range eps.Columns {
				want, ok := refEpTypes[canon(ours, c[0])]
				if !ok {
					continue
				}
				common++
				if c[1] != want {
					t.Errorf("episodes column %s: DuckDB reads %s, LeRobot's reads %s", c[0], c[1], want)
				}
			}
			if common < 60 {
				t.Errorf("only %d episodes columns in common with LeRobot's file", common)
			}
			if typ := eps.typeOf("stats/observation.images.gripper/mean"); typ != "DOUBLE[][][]" {
				t.Errorf("image stats column reads %s, want DOUBLE[][][] like LeRobot's camera stats", typ)
			}
			if eps.NumRows != 2 {
				t.Errorf("episodes rows %d", eps.NumRows)
			}
			// Tasks: task_index BIGINT plus the VARCHAR pandas index column.
			tasks, refTasks := got[files[4]], got[files[5]]
			if len(tasks.Columns) != 2 || tasks.Columns[0] != refTasks.Columns[0] || tasks.Columns[1][1] != refTasks.Columns[1][1] {
				t.Errorf("tasks columns %v, LeRobot's %v", tasks.Columns, refTasks.Columns)
			}
			if !strings.Contains(tasks.KeyValue["pandas"], `"index_columns": ["`+tasks.Columns[1][0]+`"]`) {
				t.Errorf("tasks pandas metadata %q does not index by %s", tasks.KeyValue["pandas"], tasks.Columns[1][0])
			}
		})
	}
}
