// Package camera captures frames with OpenCV (gocv) from a camera index
// ("0"), a device path ("/dev/video2") or a video file, behind one type: a
// background grabber keeps the latest frame, and Read hands out frames as
// LeRobot's OpenCVCamera async_read does (RGB by default, HWC bytes).
//
// A video file plays at the configured fps (or its own), which is how tests
// and offline runs stand in for a device.
//
// It owns capture and colour conversion only: no cropping or resizing for
// policies (that is env's), no recording (dataset's).
package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"
)

// ErrNoFrame: no frame has been captured yet.
var ErrNoFrame = errors.New("camera: no frame captured yet")

// Color modes (LeRobot ColorMode).
const (
	ColorRGB = "rgb"
	ColorBGR = "bgr"
)

// Config mirrors LeRobot's OpenCVCameraConfig.
type Config struct {
	// IndexOrPath is a camera index ("0"), a device ("/dev/video0") or a
	// video file.
	IndexOrPath string `json:"index_or_path"`
	// Width, Height and FPS requested from a device (0 keeps its
	// defaults). For a file they must match it when set; FPS paces
	// playback (0: the file's own rate).
	Width  int     `json:"width,omitempty"`
	Height int     `json:"height,omitempty"`
	FPS    float64 `json:"fps,omitempty"`
	// ColorMode is "rgb" (default) or "bgr".
	ColorMode string `json:"color_mode,omitempty"`
	// Loop restarts a video file at its end instead of ending (io.EOF).
	Loop bool `json:"loop,omitempty"`
}

// DefaultConfig captures from indexOrPath in RGB at the source's settings.
func DefaultConfig(indexOrPath string) Config {
	return Config{IndexOrPath: indexOrPath, ColorMode: ColorRGB}
}

// Validate reports every problem with its JSON path.
func (c Config) Validate() error {
	var probs []string
	if c.IndexOrPath == "" {
		probs = append(probs, "index_or_path: must be a camera index, a device path or a video file")
	}
	if c.Width < 0 || c.Height < 0 {
		probs = append(probs, fmt.Sprintf("width, height: must be ≥ 0, got %d×%d", c.Width, c.Height))
	}
	if c.FPS < 0 || math.IsNaN(c.FPS) || math.IsInf(c.FPS, 0) {
		probs = append(probs, fmt.Sprintf("fps: must be ≥ 0, got %g", c.FPS))
	}
	if c.ColorMode != ColorRGB && c.ColorMode != ColorBGR {
		probs = append(probs, fmt.Sprintf("color_mode: must be %q or %q, got %q", ColorRGB, ColorBGR, c.ColorMode))
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("camera config: %s", strings.Join(probs, "; "))
}

// Frame is one captured image.
type Frame struct {
	// Pix holds Height rows of Width pixels, 3 bytes each, in the
	// configured colour order.
	Pix           []byte
	Width, Height int
	// Seq numbers frames from 1 in capture order; gaps are frames the
	// reader skipped.
	Seq uint64
	// Time is when the frame was captured.
	Time time.Time
}

// RGBA returns the frame as an image (for display and PNG encoding).
func (f Frame) RGBA(colorMode string) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
	for i := 0; i < f.Width*f.Height; i++ {
		r, g, b := f.Pix[3*i], f.Pix[3*i+1], f.Pix[3*i+2]
		if colorMode == ColorBGR {
			r, b = b, r
		}
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = r, g, b, 255
	}
	return img
}

