package dataset

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var fingerprintRE = regexp.MustCompile(`"fingerprint": "([0-9a-f]{16})"`)

// TestHuggingfaceMetadata checks the `huggingface` string byte for byte
// against the one LeRobot wrote in record-test (spec §4.2; only the random
// fingerprint differs) and against the HIL-SERL v3.0 string the spec derives.
func TestHuggingfaceMetadata(t *testing.T) {
	root := fixture(t, "record-test")
	pf, err := openParquet(filepath.Join(root, "data/chunk-000/file-000.parquet"), checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	lerobot, _ := pf.keyValue("huggingface")
	pf.Close()

	recordTest := append([]Feature{
		{Name: "action", Dtype: "float32", Shape: []int{6}},
		{Name: "observation.state", Dtype: "float32", Shape: []int{6}},
	}, DefaultFeatures()...)
	hil := append([]Feature{
		{Name: "observation.state", Dtype: "float32", Shape: []int{18}},
		{Name: "action", Dtype: "float32", Shape: []int{4}},
		{Name: "next.reward", Dtype: "float32", Shape: []int{1}},
		{Name: "next.done", Dtype: "bool", Shape: []int{1}},
		{Name: "complementary_info.discrete_penalty", Dtype: "float32", Shape: []int{1}, Names: []string{"discrete_penalty"}},
	}, DefaultFeatures()...)
	const hilWant = `{"info": {"features": {"observation.state": {"feature": {"dtype": "float32", "_type": "Value"}, "length": 18, "_type": "List"}, "action": {"feature": {"dtype": "float32", "_type": "Value"}, "length": 4, "_type": "List"}, "next.reward": {"dtype": "float32", "_type": "Value"}, "next.done": {"dtype": "bool", "_type": "Value"}, "complementary_info.discrete_penalty": {"dtype": "float32", "_type": "Value"}, "timestamp": {"dtype": "float32", "_type": "Value"}, "frame_index": {"dtype": "int64", "_type": "Value"}, "episode_index": {"dtype": "int64", "_type": "Value"}, "index": {"dtype": "int64", "_type": "Value"}, "task_index": {"dtype": "int64", "_type": "Value"}}}, "fingerprint": "<16 hex chars>"}`

	for _, tc := range []struct {
		name     string
		features []Feature
		want     string
	}{
		{"record-test (LeRobot 0.4.x file)", recordTest, lerobot},
		{"HIL-SERL (spec §4.2)", hil, hilWant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := huggingfaceMetadata(tc.features)
			if err != nil {
				t.Fatal(err)
			}
			m := fingerprintRE.FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("no 16-hex fingerprint in %s", got)
			}
			want := regexp.MustCompile(`"fingerprint": "[^"]*"`).ReplaceAllString(tc.want, `"fingerprint": "`+m[1]+`"`)
			if got != want {
				t.Errorf("huggingface metadata\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestWrittenFormat writes a dataset and checks its files at the byte and
// type level: Parquet key-value metadata, the stored Arrow schema, every
// column type (against record-test's, written by pyarrow, wherever the
// column exists in both), compression and row groups.
func TestWrittenFormat(t *testing.T) {
	lengths := []int{3, 8, 5}
	root, _ := writeTestDataset(t, lengths)
	mem := checkedMem(t)
	ref := fixture(t, "record-test")
	features := append(hilFeatures(), DefaultFeatures()...)

	t.Run("data", func(t *testing.T) {
		pf, err := openParquet(filepath.Join(root, "data/chunk-000/file-000.parquet"), mem)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		hf, ok := pf.keyValue("huggingface")
		want, _ := huggingfaceMetadata(features)
		if !ok || hf != want {
			t.Errorf("huggingface key-value = %q, want %q", hf, want)
		}
		keys := pf.rdr.MetaData().KeyValueMetadata().Keys()
		if !slices.Equal(keys, []string{"huggingface", "ARROW:schema"}) {
			t.Errorf("key-value keys %v, want [huggingface ARROW:schema] as pyarrow writes", keys)
		}
		stored := storedArrowSchema(t, pf)
		if v, _ := stored.Metadata().GetValue("huggingface"); v != want {
			t.Errorf("ARROW:schema metadata huggingface = %q, want the same string", v)
		}
		wantTypes := map[string]string{
			"observation.state": "fixed_size_list<item: float32, nullable>[12]",
			"action":            "fixed_size_list<item: float32, nullable>[4]",
			"next.reward":       "float32",
			"next.done":         "bool",
			"timestamp":         "float32",
			"frame_index":       "int64",
			"episode_index":     "int64",
			"index":             "int64",
			"task_index":        "int64",
		}
		var names []string
		for _, f := range stored.Fields() {
			names = append(names, f.Name)
			if f.Type.String() != wantTypes[f.Name] || !f.Nullable {
				t.Errorf("column %s: %s nullable=%v, want %s nullable", f.Name, f.Type, f.Nullable, wantTypes[f.Name])
			}
		}
		if want := featureNames(features); !slices.Equal(names, want) {
			t.Errorf("columns %v, want %v", names, want)
		}
		compareTypes(t, stored, refSchema(t, filepath.Join(ref, "data/chunk-000/file-000.parquet")))

		md := pf.rdr.MetaData()
		if rep := md.Schema.Root().RepetitionType(); rep != parquet.Repetitions.Required {
			t.Errorf("root repetition %v, want REQUIRED as pyarrow writes", rep)
		}
		if len(md.RowGroups) != len(lengths) {
			t.Fatalf("%d row groups, want one per episode (%d)", len(md.RowGroups), len(lengths))
		}
		for rg, n := range lengths {
			g := md.RowGroup(rg)
			if g.NumRows() != int64(n) {
				t.Errorf("row group %d has %d rows, want %d", rg, g.NumRows(), n)
			}
			for c := 0; c < g.NumColumns(); c++ {
				cc, err := g.ColumnChunk(c)
				if err != nil {
					t.Fatal(err)
				}
				if cc.Compression() != compress.Codecs.Snappy {
					t.Errorf("row group %d column %s: compression %v, want SNAPPY", rg, cc.PathInSchema(), cc.Compression())
				}
			}
			// A constant column is dictionary-encoded (use_dictionary=True).
			cc, _ := g.ColumnChunk(md.Schema.ColumnIndexByName("episode_index"))
			if !cc.HasDictionaryPage() {
				t.Errorf("row group %d: episode_index has no dictionary page", rg)
			}
		}
	})

	t.Run("episodes", func(t *testing.T) {
		pf, err := openParquet(filepath.Join(root, "meta/episodes/chunk-000/file-000.parquet"), mem)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		if keys := pf.rdr.MetaData().KeyValueMetadata().Keys(); !slices.Equal(keys, []string{"ARROW:schema"}) {
			t.Errorf("key-value keys %v, want [ARROW:schema] as natively recorded files have", keys)
		}
		stored := storedArrowSchema(t, pf)
		refS := refSchema(t, filepath.Join(ref, "meta/episodes/chunk-000/file-000.parquet"))
		compareTypes(t, stored, refS)
		// Same column order as LeRobot's, feature names aside (record-test
		// lists action before observation.state).
		canon := regexp.MustCompile(`^stats/[^/]+/`)
		var ours, theirs []string
		for _, f := range stored.Fields() {
			if refS.HasField(f.Name) {
				ours = append(ours, canon.ReplaceAllString(f.Name, "stats/*/"))
			}
		}
		for _, f := range refS.Fields() {
			if stored.HasField(f.Name) {
				theirs = append(theirs, canon.ReplaceAllString(f.Name, "stats/*/"))
			}
		}
		if !slices.Equal(ours, theirs) {
			t.Errorf("common columns in order %v, LeRobot's %v", ours, theirs)
		}
		// Columns record-test has no counterpart for: a float32 scalar and a
		// bool (min/max stay bool, as LeRobot 0.4's .tolist() leaves them).
		const (
			f64 = "list<item: float64, nullable>"
			i64 = "list<item: int64, nullable>"
			bl  = "list<item: bool, nullable>"
		)
		want := map[string]string{}
		for _, stat := range statNames(true) {
			want["stats/next.reward/"+stat], want["stats/next.done/"+stat] = f64, f64
		}
		want["stats/next.reward/count"], want["stats/next.done/count"] = i64, i64
		want["stats/next.done/min"], want["stats/next.done/max"] = bl, bl
		for name, typ := range want {
			idx := stored.FieldIndices(name)
			if len(idx) != 1 || stored.Field(idx[0]).Type.String() != typ || !stored.Field(idx[0]).Nullable {
				t.Errorf("column %s: %v, want %s", name, idx, typ)
			}
		}
		if n := stored.NumFields(); n != 7+9*10+2 {
			t.Errorf("%d columns, want 7 + 9 features × 10 stats + 2", n)
		}
	})

	t.Run("tasks", func(t *testing.T) {
		pf, err := openParquet(filepath.Join(root, TasksPath), mem)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		const wantPandas = `{"index_columns": ["task"], "column_indexes": [{"name": null, "field_name": null, "pandas_type": "unicode", "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}], "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": null}, {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": null}], "attributes": {}, "creator": {"library": "pyarrow", "version": "22.0.0"}, "pandas_version": "2.3.3"}`
		if got, _ := pf.keyValue("pandas"); got != wantPandas {
			t.Errorf("pandas metadata\n got %s\nwant %s", got, wantPandas)
		}
		stored := storedArrowSchema(t, pf)
		if v, _ := stored.Metadata().GetValue("pandas"); v != wantPandas {
			t.Errorf("ARROW:schema pandas metadata = %q", v)
		}
		if got := stored.String(); !strings.Contains(got, "task_index: type=int64, nullable") || !strings.Contains(got, "task: type=utf8, nullable") || stored.NumFields() != 2 {
			t.Errorf("tasks schema %s, want task_index int64, task utf8", got)
		}
		tasks, err := readTasks(pf)
		if err != nil || !slices.Equal(tasks, testTasks) {
			t.Errorf("tasks = %q, %v", tasks, err)
		}
	})

	t.Run("stats.json", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(root, StatsPath))
		if err != nil {
			t.Fatal(err)
		}
		v, err := decodeOrdered(b)
		if err != nil {
			t.Fatal(err)
		}
		top := v.(obj)
		var keys []string
		for _, m := range top {
			keys = append(keys, m.key)
		}
		if want := featureNames(features); !slices.Equal(keys, want) {
			t.Errorf("stats.json features %v, want %v", keys, want)
		}
		total := 0
		for _, n := range lengths {
			total += n
		}
		for _, m := range top {
			f, _ := (Info{Features: features}).Feature(m.key)
			st := m.val.(obj)
			var statKeys []string
			for _, s := range st {
				statKeys = append(statKeys, s.key)
				l := s.val.([]any)
				wantLen := f.dim()
				if s.key == "count" {
					wantLen = 1
					if l[0].(json.Number) != json.Number(strconv.Itoa(total)) {
						t.Errorf("%s count %v, want [%d]", m.key, l, total)
					}
				}
				if len(l) != wantLen {
					t.Errorf("%s.%s has %d values, want %d", m.key, s.key, len(l), wantLen)
				}
				for _, x := range l {
					checkStatJSONType(t, m.key+"."+s.key, x, f.Dtype, s.key)
				}
			}
			if !slices.Equal(statKeys, statNames(true)) {
				t.Errorf("%s stats keys %v, want %v", m.key, statKeys, statNames(true))
			}
		}
		if !bytes.HasPrefix(b, []byte("{\n    \"observation.state\": {\n        \"min\": [\n            ")) {
			t.Errorf("stats.json is not json.dump(indent=4): %.80q", b)
		}
	})
}

// checkStatJSONType checks that a stats.json number is typed as LeRobot's
// .tolist() makes it: ints for integer min/max and count, bools for bool
// min/max, floats (with "." or "e") for everything else.
func checkStatJSONType(t *testing.T, where string, x any, dtype, stat string) {
	t.Helper()
	kind := kindFloat
	if stat == "count" {
		kind = kindInt
	} else if stat == "min" || stat == "max" {
		kind = minMaxKind(dtype)
	}
	switch kind {
	case kindBool:
		if _, ok := x.(bool); !ok {
			t.Errorf("%s: %v, want a JSON boolean", where, x)
		}
	case kindInt:
		if n, ok := x.(json.Number); !ok || strings.ContainsAny(string(n), ".e") {
			t.Errorf("%s: %v, want a JSON integer", where, x)
		}
	default:
		if n, ok := x.(json.Number); !ok || !strings.ContainsAny(string(n), ".e") {
			t.Errorf("%s: %v, want a Python float", where, x)
		}
	}
}

func TestInfoGolden(t *testing.T) {
	root, _ := writeTestDataset(t, []int{2, 3})
	got, err := os.ReadFile(filepath.Join(root, InfoPath))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden", "info.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./dataset -run TestInfoGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("info.json differs from %s:\n%s", golden, got)
	}
	// Re-encoding what we parse reproduces the file.
	in, err := ParseInfo(got)
	if err != nil {
		t.Fatal(err)
	}
	again, err := in.EncodeJSON()
	if err != nil || !bytes.Equal(again, got) {
		t.Errorf("ParseInfo+EncodeJSON does not round-trip: %v", err)
	}
}

// TestInfoReencodesLeRobotFiles parses every fixture info.json and re-encodes
// it: the result must equal the file up to key order inside features (LeRobot
// 0.4 wrote dtype, names, shape for robot features) and list compaction.
func TestInfoReencodesLeRobotFiles(t *testing.T) {
	for _, name := range []string{"record-test", "oc_models", "open_50", "G1-policy-train", "hilserl-v2.1-card"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(fixture(t, name), InfoPath))
			if err != nil {
				t.Fatal(err)
			}
			in, err := ParseInfo(b)
			if err != nil {
				t.Fatal(err)
			}
			out, err := in.EncodeJSON()
			if err != nil {
				t.Fatal(err)
			}
			var a, c any
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &c); err != nil {
				t.Fatal(err)
			}
			ja, _ := json.Marshal(a)
			jc, _ := json.Marshal(c)
			if !bytes.Equal(ja, jc) {
				t.Errorf("re-encoded info.json differs:\n got %s\nwant %s", jc, ja)
			}
		})
	}
}

