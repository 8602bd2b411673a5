package dataset

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestOpenRecordTest(t *testing.T) {
	root := fixture(t, "record-test")
	mem := checkedMem(t)
	d, err := open(root, mem)
	if err != nil {
		t.Fatal(err)
	}
	if d.Info.TotalEpisodes != 4 || d.Info.TotalFrames != 1492 || d.Info.FPS != 30 || d.Info.VideoFilesSizeInMB != 500 || d.NumFrames() != 1492 {
		t.Errorf("info = %+v", d.Info)
	}
	if want := []string{"Pick the orange cube and place it in the box"}; !slices.Equal(d.Tasks, want) {
		t.Errorf("tasks = %q (read through the __index_level_0__ index column), want %q", d.Tasks, want)
	}
	// spec §1.2, the record-test table.
	want := []struct {
		length       int
		from, to     int64
		fromTS, toTS float64
	}{
		{373, 0, 373, 0, 12.433333333333334},
		{374, 373, 747, 12.433333333333334, 24.9},
		{372, 747, 1119, 24.9, 37.3},
		{373, 1119, 1492, 37.3, 49.733333333333334},
	}
	for i, e := range d.Episodes {
		w := want[i]
		if e.Index != i || e.Length != w.length || e.FromIndex != w.from || e.ToIndex != w.to || e.DataChunk != 0 || e.DataFile != 0 {
			t.Errorf("episode %d = %+v, want %+v", i, e, w)
		}
		for _, key := range []string{"observation.images.front", "observation.images.top"} {
			v := e.Videos[key]
			if v.Chunk != 0 || v.File != 0 || v.FromTimestamp != w.fromTS || v.ToTimestamp != w.toTS {
				t.Errorf("episode %d video %s = %+v, want [%v, %v]", i, key, v, w.fromTS, w.toTS)
			}
		}
		if s := e.Stats["observation.images.front"]; s.Count != 100 || len(s.Mean) != 3 {
			t.Errorf("episode %d image stats: count %d, %d means, want 100 and 3 (3,1,1 flattened)", i, s.Count, len(s.Mean))
		}
	}

	pf, err := openParquet(root+"/data/chunk-000/file-000.parquet", mem)
	if err != nil {
		t.Fatal(err)
	}
	var rowGroups []int64
	for i := 0; i < pf.numRowGroups(); i++ {
		rowGroups = append(rowGroups, pf.rdr.MetaData().RowGroup(i).NumRows())
	}
	pf.Close()
	if !slices.Equal(rowGroups, []int64{373, 374, 372, 373}) {
		t.Errorf("row groups %v, want one per episode", rowGroups)
	}

	action, dim, err := d.Float32Column("action")
	if err != nil || dim != 6 || len(action) != 1492*6 {
		t.Fatalf("action: %d values, dim %d, err %v", len(action), dim, err)
	}
	row0 := []float32{-6.891271114349365, -98.28291320800781, 99.63948059082031, 76.9132080078125, -56.389400482177734, 4.505229473114014}
	if !slices.Equal(action[:6], row0) {
		t.Errorf("action row 0 = %v, want %v (hyparquet)", action[:6], row0)
	}
	ts, _, err := d.Float32Column("timestamp")
	if err != nil {
		t.Fatal(err)
	}
	fi, _, _ := d.Int64Column("frame_index")
	ep, _, _ := d.Int64Column("episode_index")
	idx, _, _ := d.Int64Column("index")
	for _, r := range []struct {
		row            int
		ts             float32
		fi, ep, global int64
	}{
		{1, float32(1.0 / 30), 1, 0, 1},
		{372, 12.4, 372, 0, 372},
		{373, 0, 0, 1, 373},
		{374, float32(1.0 / 30), 1, 1, 374},
	} {
		if ts[r.row] != r.ts || fi[r.row] != r.fi || ep[r.row] != r.ep || idx[r.row] != r.global {
			t.Errorf("row %d: ts %v fi %d ep %d index %d, want %v %d %d %d", r.row, ts[r.row], fi[r.row], ep[r.row], idx[r.row], r.ts, r.fi, r.ep, r.global)
		}
	}
}

