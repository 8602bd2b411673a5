package video

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
)

// EncoderConfig is LeRobot's VideoEncoderConfig (spec §6.1), with the
// ffmpeg encoder name as Codec.
type EncoderConfig struct {
	// Codec is an ffmpeg encoder: "libsvtav1" (LeRobot's default),
	// "libaom-av1", "libx264" or "libx265". LeRobot's names "av1", "h264"
	// and "hevc" are accepted as aliases.
	Codec      string
	PixFmt     string // "yuv420p"
	GOP        int    // keyframe interval (g); LeRobot: 2
	CRF        int    // LeRobot: 30
	Preset     int    // libsvtav1 preset; LeRobot ≥ 0.4: 12. -1 leaves the codec default.
	FastDecode int    // libsvtav1 fast-decode 0..2; 0 disables it
	Threads    int    // encoder threads; 0 lets the codec decide
}

// DefaultEncoderConfig is what LeRobot encodes RGB cameras with.
func DefaultEncoderConfig() EncoderConfig {
	return EncoderConfig{Codec: "libsvtav1", PixFmt: "yuv420p", GOP: 2, CRF: 30, Preset: 12}
}

// encoder resolves LeRobot's codec aliases (VIDEO_CODECS_ALIASES and PyAV's
// default encoders for h264/hevc).
func (c EncoderConfig) encoder() string {
	switch c.Codec {
	case "av1", "":
		return "libsvtav1"
	case "h264":
		return "libx264"
	case "hevc":
		return "libx265"
	}
	return c.Codec
}

// Validate reports settings ffmpeg would reject or LeRobot does not use.
func (c EncoderConfig) Validate() error {
	var errs []error
	switch c.encoder() {
	case "libsvtav1", "libaom-av1", "libx264", "libx265":
	default:
		errs = append(errs, fmt.Errorf("codec: %q is not one of libsvtav1, libaom-av1, libx264, libx265", c.Codec))
	}
	if c.PixFmt == "" {
		errs = append(errs, errors.New("pix_fmt: must not be empty"))
	}
	if c.GOP < 0 {
		errs = append(errs, fmt.Errorf("g: must be ≥ 0, got %d", c.GOP))
	}
	if c.CRF < 0 || c.CRF > 63 {
		errs = append(errs, fmt.Errorf("crf: must be in 0..63, got %d", c.CRF))
	}
	if c.FastDecode < 0 || c.FastDecode > 2 {
		errs = append(errs, fmt.Errorf("fast_decode: must be in 0..2, got %d", c.FastDecode))
	}
	return errors.Join(errs...)
}

// CheckSize reports frame sizes the encoder cannot take: SVT-AV1 needs
// at least 64×64 pixels.
func (c EncoderConfig) CheckSize(width, height int) error {
	if c.encoder() == "libsvtav1" && (width < 64 || height < 64) {
		return fmt.Errorf("%dx%d: libsvtav1 encodes frames of at least 64x64 pixels", width, height)
	}
	return nil
}

// codecArgs translates the config as LeRobot's get_codec_options does.
func (c EncoderConfig) codecArgs() []string {
	enc := c.encoder()
	args := []string{"-c:v", enc, "-pix_fmt", c.PixFmt}
	if c.GOP > 0 {
		args = append(args, "-g", strconv.Itoa(c.GOP))
	}
	args = append(args, "-crf", strconv.Itoa(c.CRF))
	switch enc {
	case "libsvtav1":
		if c.Preset >= 0 {
			args = append(args, "-preset", strconv.Itoa(c.Preset))
		}
		params := "fast-decode=" + strconv.Itoa(c.FastDecode)
		if c.Threads > 0 {
			params += ":lp=" + strconv.Itoa(c.Threads)
		}
		args = append(args, "-svtav1-params", params)
	case "libaom-av1":
		if c.Preset >= 0 {
			args = append(args, "-cpu-used", strconv.Itoa(min(c.Preset, 8)))
		}
		if c.Threads > 0 {
			args = append(args, "-threads", strconv.Itoa(c.Threads), "-row-mt", "1")
		}
	default: // libx264, libx265
		if c.FastDecode > 0 {
			args = append(args, "-tune", "fastdecode")
		}
		if c.Threads > 0 {
			args = append(args, "-threads", strconv.Itoa(c.Threads))
		}
	}
	return args
}

