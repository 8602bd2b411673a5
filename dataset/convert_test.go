package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConvertG1 converts the episodes of the real v2.1 fixture whose files
// are all present (1 and 2: episode 0 has no video) and checks the v3.0
// result: it validates; values, frame indices and timestamps are those of
// the source; video frames decode to the very same pixels at the same
// timestamps (stream copy, no re-encoding).
func TestConvertG1(t *testing.T) {
	requireVideo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := fixture(t, "G1-policy-train")
	dst := filepath.Join(t.TempDir(), "g1")
	rep, err := ConvertV21(ctx, src, dst, ConvertOptions{Episodes: []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Episodes != 2 || rep.Frames != 393+343 {
		t.Errorf("report %+v", rep)
	}
	v, err := Validate(ctx, dst, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() {
		t.Fatalf("converted dataset does not validate: %v", v.Problems)
	}

	s, err := open(src, checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	d, err := open(dst, checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Info.CodebaseVersion != "v3.0" || d.Info.RobotType != "Unitree_G1_Inspire" || d.NumFrames() != 736 ||
		!slices.Equal(d.Tasks, s.Tasks) || d.Info.VideoPath != DefaultVideoPath {
		t.Errorf("info %+v tasks %q", d.Info, d.Tasks)
	}
	if f, _ := d.Info.Feature("observation.images.cam_high"); string(f.Info) != func() string { g, _ := s.Info.Feature("observation.images.cam_high"); return string(g.Info) }() {
		t.Errorf("video info %s changed", f.Info)
	}
	if f, _ := d.Info.Feature("action"); len(f.Extra) != 1 || f.Extra[0].Key != "fps" || string(f.Extra[0].Value) != "30" {
		t.Errorf("action has extra keys %v, want fps 30 as convert_info adds", f.Extra)
	}
	for newEp, oldEp := range []int{1, 2} {
		a, err := s.ReadEpisode(oldEp)
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.ReadEpisode(newEp)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"observation.state", "action"} {
			if !slices.Equal(a.Values[name], b.Values[name]) {
				t.Errorf("episode %d→%d: %s differs", oldEp, newEp, name)
			}
		}
		if !slices.Equal(a.Timestamp, b.Timestamp) || !slices.Equal(a.FrameIndex, b.FrameIndex) || b.Index[0] != d.Episodes[newEp].FromIndex {
			t.Errorf("episode %d→%d: timestamps or frame indices differ, or index not renumbered", oldEp, newEp)
		}
		if st := d.Episodes[newEp].Stats["observation.state"]; !slices.Equal(st.Mean, s.Episodes[oldEp].Stats["observation.state"].Mean) || st.Q01 != nil {
			t.Errorf("episode %d→%d: stats not copied from episodes_stats.jsonl (or quantiles invented)", oldEp, newEp)
		}
		if st := d.Episodes[newEp].Stats["episode_index"]; st.Min[0] != float64(newEp) || st.Max[0] != float64(newEp) {
			t.Errorf("episode %d→%d: episode_index stats %+v not renumbered", oldEp, newEp, st)
		}
		// Same frames at the same episode timestamps, pixel for pixel.
		n := s.Episodes[oldEp].Length
		ts := []float64{0, 1.0 / 30, float64(n/2) / 30, float64(n-1) / 30}
		want, err := s.VideoFrames(ctx, "observation.images.cam_high", oldEp, ts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.VideoFrames(ctx, "observation.images.cam_high", newEp, ts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ts {
			if !slices.Equal(got[i].Pix, want[i].Pix) {
				t.Errorf("episode %d→%d: frame at %.4fs differs after conversion", oldEp, newEp, ts[i])
			}
		}
	}
	seg := d.Episodes[1].Videos["observation.images.cam_high"]
	if d.Episodes[0].Videos["observation.images.cam_high"].FromTimestamp != 0 || seg.FromTimestamp != 13.1 || seg.ToTimestamp != 13.1+343.0/30 {
		t.Errorf("video segments %+v, %+v", d.Episodes[0].Videos, seg)
	}
	frames, times, err := d.EpisodeVideo(ctx, "observation.images.cam_high", 1)
	if err != nil || len(frames) != 343 || times[342] < 342.0/30-1e-4 || times[342] > 342.0/30+1e-4 {
		t.Errorf("episode 1 video: %d frames, last at %v, %v", len(frames), times[len(times)-1], err)
	}
}

func TestConvertRefuses(t *testing.T) {
	requireVideo(t)
	ctx := context.Background()
	src := fixture(t, "G1-policy-train")
	tests := []struct {
		name    string
		src     func(t *testing.T) string
		dst     func(t *testing.T) string
		opts    ConvertOptions
		want    []string
		wantErr error
		kept    string // a file in dst that must survive
	}{
		{"partial copy, all episodes", func(*testing.T) string { return src }, newDir, ConvertOptions{},
			[]string{"missing [videos/chunk-000/observation.images.cam_high/episode_000000.mp4 data/chunk-000/episode_000003.parquet", "--episodes"}, ErrInconsistent, ""},
		{"episode out of range", func(*testing.T) string { return src }, newDir, ConvertOptions{Episodes: []int{1, 100}},
			[]string{"episode 100: ", "has episodes 0..99"}, nil, ""},
		{"not increasing", func(*testing.T) string { return src }, newDir, ConvertOptions{Episodes: []int{2, 1}},
			[]string{"episodes must be increasing"}, nil, ""},
		{"v3.0 source", func(*testing.T) string { return fixture(t, "record-test") }, newDir, ConvertOptions{},
			[]string{"codebase_version v3.0; convert reads v2.1"}, ErrUnsupported, ""},
		{"destination not empty", func(*testing.T) string { return src }, func(t *testing.T) string {
			d := newDir(t)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "notes.txt"), []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		}, ConvertOptions{Episodes: []int{1}}, []string{"not empty", "notes.txt"}, ErrNotEmpty, "notes.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := tc.dst(t)
			_, err := ConvertV21(ctx, tc.src(t), dst, tc.opts)
			if err == nil {
				t.Fatal("ConvertV21 succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if tc.kept != "" {
				if b, err := os.ReadFile(filepath.Join(dst, tc.kept)); err != nil || string(b) != "mine" {
					t.Errorf("%s was touched: %q, %v", tc.kept, b, err)
				}
				entries, _ := os.ReadDir(dst)
				if len(entries) != 1 {
					t.Errorf("dst holds %d entries after a refused conversion", len(entries))
				}
			} else if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed conversion left %s behind", dst)
			}
		})
	}
}

func newDir(t *testing.T) string { return filepath.Join(t.TempDir(), "out") }
