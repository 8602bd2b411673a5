package commands

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"
)

// writeTrainLog writes RUN_DIR/logs/train.jsonl with content and returns RUN_DIR.
func writeTrainLog(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logs", "train.jsonl"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// syntheticTrainLog is 40 updates as training/online.go logs them, with
// E2HiL fields on even updates, one gripper critic loss, unknown fields, a
// blank line and a line without optimization_step.
func syntheticTrainLog(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= 40; i++ {
		rec := map[string]any{
			"optimization_step": i, "interaction_step": 100 + i, "episodes": i / 10,
			"loss_critic": 1 / float64(i), "loss_actor": -float64(i) / 10, "loss_temperature": 0.1,
			"temperature": math.Exp(-float64(i) / 20), "policy_entropy": 1 - float64(i)/40, "entropy_delta": -0.025,
			"mean_q": float64(i), "success_rate_recent": float64(i) / 40, "episode_return_recent": -200 + float64(i),
			"critic_grad_norm": 2.5, "actor_grad_norm": 0.5, "elapsed_s": float64(i) / 100,
			"git_commit": "abc", "nested": map[string]any{"x": 1},
		}
		if i > 1 {
			rec["updates_per_s"] = 100.0
		}
		if i%2 == 0 {
			rec["keep_ratio"], rec["c_lower"], rec["c_upper"] = 0.85, 0.01, 0.9
			rec["c_abs_mean_tag0"], rec["c_abs_mean_tag1"] = 0.2, 0.4
		}
		if i == 7 {
			rec["loss_discrete_critic"] = 0.3
		}
		line, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
		if i == 20 {
			b.WriteString("\n" + `{"interaction_step": 0, "loss_critic": 5}` + "\n")
		}
	}
	return b.String()
}

func TestPlotWritesPNGs(t *testing.T) {
	perField := []string{
		"episode_return_recent", "success_rate_recent", "loss_critic", "loss_actor", "loss_temperature",
		"temperature", "policy_entropy", "entropy_delta", "mean_q", "critic_grad_norm", "actor_grad_norm",
		"loss_discrete_critic", "updates_per_s", "keep_ratio", "c_lower", "c_upper", "c_abs_mean_tag0", "c_abs_mean_tag1",
	}
	// Main curves present: return, success, critic, actor, temperature,
	// entropy, mean Q, keep ratio → 2 columns × 4 rows of tiles.
	const overviewW, overviewH = 2 * tileWidth, 4 * tileHeight
	cases := []struct {
		name   string
		args   func(runDir, out string) []string
		outDir func(runDir, out string) string
	}{
		{
			name:   "defaults",
			args:   func(runDir, _ string) []string { return []string{"plot", runDir} },
			outDir: func(runDir, _ string) string { return filepath.Join(runDir, "plots") },
		},
		{
			name: "out and interaction_step",
			args: func(runDir, out string) []string {
				return []string{"plot", "--out", out, "--x", "interaction_step", runDir}
			},
			outDir: func(_, out string) string { return out },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runDir := writeTrainLog(t, syntheticTrainLog(t))
			out := filepath.Join(t.TempDir(), "figures", "run")
			stdout, err := runApp(t, tc.args(runDir, out)...)
			if err != nil {
				t.Fatalf("plot: %v\n%s", err, stdout)
			}
			dir := tc.outDir(runDir, out)
			var want []string
			for _, f := range perField {
				want = append(want, filepath.Join(dir, f+".png"))
			}
			want = append(want, filepath.Join(dir, "overview.png"))
			if got := strings.Split(strings.TrimSpace(stdout), "\n"); !slices.Equal(got, want) {
				t.Errorf("printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(want) {
				t.Errorf("%s holds %d files, want %d (no temporary files left)", dir, len(entries), len(want))
			}
			for _, path := range want {
				w, h := fieldWidth, fieldHeight
				if filepath.Base(path) == "overview.png" {
					w, h = overviewW, overviewH
				}
				checkPNG(t, path, w, h)
			}
		})
	}
}

func checkPNG(t *testing.T, path string, wantW, wantH int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("%s: %d×%d pixels, want %d×%d", path, b.Dx(), b.Dy(), wantW, wantH)
	}
	// Something was drawn: not every pixel is the background.
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			if img.At(x, y) != first {
				return
			}
		}
	}
	t.Errorf("%s: a blank image", path)
}

// A log with only non-overview fields gets no overview.png; one main curve
// gives a 1×1 overview.
func TestPlotOverviewLayout(t *testing.T) {
	cases := []struct {
		name, log string
		wantFiles []string
		overviewW int
		overviewH int
	}{
		{name: "no main curve", log: `{"optimization_step": 1, "updates_per_s": 3}` + "\n" + `{"optimization_step": 2, "updates_per_s": 4}` + "\n",
			wantFiles: []string{"updates_per_s.png"}},
		{name: "one main curve", log: `{"optimization_step": 1, "loss_critic": 3}` + "\n",
			wantFiles: []string{"loss_critic.png", "overview.png"}, overviewW: tileWidth, overviewH: tileHeight},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runDir := writeTrainLog(t, tc.log)
			stdout, err := runApp(t, "plot", runDir)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range tc.wantFiles {
				want = append(want, filepath.Join(runDir, "plots", f))
			}
			if got := strings.Fields(stdout); !slices.Equal(got, want) {
				t.Fatalf("printed %q, want %q", got, want)
			}
			if tc.overviewW > 0 {
				checkPNG(t, filepath.Join(runDir, "plots", "overview.png"), tc.overviewW, tc.overviewH)
			}
		})
	}
}