// TestStatsParityRecordTest recomputes every episode's stats of record-test
// from its data and compares them with what LeRobot stored: min, max, count
// and the histogram quantiles bit for bit. Mean and std differ for float32
// features because LeRobot accumulates them in float32 and takes
// sqrt(E[x²]-E[x]²) (RunningQuantileStats), which loses up to ~2e-4 of the
// std; we accumulate in float64. lerobotFloat32MeanStd shows that this is the
// whole difference by reproducing the stored values bit for bit.
func TestStatsParityRecordTest(t *testing.T) {
	d, err := open(fixture(t, "record-test"), checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range d.Info.Features {
		if f.Dtype == "video" {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			vals, dim, err := d.Float64Column(f.Name)
			if err != nil {
				t.Fatal(err)
			}
			if f.Name == colTimestamp { // LeRobot's stats see frame_index/fps in float64
				fi, _, _ := d.Float64Column(colFrameIndex)
				for i := range vals {
					vals[i] = fi[i] / float64(d.Info.FPS)
				}
			}
			f32 := f.Dtype == "float32" && f.Name != colTimestamp
			meanTol, stdTol := 1e-12, 1e-12
			if f32 {
				meanTol, stdTol = 1e-5, 1e-3
			}
			for _, e := range d.Episodes {
				ep := vals[e.FromIndex*int64(dim) : e.ToIndex*int64(dim)]
				got := computeStats(ep, dim, f32)
				ref := e.Stats[f.Name]
				if got.Count != ref.Count {
					t.Errorf("episode %d count %d, want %d", e.Index, got.Count, ref.Count)
				}
				exact := map[string][2][]float64{"min": {got.Min, ref.Min}, "max": {got.Max, ref.Max}}
				for _, q := range quantileLevels {
					exact[q.key] = [2][]float64{*got.quantile(q.key), *ref.quantile(q.key)}
				}
				if f32 && dim > 1 {
					mean, std := lerobotFloat32MeanStd(ep, dim)
					exact["float32 mean"] = [2][]float64{mean, ref.Mean}
					exact["float32 std"] = [2][]float64{std, ref.Std}
				}
				for name, p := range exact {
					if !slices.Equal(p[0], p[1]) {
						t.Errorf("episode %d %s = %v, want %v", e.Index, name, p[0], p[1])
					}
				}
				for name, p := range map[string][2][]float64{"mean": {got.Mean, ref.Mean}, "std": {got.Std, ref.Std}} {
					tol := map[string]float64{"mean": meanTol, "std": stdTol}[name]
					for i := range p[1] {
						if diff := math.Abs(p[0][i] - p[1][i]); diff > tol*math.Max(1, math.Abs(p[1][i])) {
							t.Errorf("episode %d %s[%d] = %v, want %v", e.Index, name, i, p[0][i], p[1][i])
						}
					}
				}
			}
		})
	}
}

// lerobotFloat32MeanStd is LeRobot's arithmetic for a float32 (n, dim>1)
// batch under NumPy: axis-0 sums accumulated row by row in float32, then
// std = sqrt(max(0, mean(x²) - mean(x)²)) in float32.
func lerobotFloat32MeanStd(vals []float64, dim int) (mean, std []float64) {
	n := len(vals) / dim
	for k := 0; k < dim; k++ {
		var s, s2 float32
		for i := 0; i < n; i++ {
			x := float32(vals[i*dim+k])
			s += x
			s2 += float32(x * x)
		}
		m, m2 := s/float32(n), s2/float32(n)
		mean = append(mean, float64(m))
		std = append(std, float64(float32(math.Sqrt(float64(max(0, float32(m2-float32(m*m))))))))
	}
	return mean, std
}

