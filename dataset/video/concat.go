package video

import (
	"context"
	"errors"
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
//
// Files of the usual shape (one video track, as ffmpeg and PyAV write them)
// are concatenated in-process by the built-in mp4 code, with the same
// result and no process to start; others go through ffmpeg.
func Concat(ctx context.Context, dst string, segs []Segment) error {
	if len(segs) == 0 {
		return fmt.Errorf("concat %s: no segments", dst)
	}
	err := concatNative(dst, segs)
	if err == nil || !errors.Is(err, errUnsupportedMP4) {
		return err
	}
	return concatFFmpeg(ctx, dst, segs)
}

// concatNative concatenates with the built-in mp4 code when every segment's
// sample durations add up to its stated duration.
func concatNative(dst string, segs []Segment) error {
	parts := make([]*mp4File, len(segs))
	for i, s := range segs {
		m, err := readMP4(s.Path)
		if err != nil {
			return fmt.Errorf("concat %s: %w", dst, err)
		}
		if d := m.duration(); d-s.Duration > 1e-6 || s.Duration-d > 1e-6 {
			return fmt.Errorf("concat %s: %s lasts %.6fs by its samples, %.6fs by its segment: %w", dst, s.Path, d, s.Duration, errUnsupportedMP4)
		}
		parts[i] = m
	}
	if err := concatMP4(dst, parts); err != nil {
		return fmt.Errorf("concat %s: %w", dst, err)
	}
	return nil
}

// concatFFmpeg concatenates with ffmpeg's concat demuxer.
func concatFFmpeg(ctx context.Context, dst string, segs []Segment) error {
	if err := Available(); err != nil {
		return err
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