func TestPlotErrors(t *testing.T) {
	good := `{"optimization_step": 1, "loss_critic": 1}` + "\n"
	cases := []struct {
		name      string
		log       *string // nil: no log file
		args      func(runDir string) []string
		wantUsage bool
		wantErr   []string
	}{
		{name: "no RUN_DIR", log: &good, args: func(string) []string { return []string{"plot"} },
			wantUsage: true, wantErr: []string{"plot: want one RUN_DIR, got 0 arguments"}},
		{name: "flags after RUN_DIR", log: &good, args: func(d string) []string { return []string{"plot", d, "--x", "interaction_step"} },
			wantUsage: true, wantErr: []string{"got 3 arguments", "flags go before RUN_DIR"}},
		{name: "bad --x", log: &good, args: func(d string) []string { return []string{"plot", "--x", "episodes", d} },
			wantUsage: true, wantErr: []string{`--x "episodes": want optimization_step or interaction_step`}},
		{name: "missing log", args: func(d string) []string { return []string{"plot", d} },
			wantErr: []string{"no training log in", "`e2hil train` writes it under output_dir/logs/train.jsonl", "no such file"}},
		{name: "malformed line", log: ptr(good + "{\"optimization_step\": 2, \"loss_critic\": \n" + good),
			args: func(d string) []string { return []string{"plot", d} }, wantErr: []string{"train.jsonl:2: "}},
		{name: "not an object", log: ptr(good + "[1, 2]\n"),
			args: func(d string) []string { return []string{"plot", d} }, wantErr: []string{"train.jsonl:2: "}},
		{name: "null line", log: ptr("null\n" + good),
			args: func(d string) []string { return []string{"plot", d} }, wantErr: []string{"train.jsonl:1: want a JSON object, got null"}},
		{name: "field not a number", log: ptr(good + good + `{"optimization_step": 3, "loss_actor": "high"}` + "\n"),
			args: func(d string) []string { return []string{"plot", d} }, wantErr: []string{"train.jsonl:3: loss_actor: want a number, got high"}},
		{name: "x not a number", log: ptr(`{"optimization_step": "1"}` + "\n"),
			args: func(d string) []string { return []string{"plot", d} }, wantErr: []string{"train.jsonl:1: optimization_step: want a number, got 1"}},
		{name: "no x anywhere", log: ptr(`{"interaction_step": 1, "loss_critic": 1}` + "\n"),
			args: func(d string) []string { return []string{"plot", d} }, wantErr: []string{"no line has a numeric optimization_step"}},
		{name: "empty log", log: ptr(""),
			args: func(d string) []string { return []string{"plot", d} }, wantErr: []string{"no line has a numeric optimization_step"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runDir := t.TempDir()
			if tc.log != nil {
				runDir = writeTrainLog(t, *tc.log)
			}
			_, err := runApp(t, tc.args(runDir)...)
			if err == nil {
				t.Fatal("want an error")
			}
			if got := errors.As(err, new(usageError)); got != tc.wantUsage {
				t.Errorf("usage error %v, want %v (%v)", got, tc.wantUsage, err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(runDir, "plots")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("plots directory created on error (%v)", err)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// A running trainer may be writing the last line: without its newline it is
// skipped; with it, a broken last line is an error.
func TestReadTrainLogLastLine(t *testing.T) {
	two := `{"optimization_step": 1, "mean_q": 1}` + "\n" + `{"optimization_step": 2, "mean_q": 2}` + "\n"
	cases := []struct {
		name        string
		log         string
		wantRecords int
		wantPartial int
		wantErr     string
	}{
		{name: "complete", log: two, wantRecords: 2},
		{name: "complete without final newline", log: strings.TrimSuffix(two, "\n"), wantRecords: 2},
		{name: "incomplete last line", log: two + `{"optimization_step": 3, "me`, wantRecords: 2, wantPartial: 3},
		{name: "broken terminated last line", log: two + `{"optimization_step": 3, "me` + "\n", wantErr: "run/logs/train.jsonl:3: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log, err := readTrainLog(strings.NewReader(tc.log), "run/logs/train.jsonl", "optimization_step")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if log.records != tc.wantRecords || log.partial != tc.wantPartial || len(log.series["mean_q"]) != tc.wantRecords {
				t.Errorf("records %d, partial %d, %d mean_q points; want %d, %d", log.records, log.partial, len(log.series["mean_q"]), tc.wantRecords, tc.wantPartial)
			}
		})
	}
}

func TestDecimate(t *testing.T) {
	ramp := func(n int) plotter.XYs {
		pts := make(plotter.XYs, n)
		for i := range pts {
			pts[i] = plotter.XY{X: float64(i), Y: math.Sin(float64(i) / 50)}
		}
		return pts
	}
	spiky := ramp(100_000)
	spiky[31_337].Y, spiky[77_777].Y = 40, -40
	cases := []struct {
		name  string
		pts   plotter.XYs
		limit int
	}{
		{"short stays", ramp(10), 100},
		{"at the limit stays", ramp(100), 100},
		{"long", ramp(100_000), 4000},
		{"spikes", spiky, 4000},
		{"odd limit", ramp(1001), 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := decimate(tc.pts, tc.limit)
			if len(tc.pts) <= tc.limit {
				if len(got) != len(tc.pts) {
					t.Fatalf("%d points became %d", len(tc.pts), len(got))
				}
				return
			}
			if len(got) > tc.limit || len(got) < tc.limit/2 {
				t.Fatalf("%d points, limit %d", len(got), tc.limit)
			}
			minIn, maxIn := extremes(tc.pts)
			minOut, maxOut := extremes(got)
			if minIn != minOut || maxIn != maxOut {
				t.Errorf("range [%g, %g] became [%g, %g]", minIn, maxIn, minOut, maxOut)
			}
			for i := 1; i < len(got); i++ {
				if got[i].X <= got[i-1].X {
					t.Fatalf("x not increasing at %d: %v then %v", i, got[i-1], got[i])
				}
			}
		})
	}
}

func TestSmooth(t *testing.T) {
	xy := func(ys ...float64) plotter.XYs {
		pts := make(plotter.XYs, len(ys))
		for i, y := range ys {
			pts[i] = plotter.XY{X: float64(10 * i), Y: y}
		}
		return pts
	}
	cases := []struct {
		name   string
		pts    plotter.XYs
		window int
		want   plotter.XYs
	}{
		{"window 1 is the identity", xy(3, 1, 4, 1, 5), 1, xy(3, 1, 4, 1, 5)},
		{"window 0 acts as 1", xy(3, 1), 0, xy(3, 1)},
		{"constant stays", xy(2, 2, 2, 2), 3, xy(2, 2, 2, 2)},
		{"trailing mean, shorter at the start", xy(0, 3, 6, 9, 0), 2, xy(0, 1.5, 4.5, 7.5, 4.5)},
		{"window longer than the run", xy(1, 2, 3), 10, xy(1, 1.5, 2)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := smooth(tc.pts, tc.window)
			if len(got) != len(tc.want) {
				t.Fatalf("%d points, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i].X != tc.want[i].X || math.Abs(got[i].Y-tc.want[i].Y) > 1e-12 {
					t.Errorf("point %d: %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func extremes(pts plotter.XYs) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		lo, hi = min(lo, p.Y), max(hi, p.Y)
	}
	return lo, hi
}

// Every plotted field has a distinct name and a title.
func TestPlotFields(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range plotFields {
		if seen[f.name] || f.title == "" || slices.Contains(plotXFields, f.name) {
			t.Errorf("field %+v: duplicate, untitled or an x axis", f)
		}
		seen[f.name] = true
	}
	for _, want := range []string{"loss_critic", "loss_actor", "loss_temperature", "temperature", "policy_entropy",
		"mean_q", "success_rate_recent", "episode_return_recent", "critic_grad_norm", "actor_grad_norm", "updates_per_s",
		"keep_ratio", "c_lower", "c_upper", "c_abs_mean_tag0", "c_abs_mean_tag1", "entropy_delta"} {
		if !seen[want] {
			t.Errorf("%s is not plotted", want)
		}
	}
}

func FuzzReadTrainLog(f *testing.F) {
	f.Add([]byte(`{"optimization_step": 1, "loss_critic": 0.5, "keep_ratio": 0.85}` + "\n" + `{"optimization_step": 2}` + "\n"))
	f.Add([]byte(`{"interaction_step": 3, "mean_q": -1}` + "\n\n" + `{"optimization_step": 1e3, "mean_q": null}`))
	f.Add([]byte("null\n[1]\n" + `{"optimization_step": "x"}`))
	f.Add([]byte(`{"optimization_step": 1, "loss_actor": {"a": 1}}` + "\n" + `{"optimiz`))
	f.Fuzz(func(t *testing.T, data []byte) {
		log, err := readTrainLog(bytes.NewReader(data), "train.jsonl", "optimization_step")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "train.jsonl:") {
				t.Fatalf("error %q does not name file:line", err)
			}
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		if log.records+log.skipped > lines || log.partial > lines {
			t.Fatalf("%d records, %d skipped, partial %d from %d lines", log.records, log.skipped, log.partial, lines)
		}
		for name, pts := range log.series {
			if len(pts) > log.records {
				t.Fatalf("%s: %d points from %d records", name, len(pts), log.records)
			}
		}
	})
}