// TestAggregateParityRecordTest aggregates record-test's stored per-episode
// stats as aggregate_stats does and compares with its stats.json.
func TestAggregateParityRecordTest(t *testing.T) {
	d, err := open(fixture(t, "record-test"), checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Stats) != 9 {
		t.Errorf("stats.json has %d features, want 9", len(d.Stats))
	}
	for name, ref := range d.Stats {
		list := make([]Stats, len(d.Episodes))
		for i, e := range d.Episodes {
			list[i] = e.Stats[name]
		}
		got, err := aggregateStats(list)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Count != ref.Count || !slices.Equal(got.Min, ref.Min) || !slices.Equal(got.Max, ref.Max) {
			t.Errorf("%s: count/min/max = %d %v %v, want %d %v %v", name, got.Count, got.Min, got.Max, ref.Count, ref.Min, ref.Max)
		}
		pairs := map[string][2][]float64{"mean": {got.Mean, ref.Mean}, "std": {got.Std, ref.Std}}
		for _, q := range quantileLevels {
			pairs[q.key] = [2][]float64{*got.quantile(q.key), *ref.quantile(q.key)}
		}
		for stat, p := range pairs {
			if len(p[0]) != len(p[1]) {
				t.Errorf("%s %s: %d values, want %d", name, stat, len(p[0]), len(p[1]))
				continue
			}
			// LeRobot squares its float32 per-episode stds in float32 before
			// aggregating; the stored values are those float32s widened.
			tol := 1e-12
			if stat == "std" {
				tol = 1e-7
			}
			for i := range p[1] {
				if diff := math.Abs(p[0][i] - p[1][i]); diff > tol*math.Max(1, math.Abs(p[1][i])) {
					t.Errorf("%s %s[%d] = %v, want %v", name, stat, i, p[0][i], p[1][i])
				}
			}
		}
	}
}

func TestOpenOcModelsMeta(t *testing.T) {
	root := fixture(t, "oc_models")
	d, err := open(root, checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Episodes) != 50 || d.NumFrames() != 22449 || d.Info.VideoFilesSizeInMB != 200 {
		t.Errorf("%d episodes, %d frames, video size %d; want 50, 22449, 200", len(d.Episodes), d.NumFrames(), d.Info.VideoFilesSizeInMB)
	}
	if want := []string{"Pick the tiger and place near elephant"}; !slices.Equal(d.Tasks, want) {
		t.Errorf("tasks = %q, want %q", d.Tasks, want)
	}
	// Rows come from 5 row groups of 10; from/to must chain across them.
	var next int64
	for i, e := range d.Episodes {
		if e.FromIndex != next || e.ToIndex != next+int64(e.Length) {
			t.Fatalf("episode %d: [%d,%d) length %d, want from %d", i, e.FromIndex, e.ToIndex, e.Length, next)
		}
		next = e.ToIndex
		if _, ok := e.Videos["observation.images.top_phone"]; !ok {
			t.Fatalf("episode %d: no video segment", i)
		}
	}
	// The data files are not in the fixture: reading a column names the missing file.
	_, _, err = d.Float32Column("action")
	if err == nil || !strings.Contains(err.Error(), "data/chunk-000/file-000.parquet") {
		t.Errorf("reading a missing data file: %v", err)
	}
}

// TestReadListColumns reads open_50, written by pandas with variable-length
// list<float> vectors, through its two present episodes.
func TestReadListColumns(t *testing.T) {
	d, err := open(fixture(t, "open_50"), checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	d.Episodes = d.Episodes[:2] // the only episodes whose data files are present
	actions, dim, err := d.Float32Column("actions")
	if err != nil {
		t.Fatal(err)
	}
	if dim != 34 || len(actions) != 922*34 {
		t.Errorf("actions: dim %d, %d values; want 34 and %d", dim, len(actions), 922*34)
	}
	if want := []float32{-0.1, 2.2, 43.3}; !slices.Equal(actions[:3], want) {
		t.Errorf("actions[:3] = %v, want %v", actions[:3], want)
	}
	// A vector read as the wrong width is an error naming the row.
	var n int
	err = d.readDataColumn(d.Root+"/data/chunk-000/file-000.parquet", "actions", 33, 427, func(arrow.Array, int) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "row 0: 34 values, want 33") {
		t.Errorf("wrong dim: %v", err)
	}
}

func TestOpenRejectsUnknownVersions(t *testing.T) {
	for _, v := range []string{"v1.6", "v2.0", "v4.0"} {
		t.Run(v, func(t *testing.T) {
			root := t.TempDir()
			b, err := os.ReadFile(filepath.Join(fixture(t, "record-test"), InfoPath))
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.Replace(b, []byte(`"v3.0"`), []byte(`"`+v+`"`), 1)
			if err := os.MkdirAll(filepath.Join(root, "meta"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, InfoPath), b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = Open(root)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "codebase_version "+v) {
				t.Errorf("Open(%s) = %v, want ErrUnsupported naming it", v, err)
			}
		})
	}
}
