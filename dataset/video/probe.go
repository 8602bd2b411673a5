package video

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Info describes the first video stream of a file, as LeRobot's
// get_video_info and get_video_duration_in_s read it (spec §2, §1.2).
type Info struct {
	Codec     string  // canonical codec name: "av1", "h264", "hevc"
	PixFmt    string  // "yuv420p"
	Width     int     // pixels
	Height    int     // pixels
	FPS       float64 // r_frame_rate (PyAV's base_rate)
	Duration  float64 // stream duration × time base, else the container's, in seconds
	NumFrames int     // nb_frames, or -1 when the container does not say
	StartTime float64 // pts of the first frame, seconds
	HasAudio  bool
	Size      int64 // file size in bytes
}

// Channels is the number of colour channels of the pixel format, as
// LeRobot's get_pix_fmt_channels counts them.
func (i Info) Channels() int {
	switch {
	case strings.HasPrefix(i.PixFmt, "gray"):
		return 1
	case strings.HasPrefix(i.PixFmt, "ya"):
		return 2
	case strings.Contains(i.PixFmt, "a") && (strings.HasPrefix(i.PixFmt, "rgba") || strings.HasPrefix(i.PixFmt, "bgra") ||
		strings.HasPrefix(i.PixFmt, "argb") || strings.HasPrefix(i.PixFmt, "abgr") || strings.HasPrefix(i.PixFmt, "yuva")):
		return 4
	}
	return 3
}

// ErrNoVideoStream is returned by Probe for a file without a video stream.
var ErrNoVideoStream = errors.New("no video stream")

// Probe reads a file's video stream parameters with ffprobe.
func Probe(ctx context.Context, path string) (Info, error) {
	if err := Available(); err != nil {
		return Info{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return Info{}, err
	}
	stderr := &tail{}
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", path)
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return Info{}, fmt.Errorf("probe %s: %w", path, runError("ffprobe", err, stderr))
	}
	info, err := parseProbe(out)
	if err != nil {
		return Info{}, fmt.Errorf("probe %s: %w", path, err)
	}
	info.Size = st.Size()
	return info, nil
}

type probeOutput struct {
	Streams []struct {
		CodecType  string `json:"codec_type"`
		CodecName  string `json:"codec_name"`
		PixFmt     string `json:"pix_fmt"`
		Width      int    `json:"width"`
		Height     int    `json:"height"`
		RFrameRate string `json:"r_frame_rate"`
		TimeBase   string `json:"time_base"`
		Duration   string `json:"duration"`
		DurationTS *int64 `json:"duration_ts"`
		NbFrames   string `json:"nb_frames"`
		StartTime  string `json:"start_time"`
		StartPTS   *int64 `json:"start_pts"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func parseProbe(out []byte) (Info, error) {
	var p probeOutput
	if err := json.Unmarshal(out, &p); err != nil {
		return Info{}, fmt.Errorf("ffprobe output: %w", err)
	}
	info := Info{NumFrames: -1}
	found := false
	for _, s := range p.Streams {
		switch s.CodecType {
		case "audio":
			info.HasAudio = true
		case "video":
			if found {
				continue
			}
			found = true
			info.Codec, info.PixFmt, info.Width, info.Height = s.CodecName, s.PixFmt, s.Width, s.Height
			info.FPS = parseRate(s.RFrameRate)
			// duration_ts × time_base is exact (PyAV's stream.duration ×
			// time_base); ffprobe's "duration" is rounded to microseconds.
			tbNum, tbDen, tbOK := parseFraction(s.TimeBase)
			if s.DurationTS != nil && tbOK {
				info.Duration = float64(*s.DurationTS*tbNum) / float64(tbDen)
			} else {
				info.Duration = parseFloat(s.Duration)
			}
			if s.StartPTS != nil && tbOK {
				info.StartTime = float64(*s.StartPTS*tbNum) / float64(tbDen)
			} else {
				info.StartTime = parseFloat(s.StartTime)
			}
			if n, err := strconv.Atoi(s.NbFrames); err == nil {
				info.NumFrames = n
			}
		}
	}
	if !found {
		return Info{}, ErrNoVideoStream
	}
	if info.Duration == 0 || math.IsNaN(info.Duration) {
		info.Duration = parseFloat(p.Format.Duration)
	}
	if math.IsNaN(info.Duration) {
		info.Duration = 0
	}
	if math.IsNaN(info.StartTime) {
		info.StartTime = 0
	}
	return info, nil
}

func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return parseFloat(s)
	}
	n, err1 := strconv.ParseFloat(num, 64)
	d, err2 := strconv.ParseFloat(den, 64)
	if err1 != nil || err2 != nil || d == 0 {
		return 0
	}
	return n / d
}

// parseFraction parses "num/den" with den > 0.
func parseFraction(s string) (num, den int64, ok bool) {
	a, b, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	n, err1 := strconv.ParseInt(a, 10, 64)
	d, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || d <= 0 || n <= 0 {
		return 0, 0, false
	}
	return n, d, true
}

func parseFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}
