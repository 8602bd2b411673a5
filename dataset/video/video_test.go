package video

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func requireFFmpeg(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("E2HIL_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if !HasEncoder("libsvtav1") {
		t.Skip("this ffmpeg has no libsvtav1 encoder")
	}
}

// scene draws a smooth moving picture (gradients and a disc), camera-like
// content whose PSNR after AV1 at CRF 30 is well above 35 dB.
func scene(w, h, k int) []byte {
	rgb := make([]byte, w*h*3)
	cx, cy := float64(w)/2+float64(w)/4*math.Cos(float64(k)/9), float64(h)/2+float64(h)/4*math.Sin(float64(k)/7)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r := 60 + 120*float64(x)/float64(w)
			g := 80 + 100*float64(y)/float64(h)
			b := 140 + 60*math.Sin(float64(x+y+k)/20)
			if d := math.Hypot(float64(x)-cx, float64(y)-cy); d < float64(w)/6 {
				f := 1 - d/(float64(w)/6)
				r, g, b = r+(230-r)*f, g+(90-g)*f, b+(40-b)*f
			}
			i := (y*w + x) * 3
			rgb[i], rgb[i+1], rgb[i+2] = byte(r), byte(g), byte(b)
		}
	}
	return rgb
}

func psnr(a, b []byte) float64 {
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(len(a))))
}

