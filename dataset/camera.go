package dataset

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/e2hil/e2hil/dataset/video"
)

// imageColumn holds an image feature: every frame PNG-encoded (LeRobot
// embeds PNG bytes in the data file, spec §4.3) and histogrammed for stats.
type imageColumn struct {
	width, height int
	pathFormat    string // basename LeRobot stores in the struct's path field
	pngs          [][]byte
	hists         []*channelHist
}

func newImageColumn(f Feature) (*imageColumn, error) {
	h, w, err := f.imageSize()
	if err != nil {
		return nil, err
	}
	return &imageColumn{width: w, height: h, pathFormat: "frame-%06d.png"}, nil
}

func (c *imageColumn) prepare(v any) (any, error) { return toRGB(v, c.width, c.height) }

func (c *imageColumn) add(p any) error {
	rgb, ok := p.([]byte)
	if !ok {
		return fmt.Errorf("internal: image column got %T", p)
	}
	b, err := encodePNG(rgb, c.width, c.height)
	if err != nil {
		return fmt.Errorf("encode PNG: %w", err)
	}
	c.pngs = append(c.pngs, b)
	c.hists = append(c.hists, frameHist(rgb, c.width, c.height))
	return nil
}

func (c *imageColumn) len() int { return len(c.pngs) }

func (c *imageColumn) reset() { c.pngs, c.hists = c.pngs[:0], c.hists[:0] }

func (c *imageColumn) build(b array.Builder) error {
	sb, ok := b.(*array.StructBuilder)
	if !ok {
		return fmt.Errorf("internal: image values for a %T", b)
	}
	bb, ok1 := sb.FieldBuilder(0).(*array.BinaryBuilder)
	pb, ok2 := sb.FieldBuilder(1).(*array.StringBuilder)
	if !ok1 || !ok2 {
		return fmt.Errorf("internal: image struct builders %T, %T", sb.FieldBuilder(0), sb.FieldBuilder(1))
	}
	for i, png := range c.pngs {
		sb.Append(true)
		bb.Append(png)
		pb.Append(fmt.Sprintf(c.pathFormat, i))
	}
	return nil
}

func (c *imageColumn) stats(quantiles bool) (Stats, bool) {
	return imageStats(c.hists, quantiles), true
}

// videoColumn streams a video feature's frames into an encoder as they
// arrive, so an episode never sits in memory, and histograms them for stats.
// finish ends the episode's mp4; reset discards it.
type videoColumn struct {
	width, height, fps int
	cfg                video.EncoderConfig
	nextPath           func() string // where the next episode's mp4 is encoded

	enc   *video.Encoder
	done  string // the finished mp4 of the buffered episode
	hists []*channelHist
}

func newVideoColumn(f Feature, fps int, cfg video.EncoderConfig, nextPath func() string) (*videoColumn, error) {
	h, w, err := f.imageSize()
	if err != nil {
		return nil, err
	}
	return &videoColumn{width: w, height: h, fps: fps, cfg: cfg, nextPath: nextPath}, nil
}

// prepare checks the picture. Packed RGB is passed on without a copy: add
// hands it to the encoder within the same AddFrame call.
func (c *videoColumn) prepare(v any) (any, error) {
	if b, ok := v.([]byte); ok && len(b) == c.width*c.height*3 {
		return b, nil
	}
	return toRGB(v, c.width, c.height)
}

func (c *videoColumn) add(p any) error {
	rgb, ok := p.([]byte)
	if !ok {
		return fmt.Errorf("internal: video column got %T", p)
	}
	if c.done != "" {
		return errors.New("internal: frame added to a finished video")
	}
	if c.enc == nil {
		if err := c.startEncoder(); err != nil {
			return err
		}
	}
	if err := c.enc.WriteFrame(rgb); err != nil {
		return err
	}
	c.hists = append(c.hists, frameHist(rgb, c.width, c.height))
	return nil
}

func (c *videoColumn) len() int { return len(c.hists) }

// endInput tells the encoder the episode is over, so that the encoders of
// all cameras finish their files at the same time.
func (c *videoColumn) endInput() {
	if c.enc != nil {
		c.enc.EndInput()
	}
}

// startEncoder starts the encoder of the next episode. It lives until
// finish or shutdown, not for one call, so it is not bound to a caller's
// context; reset and shutdown stop it.
func (c *videoColumn) startEncoder() error {
	enc, err := video.NewEncoder(context.Background(), c.nextPath(), c.width, c.height, c.fps, c.cfg)
	if err != nil {
		return err
	}
	c.enc = enc
	return nil
}

// finish closes the episode's encoder and returns its mp4. It then starts
// the next episode's encoder at once, so that ffmpeg's start-up (a quarter
// of a second of CPU) overlaps with saving this episode instead of
// delaying the next one's first frame.
func (c *videoColumn) finish() (string, error) {
	if c.done != "" {
		return c.done, nil
	}
	if c.enc == nil || c.enc.Frames() == 0 {
		return "", ErrEmptyEpisode
	}
	enc := c.enc
	c.enc = nil
	if err := enc.Close(); err != nil {
		os.Remove(enc.Path())
		c.hists = c.hists[:0]
		return "", err
	}
	c.done = enc.Path()
	c.startEncoder() // on failure, add starts it (and reports the error)
	return c.done, nil
}

// release forgets the finished mp4 after the dataset took it over.
func (c *videoColumn) release() {
	c.done = ""
	c.hists = c.hists[:0]
}

// reset discards the buffered episode; an encoder that has no frame yet is
// kept for the next one.
func (c *videoColumn) reset() {
	if c.enc != nil && c.enc.Frames() > 0 {
		c.enc.Abort()
		c.enc = nil
	}
	if c.done != "" {
		os.Remove(c.done)
		c.done = ""
	}
	c.hists = c.hists[:0]
}

// shutdown stops every encoder (Writer.Close).
func (c *videoColumn) shutdown() {
	c.reset()
	if c.enc != nil {
		c.enc.Abort()
		c.enc = nil
	}
}

func (c *videoColumn) build(array.Builder) error {
	return errors.New("internal: video features have no data column")
}

func (c *videoColumn) stats(quantiles bool) (Stats, bool) {
	return imageStats(c.hists, quantiles), true
}
