package video

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Frame is one decoded picture.
type Frame struct {
	PTS           float64 // presentation time in seconds, in the file's timeline
	Width, Height int
	RGB           []byte // Height × Width × 3, row-major, packed RGB24
}

// ErrFrameTimestamp is returned when no decoded frame lies within the
// tolerance of a query timestamp (LeRobot's FrameTimestampError).
var ErrFrameTimestamp = errors.New("no frame within tolerance of the query timestamp")

// showinfo lines look like
//
//	[Parsed_showinfo_1 @ 0x…] config in time_base: 1/15360, frame_rate: 30/1
//	[Parsed_showinfo_1 @ 0x…] n:   0 pts:  18432 pts_time:1.2 … s:128x128 …
var (
	showinfoTB    = regexp.MustCompile(`Parsed_showinfo.*config in time_base: (\d+)/(\d+)`)
	showinfoFrame = regexp.MustCompile(`Parsed_showinfo.*\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s.*\bs:(\d+)x(\d+)`)
)

type frameInfo struct {
	pts           float64
	width, height int
}

// Decode decodes the frames of path whose pts lies in [from − ½ frame,
// to + ½ frame] and calls fn with each, in presentation order. The frame
// period comes from fps; pass the stream's rate (0 means 30). Timestamps are
// the file's own (ffmpeg -copyts), so a frame's PTS can be compared with the
// query directly, as LeRobot's decoders do.
func Decode(ctx context.Context, path string, from, to, fps float64, fn func(Frame) error) error {
	return decode(ctx, path, from, to, fps, nil, fn)
}

// decode is Decode; with near, only the frames within half a frame of one
// of those timestamps are converted and passed on (ffmpeg's select filter),
// the others are decoded and dropped.
func decode(ctx context.Context, path string, from, to, fps float64, near []float64, fn func(Frame) error) error {
	if err := Available(); err != nil {
		return err
	}
	if fps <= 0 {
		fps = 30
	}
	half := 0.5 / fps
	start := math.Max(0, from-half)
	end := to + half
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// -ss before -i seeks to the keyframe before start and decodes forward,
	// dropping what precedes it; the trim filter stops after end.
	filters := "trim=end=" + strconv.FormatFloat(end, 'f', 6, 64)
	if near != nil {
		terms := make([]string, len(near))
		for i, t := range near {
			terms[i] = fmt.Sprintf("lt(abs(t-%.6f),%.6f)", t, half)
		}
		filters += ",select='" + strings.Join(terms, "+") + "'"
	}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostats", "-nostdin", "-loglevel", "info",
		"-ss", strconv.FormatFloat(start, 'f', 6, 64), "-copyts", "-i", path,
		"-map", "0:v:0", "-an",
		"-vf", filters+",showinfo",
		"-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("decode %s: start ffmpeg: %w", path, err)
	}

	infos := make(chan frameInfo, 64)
	errTail := &tail{}
	var g errgroup.Group
	g.Go(func() error { // owns stderr: frame timestamps and error messages
		defer close(infos)
		return scanShowinfo(ctx, stderrPipe, infos, errTail)
	})
	decodeErr := func() error {
		r := bufio.NewReaderSize(stdout, 1<<20)
		for info := range infos {
			rgb := make([]byte, info.width*info.height*3)
			if _, err := io.ReadFull(r, rgb); err != nil {
				return fmt.Errorf("frame at %.6fs: %w", info.pts, err)
			}
			if info.pts < from-half || info.pts > end {
				continue
			}
			if err := fn(Frame{PTS: info.pts, Width: info.width, Height: info.height, RGB: rgb}); err != nil {
				return err
			}
		}
		if n, _ := io.Copy(io.Discard, r); n > 0 {
			return fmt.Errorf("%d bytes of frames without a timestamp", n)
		}
		return nil
	}()
	if decodeErr != nil {
		cancel()
		io.Copy(io.Discard, stdout)
	}
	scanErr := g.Wait()
	waitErr := cmd.Wait()
	switch {
	case decodeErr != nil:
		if waitErr != nil && ctx.Err() == nil {
			return fmt.Errorf("decode %s: %w", path, runError("ffmpeg", waitErr, errTail))
		}
		return fmt.Errorf("decode %s: %w", path, decodeErr)
	case scanErr != nil:
		return fmt.Errorf("decode %s: %w", path, scanErr)
	case waitErr != nil:
		return fmt.Errorf("decode %s: %w", path, runError("ffmpeg", waitErr, errTail))
	}
	return nil
}