// Camera is an open capture with its grabber goroutine.
type Camera struct {
	cfg  Config
	name string
	vc   *gocv.VideoCapture
	file bool

	mu       sync.Mutex
	latest   Frame
	err      error         // why capture ended (io.EOF at a file's end)
	changed  chan struct{} // closed and replaced on every new frame or end
	lastRead uint64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Open opens the source and starts the grabber. It fails with a clear
// message when the device or file does not exist or OpenCV cannot read it,
// and when the source's frame size differs from the configured one.
func Open(cfg Config) (*Camera, error) {
	if cfg.ColorMode == "" {
		cfg.ColorMode = ColorRGB
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	vc, file, err := openSource(cfg.IndexOrPath)
	if err != nil {
		return nil, err
	}
	c := &Camera{cfg: cfg, name: cfg.IndexOrPath, vc: vc, file: file, changed: make(chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := c.configure(); err != nil {
		vc.Close()
		return nil, err
	}
	go c.grab()
	return c, nil
}

func openSource(src string) (*gocv.VideoCapture, bool, error) {
	if idx, err := strconv.Atoi(src); err == nil {
		dev := fmt.Sprintf("/dev/video%d", idx)
		if _, err := os.Stat(dev); err != nil {
			return nil, false, fmt.Errorf("camera %d: %s does not exist (%s)", idx, dev, listDevices())
		}
		vc, err := gocv.VideoCaptureDevice(idx)
		if err != nil || !vc.IsOpened() {
			closeCapture(vc)
			return nil, false, fmt.Errorf("camera %d (%s): OpenCV cannot open it (busy, or not a capture device?)", idx, dev)
		}
		return vc, false, nil
	}
	fi, err := os.Stat(src)
	if err != nil {
		if strings.HasPrefix(src, "/dev/") {
			return nil, false, fmt.Errorf("camera %s: %w (%s)", src, err, listDevices())
		}
		return nil, false, fmt.Errorf("camera: video file %s: %w", src, err)
	}
	device := fi.Mode()&os.ModeCharDevice != 0
	vc, err := gocv.VideoCaptureFile(src)
	if err != nil || !vc.IsOpened() {
		closeCapture(vc)
		if device {
			return nil, false, fmt.Errorf("camera %s: OpenCV cannot open it (busy, or not a capture device?)", src)
		}
		return nil, false, fmt.Errorf("camera: video file %s: OpenCV cannot decode it", src)
	}
	return vc, !device, nil
}

func closeCapture(vc *gocv.VideoCapture) {
	if vc != nil {
		vc.Close()
	}
}

// listDevices names the capture devices present, for error messages.
func listDevices() string {
	devs, _ := filepath.Glob("/dev/video*")
	if len(devs) == 0 {
		return "no /dev/video* devices: is a camera plugged in?"
	}
	sort.Strings(devs)
	return "devices present: " + strings.Join(devs, ", ")
}

// configure applies width, height and fps to a device and checks the
// source delivers the configured size (LeRobot raises on a mismatch too).
func (c *Camera) configure() error {
	if !c.file {
		if c.cfg.Width > 0 {
			c.vc.Set(gocv.VideoCaptureFrameWidth, float64(c.cfg.Width))
		}
		if c.cfg.Height > 0 {
			c.vc.Set(gocv.VideoCaptureFrameHeight, float64(c.cfg.Height))
		}
		if c.cfg.FPS > 0 {
			c.vc.Set(gocv.VideoCaptureFPS, c.cfg.FPS)
		}
	}
	w, h := int(c.vc.Get(gocv.VideoCaptureFrameWidth)), int(c.vc.Get(gocv.VideoCaptureFrameHeight))
	if (c.cfg.Width > 0 && w != c.cfg.Width) || (c.cfg.Height > 0 && h != c.cfg.Height) {
		return fmt.Errorf("camera %s: delivers %d×%d, configured %d×%d", c.name, w, h, c.cfg.Width, c.cfg.Height)
	}
	if !c.file && c.cfg.FPS > 0 {
		if got := c.vc.Get(gocv.VideoCaptureFPS); got > 0 && math.Abs(got-c.cfg.FPS) > 0.5 {
			return fmt.Errorf("camera %s: runs at %g fps, configured %g", c.name, got, c.cfg.FPS)
		}
	}
	return nil
}

// period paces file playback; devices pace themselves.
func (c *Camera) period() time.Duration {
	if !c.file {
		return 0
	}
	fps := c.cfg.FPS
	if fps == 0 {
		fps = c.vc.Get(gocv.VideoCaptureFPS)
	}
	if fps <= 0 || math.IsNaN(fps) {
		fps = 30
	}
	return time.Duration(float64(time.Second) / fps)
}

// grab is the background grabber: it reads frames until Close, keeping
// only the latest. It owns the VideoCapture until it returns.
func (c *Camera) grab() {
	defer close(c.done)
	mat, conv := gocv.NewMat(), gocv.NewMat()
	defer mat.Close()
	defer conv.Close()
	period := c.period()
	var next time.Time
	var seq uint64
	for {
		if period > 0 {
			if wait := time.Until(next); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-c.stop:
					t.Stop()
					return
				case <-t.C:
				}
			}
			next = time.Now().Add(period)
		}
		select {
		case <-c.stop:
			return
		default:
		}
		if !c.vc.Read(&mat) || mat.Empty() {
			if c.file && c.cfg.Loop && seq > 0 {
				c.vc.Set(gocv.VideoCapturePosFrames, 0)
				continue
			}
			err := io.EOF
			if !c.file {
				err = fmt.Errorf("camera %s: capture failed (unplugged?)", c.name)
			}
			c.publish(Frame{}, err)
			return
		}
		src := mat
		if c.cfg.ColorMode == ColorRGB {
			gocv.CvtColor(mat, &conv, gocv.ColorBGRToRGB)
			src = conv
		}
		seq++
		c.publish(Frame{Pix: src.ToBytes(), Width: src.Cols(), Height: src.Rows(), Seq: seq, Time: time.Now()}, nil)
	}
}

func (c *Camera) publish(f Frame, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.err = err
	} else {
		c.latest = f
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// Latest returns the newest frame without waiting (ErrNoFrame before the
// first one).
func (c *Camera) Latest() (Frame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.latest.Seq == 0 {
		if c.err != nil {
			return Frame{}, c.err
		}
		return Frame{}, ErrNoFrame
	}
	return c.latest, nil
}

// Read waits for a frame newer than the one it returned last and returns
// it; frames captured in between are skipped. After a file's last frame
// has been returned it gives io.EOF.
func (c *Camera) Read(ctx context.Context) (Frame, error) {
	for {
		c.mu.Lock()
		f, err, changed := c.latest, c.err, c.changed
		if f.Seq > c.lastRead {
			c.lastRead = f.Seq
			c.mu.Unlock()
			return f, nil
		}
		c.mu.Unlock()
		if err != nil {
			return Frame{}, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		case <-c.done:
			// Closed: report what the grabber left, or that it is closed.
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			if err == nil {
				err = errors.New("camera: closed")
			}
			return Frame{}, err
		}
	}
}

// Close stops the grabber, waits for it and releases the capture.
func (c *Camera) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		err = c.vc.Close()
	})
	return err
}
