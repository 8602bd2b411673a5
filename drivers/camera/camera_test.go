package camera

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/e2hil/e2hil/internal/testtool"
)

// makeVideo writes a 64×48 video of n frames of one colour with ffmpeg.
func makeVideo(t *testing.T, color string, n int) string {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		testtool.Missing(t, "ffmpeg not found on PATH; install it with `apt-get install ffmpeg`, or run `make deps`")
	}
	path := filepath.Join(t.TempDir(), "clip.avi")
	cmd := exec.Command(ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c="+color+":s=64x48:r=30",
		"-frames:v", strconv.Itoa(n), "-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuvj420p", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return path
}

// TestVideoFile reads a file made by ffmpeg through the same Camera a
// device uses: size, colour order, frame numbering, end of stream.
func TestVideoFile(t *testing.T) {
	const frames = 12
	path := makeVideo(t, "red", frames)
	tests := []struct {
		mode    string
		r, g, b byte // expected first pixel
	}{{ColorRGB, 254, 0, 0}, {ColorBGR, 0, 0, 254}}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cfg := DefaultConfig(path)
			cfg.Width, cfg.Height, cfg.FPS, cfg.ColorMode = 64, 48, 200, tt.mode
			cam, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer cam.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var last uint64
			n := 0
			for {
				f, err := cam.Read(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				if f.Width != 64 || f.Height != 48 || len(f.Pix) != 64*48*3 {
					t.Fatalf("frame %d×%d with %d bytes", f.Width, f.Height, len(f.Pix))
				}
				if f.Seq <= last {
					t.Fatalf("frame %d after %d", f.Seq, last)
				}
				last = f.Seq
				px := f.Pix[3*(24*64+32):]
				if d(px[0], tt.r) > 8 || d(px[1], tt.g) > 8 || d(px[2], tt.b) > 8 {
					t.Fatalf("centre pixel %v, want ≈ %d %d %d", px[:3], tt.r, tt.g, tt.b)
				}
			}
			if n == 0 || last != frames {
				t.Fatalf("read %d frames, last #%d; want the stream to end at #%d", n, last, frames)
			}
			if f, err := cam.Latest(); err != nil || f.Seq != frames {
				t.Fatalf("Latest after the end: #%d, %v", f.Seq, err)
			}
			img := mustFrame(t, cam).RGBA(tt.mode)
			if r, _, b, _ := img.At(5, 5).RGBA(); r>>8 < 240 || b>>8 > 16 {
				t.Fatalf("RGBA conversion gives r=%d b=%d", r>>8, b>>8)
			}
		})
	}
}

func mustFrame(t *testing.T, c *Camera) Frame {
	f, err := c.Latest()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func d(a, b byte) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestVideoFileLoopsAndCloses(t *testing.T) {
	path := makeVideo(t, "blue", 3)
	cfg := DefaultConfig(path)
	cfg.FPS, cfg.Loop = 500, true
	cam, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var f Frame
	for f.Seq <= 6 { // past the end twice
		if f, err = cam.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := cam.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cam.Read(ctx); err == nil {
		t.Fatal("read after close")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"missing index", DefaultConfig("97"), []string{"camera 97", "/dev/video97 does not exist"}},
		{"missing device", DefaultConfig("/dev/video98"), []string{"/dev/video98", "no such file"}},
		{"missing file", DefaultConfig(filepath.Join(dir, "none.mp4")), []string{"none.mp4", "no such file"}},
		{"bad config", Config{ColorMode: "hsv", Width: -1}, []string{"index_or_path", "color_mode", "width"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.cfg)
			if err == nil {
				t.Fatal("opened")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// A file that is not a video, and a size that does not match.
	junk := filepath.Join(dir, "junk.avi")
	if err := exec.Command("sh", "-c", "echo not a video > "+junk).Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(DefaultConfig(junk)); err == nil || !strings.Contains(err.Error(), "cannot decode") {
		t.Errorf("junk file: %v", err)
	}
	path := makeVideo(t, "green", 2)
	cfg := DefaultConfig(path)
	cfg.Width, cfg.Height = 640, 480
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "delivers 64×48, configured 640×480") {
		t.Errorf("size mismatch: %v", err)
	}
}