// scanShowinfo reads ffmpeg's stderr, sending the timestamp and size of
// every frame showinfo reports and keeping the rest for error messages.
func scanShowinfo(ctx context.Context, r io.Reader, infos chan<- frameInfo, rest *tail) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	tbNum, tbDen := int64(0), int64(0)
	for sc.Scan() {
		line := sc.Text()
		if m := showinfoTB.FindStringSubmatch(line); m != nil {
			tbNum, _ = strconv.ParseInt(m[1], 10, 64)
			tbDen, _ = strconv.ParseInt(m[2], 10, 64)
			continue
		}
		if m := showinfoFrame.FindStringSubmatch(line); m != nil {
			if tbDen == 0 {
				return errors.New("showinfo reported a frame before its time base")
			}
			pts, _ := strconv.ParseInt(m[2], 10, 64)
			w, _ := strconv.Atoi(m[3])
			h, _ := strconv.Atoi(m[4])
			info := frameInfo{pts: float64(pts) * float64(tbNum) / float64(tbDen), width: w, height: h}
			select {
			case infos <- info:
			case <-ctx.Done():
				io.Copy(io.Discard, r)
				return nil
			}
			continue
		}
		if !strings.Contains(line, "Parsed_showinfo") {
			rest.Write([]byte(line + "\n"))
		}
	}
	return sc.Err()
}

// maxSelect bounds the timestamps of one ffmpeg run (the select expression
// is one command-line argument).
const maxSelect = 1000

// Nearest decodes, for each query timestamp, the nearest frame of path that
// lies within half a frame period of it, in as few ffmpeg runs as the
// queries allow: every frame between the first and last query is decoded,
// only the selected ones are converted to RGB. dist[i] is the distance of
// frame i to query i, +Inf when no frame was that close.
func Nearest(ctx context.Context, path string, timestamps []float64, fps float64) (frames []Frame, dist []float64, err error) {
	frames = make([]Frame, len(timestamps))
	dist = make([]float64, len(timestamps))
	for i := range dist {
		dist[i] = math.Inf(1)
	}
	order := make([]int, len(timestamps))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return timestamps[order[a]] < timestamps[order[b]] })
	for lo := 0; lo < len(order); lo += maxSelect {
		batch := order[lo:min(lo+maxSelect, len(order))]
		near := make([]float64, len(batch))
		for i, q := range batch {
			near[i] = timestamps[q]
		}
		err := decode(ctx, path, near[0], near[len(near)-1], fps, near, func(f Frame) error {
			for _, q := range batch {
				if d := math.Abs(f.PTS - timestamps[q]); d < dist[q] {
					dist[q], frames[q] = d, f
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return frames, dist, nil
}

// FramesAt decodes, for each query timestamp, the frame of path nearest to
// it, and fails with ErrFrameTimestamp when that frame is further than
// tolerance away — LeRobot's decode_video_frames (spec §6.2).
func FramesAt(ctx context.Context, path string, timestamps []float64, fps, tolerance float64) ([]Frame, error) {
	best, dist, err := Nearest(ctx, path, timestamps, fps)
	if err != nil {
		return nil, err
	}
	var bad []string
	for i, ts := range timestamps {
		if dist[i] > tolerance {
			near := "none decoded within half a frame"
			if !math.IsInf(dist[i], 1) {
				near = fmt.Sprintf("nearest frame at %.6fs", best[i].PTS)
			}
			bad = append(bad, fmt.Sprintf("%.6fs (%s)", ts, near))
		}
	}
	if len(bad) > 0 {
		if len(bad) > 4 {
			bad = append(bad[:4], fmt.Sprintf("and %d more", len(bad)-4))
		}
		return nil, fmt.Errorf("%s: %w (tolerance %gs): %s", path, ErrFrameTimestamp, tolerance, strings.Join(bad, ", "))
	}
	return best, nil
}