// Encoder streams RGB24 frames into an ffmpeg process that writes one mp4
// with a constant frame rate: frame k has pts k/fps (spec §6.1).
type Encoder struct {
	path          string
	width, height int
	cmd           *exec.Cmd
	stdin         io.WriteCloser
	stderr        *tail
	frames        int
	inputClosed   bool
	done          bool
}

// NewEncoder starts ffmpeg writing path (replaced if it exists). Frames must
// be width×height packed RGB24.
func NewEncoder(ctx context.Context, path string, width, height, fps int, cfg EncoderConfig) (*Encoder, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("video encoder: %w", err)
	}
	if width <= 0 || height <= 0 || fps <= 0 {
		return nil, fmt.Errorf("video encoder: size %dx%d at %d fps", width, height, fps)
	}
	if err := cfg.CheckSize(width, height); err != nil {
		return nil, fmt.Errorf("video encoder: %w", err)
	}
	if cfg.PixFmt == "yuv420p" && (width%2 != 0 || height%2 != 0) {
		return nil, fmt.Errorf("video encoder: %dx%d: yuv420p needs an even width and height", width, height)
	}
	args := []string{
		"-hide_banner", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "-s", fmt.Sprintf("%dx%d", width, height), "-r", strconv.Itoa(fps),
		"-i", "pipe:0", "-an",
	}
	args = append(args, cfg.codecArgs()...)
	args = append(args, "-f", "mp4", path)
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	e := &Encoder{path: path, width: width, height: height, cmd: cmd, stderr: &tail{}}
	cmd.Stderr = e.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("video encoder: %w", err)
	}
	e.stdin = stdin
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("video encoder: start ffmpeg: %w", err)
	}
	return e, nil
}

// Path is the mp4 being written.
func (e *Encoder) Path() string { return e.path }

// Frames is the number of frames written so far.
func (e *Encoder) Frames() int { return e.frames }

// WriteFrame sends one frame to the encoder.
func (e *Encoder) WriteFrame(rgb []byte) error {
	if e.done {
		return errors.New("video encoder: already closed")
	}
	if len(rgb) != e.width*e.height*3 {
		return fmt.Errorf("video encoder: frame of %d bytes, want %dx%dx3 = %d", len(rgb), e.width, e.height, e.width*e.height*3)
	}
	if _, err := e.stdin.Write(rgb); err != nil {
		werr := e.cmd.Wait()
		e.done = true
		if werr == nil {
			werr = err
		}
		return fmt.Errorf("video encoder %s: frame %d: %w", e.path, e.frames, runError("ffmpeg", werr, e.stderr))
	}
	e.frames++
	return nil
}

// EndInput ends the stream without waiting: ffmpeg finishes the file while
// the caller does other work (ends other encoders' streams); Close waits.
func (e *Encoder) EndInput() error {
	if e.inputClosed || e.done {
		return nil
	}
	e.inputClosed = true
	return e.stdin.Close()
}

// Close ends the stream and waits for ffmpeg to finish the file.
func (e *Encoder) Close() error {
	if e.done {
		return nil
	}
	cerr := e.EndInput()
	e.done = true
	if err := e.cmd.Wait(); err != nil {
		return fmt.Errorf("video encoder %s: %w", e.path, runError("ffmpeg", err, e.stderr))
	}
	if cerr != nil {
		return fmt.Errorf("video encoder %s: %w", e.path, cerr)
	}
	if e.frames == 0 {
		return fmt.Errorf("video encoder %s: no frames", e.path)
	}
	return nil
}

// Abort kills ffmpeg, waits for it and removes the partial file.
func (e *Encoder) Abort() {
	if !e.done {
		e.done = true
		e.stdin.Close()
		if e.cmd.Process != nil {
			e.cmd.Process.Kill()
		}
		e.cmd.Wait()
	}
	os.Remove(e.path)
}
