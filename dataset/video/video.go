// Package video encodes, probes, concatenates and decodes the mp4 files of
// LeRobot datasets with the ffmpeg and ffprobe command-line tools, with the
// settings LeRobot uses (spec §6: libsvtav1, yuv420p, GOP 2, CRF 30, preset
// 12) and its rules for timestamps (frame k of a segment at k/fps, a
// tolerance of 1e-4 s when looking frames up).
//
// It knows files and frames, not datasets: which file holds which episode is
// the dataset package's business. Frames cross this boundary as packed RGB24
// (height × width × 3 bytes). Every call that runs a tool takes a context,
// and no process or goroutine outlives the call (or Encoder.Close/Abort).
package video

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// ErrToolMissing is returned when ffmpeg or ffprobe is not on PATH.
var ErrToolMissing = errors.New("ffmpeg/ffprobe not found in PATH (install ffmpeg ≥ 5.1, e.g. `apt-get install ffmpeg`)")

// DefaultTolerance is LeRobot's tolerance_s: a decoded frame matches a
// query timestamp when they differ by at most this many seconds.
const DefaultTolerance = 1e-4

var (
	toolsOnce sync.Once
	toolsErr  error
)

// Available reports whether ffmpeg and ffprobe can be run.
func Available() error {
	toolsOnce.Do(func() {
		for _, tool := range []string{"ffmpeg", "ffprobe"} {
			if _, err := exec.LookPath(tool); err != nil {
				toolsErr = fmt.Errorf("%w: %s: %v", ErrToolMissing, tool, err)
				return
			}
		}
	})
	return toolsErr
}

// HasEncoder reports whether the local ffmpeg has the named encoder.
func HasEncoder(name string) bool {
	if Available() != nil {
		return false
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output()
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] == name {
			return true
		}
	}
	return false
}

// tail is an io.Writer keeping the last few KiB written to it, for error
// messages from a tool's stderr.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = t.buf[len(t.buf)-tailSize:]
	}
	return len(p), nil
}

// String returns the meaningful lines: ffmpeg's own messages, without the
// banner SVT-AV1 prints on every run.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(string(bytes.TrimSpace(t.buf)), "\n") {
		if strings.HasPrefix(l, "Svt[info]") || strings.TrimSpace(l) == "" {
			continue
		}
		lines = append(lines, strings.TrimSpace(l))
	}
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return strings.Join(lines, " | ")
}

// runError describes a failed tool run with the end of its stderr.
func runError(tool string, err error, stderr *tail) error {
	if s := stderr.String(); s != "" {
		return fmt.Errorf("%s: %w: %s", tool, err, s)
	}
	return fmt.Errorf("%s: %w", tool, err)
}
