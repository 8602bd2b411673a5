package video

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Segment is one input of Concat: a file and the duration it occupies in
// the output.
type Segment struct {
	Path     string
	Duration float64 // seconds
}

// Concat writes dst as segs played one after the other, by stream copy (no
// re-encoding), as LeRobot's concatenate_video_files does with ffmpeg's
// concat demuxer and movflags=faststart (spec §1.2).
//
// Each segment's duration is given to the demuxer explicitly. Left to
// itself, the demuxer offsets the next segment by the container duration,
// which mp4 stores in milliseconds: with 30 fps the second segment would
// start up to 0.5 ms late, beyond LeRobot's 1e-4 s tolerance. With the
// exact duration (rounded once, to the microsecond) frame k of segment j
// lands exactly at Σ durations + k/fps in the output time base.
func Concat(ctx context.Context, dst string, segs []Segment) error {
	if err := Available(); err != nil {
		return err
	}
	if len(segs) == 0 {
		return fmt.Errorf("concat %s: no segments", dst)
	}
	var list strings.Builder
	list.WriteString("ffconcat version 1.0\n")
	for _, s := range segs {
		abs, err := filepath.Abs(s.Path)
		if err != nil {
			return fmt.Errorf("concat %s: %w", dst, err)
		}
		if s.Duration <= 0 {
			return fmt.Errorf("concat %s: segment %s has duration %v", dst, s.Path, s.Duration)
		}
		// ffconcat quoting: inside '...', a quote is written '\''.
		fmt.Fprintf(&list, "file '%s'\nduration %s\n", strings.ReplaceAll(abs, "'", `'\''`), strconv.FormatFloat(s.Duration, 'f', 6, 64))
	}
	lf, err := os.CreateTemp(filepath.Dir(dst), ".concat-*.ffconcat")
	if err != nil {
		return fmt.Errorf("concat %s: %w", dst, err)
	}
	defer os.Remove(lf.Name())
	if _, err := lf.WriteString(list.String()); err != nil {
		lf.Close()
		return fmt.Errorf("concat %s: %w", dst, err)
	}
	if err := lf.Close(); err != nil {
		return fmt.Errorf("concat %s: %w", dst, err)
	}
	stderr := &tail{}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "concat", "-safe", "0", "-i", lf.Name(),
		"-map", "0:v", "-c", "copy", "-movflags", "+faststart", "-f", "mp4", dst)
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		os.Remove(dst)
		return fmt.Errorf("concat %s: %w", dst, runError("ffmpeg", err, stderr))
	}
	return nil
}