func featureNames(fs []Feature) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

// storedArrowSchema decodes the ARROW:schema key-value (an IPC stream with
// the schema message) independently of pqarrow's schema reconstruction.
func storedArrowSchema(t *testing.T, pf *parquetFile) *arrow.Schema {
	t.Helper()
	enc, ok := pf.keyValue("ARROW:schema")
	if !ok {
		t.Fatalf("%s: no ARROW:schema", pf.path)
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: ARROW:schema: %v", pf.path, err)
	}
	defer r.Release()
	return r.Schema()
}

func refSchema(t *testing.T, path string) *arrow.Schema {
	t.Helper()
	pf, err := openParquet(path, checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	return storedArrowSchema(t, pf)
}

var fixedSize = regexp.MustCompile(`\[\d+\]$`)

// compareTypes checks that every column present in both schemas has the
// same Arrow type (child names and nullability included, vector lengths
// aside) and nullability.
func compareTypes(t *testing.T, ours, lerobot *arrow.Schema) {
	t.Helper()
	common := 0
	for _, f := range ours.Fields() {
		idx := lerobot.FieldIndices(f.Name)
		if len(idx) == 0 {
			continue
		}
		common++
		r := lerobot.Field(idx[0])
		if fixedSize.ReplaceAllString(f.Type.String(), "[D]") != fixedSize.ReplaceAllString(r.Type.String(), "[D]") || f.Nullable != r.Nullable {
			t.Errorf("column %s: ours %s nullable=%v, LeRobot's %s nullable=%v", f.Name, f.Type, f.Nullable, r.Type, r.Nullable)
		}
	}
	if common < 5 {
		t.Errorf("only %d columns in common with the LeRobot file", common)
	}
}