func encode(t *testing.T, path string, first, n, w, h, fps int) {
	t.Helper()
	e, err := NewEncoder(context.Background(), path, w, h, fps, DefaultEncoderConfig())
	if err != nil {
		t.Fatal(err)
	}
	for k := first; k < first+n; k++ {
		if err := e.WriteFrame(scene(w, h, k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeProbeConcatDecode(t *testing.T) {
	requireFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const w, h, fps = 96, 64, 30
	lengths := []int{37, 23, 5}
	var segs []Segment
	first := 0
	for i, n := range lengths {
		p := filepath.Join(dir, "ep"+string(rune('a'+i))+".mp4")
		encode(t, p, first, n, w, h, fps)
		info, err := Probe(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Codec != "av1" || info.PixFmt != "yuv420p" || info.Width != w || info.Height != h || info.FPS != fps ||
			info.NumFrames != n || math.Abs(info.Duration-float64(n)/fps) > 1e-9 || info.HasAudio || info.Channels() != 3 {
			t.Fatalf("probe %s = %+v, want av1 yuv420p %dx%d %d fps %d frames %.6fs", p, info, w, h, fps, n, float64(n)/fps)
		}
		segs = append(segs, Segment{Path: p, Duration: info.Duration})
		first += n
	}
	out := filepath.Join(dir, "all.mp4")
	// Concatenate in two steps as the dataset writer does: (a+b), then (ab+c).
	ab := filepath.Join(dir, "ab.mp4")
	if err := Concat(ctx, ab, segs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := Concat(ctx, out, []Segment{{Path: ab, Duration: float64(lengths[0]+lengths[1]) / fps}, segs[2]}); err != nil {
		t.Fatal(err)
	}
	info, err := Probe(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	total := lengths[0] + lengths[1] + lengths[2]
	if info.NumFrames != total || math.Abs(info.Duration-float64(total)/fps) > 1e-9 {
		t.Fatalf("concatenated: %+v, want %d frames, %.6fs", info, total, float64(total)/fps)
	}

	var pts []float64
	err = Decode(ctx, out, 0, float64(total-1)/fps, fps, func(f Frame) error {
		k := len(pts)
		pts = append(pts, f.PTS)
		if got := psnr(f.RGB, scene(w, h, k)); got < 35 {
			t.Errorf("frame %d: PSNR %.1f dB", k, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != total {
		t.Fatalf("decoded %d frames, want %d", len(pts), total)
	}
	for k, p := range pts {
		if math.Abs(p-float64(k)/fps) > DefaultTolerance {
			t.Errorf("frame %d at %.6fs, want %.6fs", k, p, float64(k)/fps)
		}
	}

	tests := []struct {
		name    string
		ts      []float64
		want    []int // scene index of each returned frame
		wantErr error
	}{
		{"first", []float64{0}, []int{0}, nil},
		{"segment boundary", []float64{37.0 / fps, 36.0 / fps}, []int{37, 36}, nil},
		{"last", []float64{float64(total-1) / fps}, []int{total - 1}, nil},
		{"float32 timestamps", []float64{float64(float32(50.0 / fps)), float64(float32(51.0 / fps))}, []int{50, 51}, nil},
		{"between frames", []float64{10.5 / fps}, nil, ErrFrameTimestamp},
		{"past the end", []float64{float64(total+3) / fps}, nil, ErrFrameTimestamp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := FramesAt(ctx, out, tc.ts, fps, DefaultTolerance)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range frames {
				if got := psnr(f.RGB, scene(w, h, tc.want[i])); got < 35 {
					t.Errorf("query %.6fs: PSNR %.1f dB against scene %d", tc.ts[i], got, tc.want[i])
				}
			}
		})
	}
}

func TestEncoderRejects(t *testing.T) {
	requireFFmpeg(t)
	dir := t.TempDir()
	tests := []struct {
		name       string
		w, h, fps  int
		cfg        EncoderConfig
		frameBytes int
	}{
		{"odd size", 95, 64, 30, DefaultEncoderConfig(), 0},
		{"unknown codec", 96, 64, 30, EncoderConfig{Codec: "mpeg2video", PixFmt: "yuv420p", CRF: 30}, 0},
		{"bad crf", 96, 64, 30, EncoderConfig{Codec: "libsvtav1", PixFmt: "yuv420p", CRF: 99}, 0},
		{"too small for svt-av1", 48, 48, 30, DefaultEncoderConfig(), 0},
		{"short frame", 96, 64, 30, DefaultEncoderConfig(), 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".mp4")
			e, err := NewEncoder(context.Background(), p, tc.w, tc.h, tc.fps, tc.cfg)
			if tc.frameBytes == 0 {
				if err == nil {
					e.Abort()
					t.Fatal("NewEncoder accepted it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Abort()
			if err := e.WriteFrame(make([]byte, tc.frameBytes)); err == nil {
				t.Fatal("WriteFrame accepted a short frame")
			}
		})
	}
}

func TestProbeRejectsNonVideo(t *testing.T) {
	requireFFmpeg(t)
	p := filepath.Join(t.TempDir(), "x.mp4")
	if err := os.WriteFile(p, []byte("not a video at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Probe(context.Background(), p); err == nil {
		t.Fatal("Probe accepted garbage")
	}
}

// TestConcatNativeMatchesFFmpeg concatenates the same files with the
// built-in mp4 code and with ffmpeg's concat demuxer (given the exact
// durations) and checks that both decode to the same frames at the same
// timestamps — for our encodes and for two real LeRobot (PyAV) files.
func TestConcatNativeMatchesFFmpeg(t *testing.T) {
	requireFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.mp4"), filepath.Join(dir, "b.mp4")
	encode(t, a, 0, 7, 96, 64, 30)
	encode(t, b, 7, 4, 96, 64, 30)
	g1 := filepath.Join("..", "..", "testdata", "lerobot-datasets", "G1-policy-train", "videos", "chunk-000", "observation.images.cam_high")
	tests := []struct {
		name  string
		parts []string
	}{
		{"ours", []string{a, b, a}},
		{"lerobot G1", []string{filepath.Join(g1, "episode_000001.mp4"), filepath.Join(g1, "episode_000002.mp4")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var segs []Segment
			var frames int
			for _, p := range tc.parts {
				if _, err := os.Stat(p); err != nil {
					t.Skipf("fixture: %v", err)
				}
				mi, err := ReadMP4(p)
				if err != nil {
					t.Fatal(err)
				}
				info, err := Probe(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if mi.Frames != info.NumFrames || mi.Duration != info.Duration || mi.Width != info.Width || mi.Height != info.Height || mi.Codec != "av01" {
					t.Fatalf("ReadMP4 %s = %+v, ffprobe %+v", p, mi, info)
				}
				segs = append(segs, Segment{Path: p, Duration: mi.Duration})
				frames += mi.Frames
			}
			native, ffm := filepath.Join(dir, tc.name+"-native.mp4"), filepath.Join(dir, tc.name+"-ffmpeg.mp4")
			if err := concatNative(native, segs); err != nil {
				t.Fatal(err)
			}
			if err := concatFFmpeg(ctx, ffm, segs); err != nil {
				t.Fatal(err)
			}
			var want []Frame
			ni, _ := Probe(ctx, native)
			fi, _ := Probe(ctx, ffm)
			if ni.NumFrames != frames || ni.NumFrames != fi.NumFrames || ni.Duration != fi.Duration {
				t.Fatalf("native %+v, ffmpeg %+v, want %d frames", ni, fi, frames)
			}
			fps := ni.FPS
			// The frames around each joint and the ends.
			var ts []float64
			var off float64
			for _, s := range segs {
				ts = append(ts, off, off+1/fps)
				off += s.Duration
				ts = append(ts, off-1/fps)
			}
			want, err := FramesAt(ctx, ffm, ts, fps, DefaultTolerance)
			if err != nil {
				t.Fatal(err)
			}
			got, err := FramesAt(ctx, native, ts, fps, DefaultTolerance)
			if err != nil {
				t.Fatal(err)
			}
			for i := range ts {
				if got[i].PTS != want[i].PTS || !bytes.Equal(got[i].RGB, want[i].RGB) {
					t.Errorf("frame at %.6fs: native %.6fs differs from ffmpeg's %.6fs", ts[i], got[i].PTS, want[i].PTS)
				}
			}
		})
	}
}

func TestReadMP4Rejects(t *testing.T) {
	requireFFmpeg(t)
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small.mp4"), filepath.Join(dir, "big.mp4")
	encode(t, small, 0, 3, 96, 64, 30)
	encode(t, big, 0, 3, 128, 64, 30)
	whole, _ := os.ReadFile(small)
	trunc := filepath.Join(dir, "trunc.mp4")
	os.WriteFile(trunc, whole[:len(whole)-40], 0o644)
	if _, err := ReadMP4(trunc); err == nil {
		t.Error("ReadMP4 accepted a truncated file")
	}
	err := concatNative(filepath.Join(dir, "x.mp4"), []Segment{{Path: small, Duration: 0.1}, {Path: big, Duration: 0.1}})
	if !errors.Is(err, errUnsupportedMP4) {
		t.Errorf("concatenating different sizes: %v, want errUnsupportedMP4 (ffmpeg fallback)", err)
	}
	err = concatNative(filepath.Join(dir, "y.mp4"), []Segment{{Path: small, Duration: 0.2}})
	if !errors.Is(err, errUnsupportedMP4) {
		t.Errorf("a segment longer than its samples: %v, want errUnsupportedMP4 (ffmpeg fallback)", err)
	}
}
