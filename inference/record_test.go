package inference

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/dataset"
	"github.com/e2hil/e2hil/env"
)

// frameSink keeps every recorded frame.
type frameSink struct {
	frames   []dataset.Frame
	episodes int
}

func (s *frameSink) AddFrame(f dataset.Frame, task string) error {
	s.frames = append(s.frames, f)
	return nil
}
func (s *frameSink) SaveEpisode() error { s.episodes++; return nil }

func TestDatasetFeaturesCameras(t *testing.T) {
	sp := env.Spec{StateNames: []string{"x"}, ActionNames: []string{"a"},
		Cameras: []env.CameraSpec{{Key: "observation.images.front", H: 96, W: 128}, {Key: "observation.images.wrist", H: 96, W: 128}}}
	fs := DatasetFeatures(sp)
	if len(fs) != 6 {
		t.Fatalf("%d features: %+v", len(fs), fs)
	}
	for i, c := range sp.Cameras {
		f := fs[4+i]
		if f.Name != c.Key || f.Dtype != "video" || len(f.Shape) != 3 || f.Shape[0] != 3 || f.Shape[1] != 96 || f.Shape[2] != 128 ||
			strings.Join(f.Names, ",") != "channels,height,width" {
			t.Errorf("camera feature %+v", f)
		}
	}
	if fs := DatasetFeatures(env.Spec{StateNames: []string{"x"}, ActionNames: []string{"a"}}); len(fs) != 4 {
		t.Errorf("state-only env has %d features", len(fs))
	}
}

// Run records every camera's frame of the observation the action was
// chosen from.
func TestRunRecordsCameras(t *testing.T) {
	ctx := context.Background()
	cfg := configs.DefaultEnvConfig()
	cfg.Cameras = []string{"front", "wrist"}
	cfg.ImageSize = []int{32, 48}
	cfg.Processor.Reset.ControlTimeS = 0.5 // 5 steps
	e, err := env.NewSim(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sink := &frameSink{}
	if _, err := Run(ctx, e, NewRandomPolicy(3, 1), RunOptions{Episodes: 2, Seed: 9, Fast: true, GripperCommand: 1, Recorder: sink}); err != nil {
		t.Fatal(err)
	}
	if sink.episodes != 2 || len(sink.frames) < 2 {
		t.Fatalf("%d episodes, %d frames", sink.episodes, len(sink.frames))
	}
	// The first frame holds the reset observation's images.
	probe, _ := env.NewSim(ctx, cfg)
	obs, err := probe.Reset(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"observation.images.front", "observation.images.wrist"} {
		pix, ok := sink.frames[0][key].([]uint8)
		if !ok || len(pix) != 32*48*3 {
			t.Fatalf("frame 0 %s: %T of %d bytes", key, sink.frames[0][key], len(pix))
		}
		if !bytes.Equal(pix, obs.Images[key].Pix) {
			t.Errorf("frame 0 %s is not the reset observation's frame", key)
		}
		if last := sink.frames[len(sink.frames)-1][key].([]uint8); key == "observation.images.wrist" && bytes.Equal(pix, last) {
			t.Errorf("%s: first and last frames are identical", key)
		}
	}
	// An observation without the promised frame is an error, not a gap.
	if _, err := Run(ctx, noImages{e}, NewRandomPolicy(3, 1), RunOptions{Episodes: 1, Fast: true, GripperCommand: 1, Recorder: &frameSink{}}); err == nil ||
		!strings.Contains(err.Error(), "lacks a 32×48 frame") {
		t.Errorf("missing frames: %v", err)
	}
}

// noImages drops the images of a camera env's observations.
type noImages struct{ env.Env }

func (n noImages) Reset(ctx context.Context, seed int64) (env.Observation, error) {
	o, err := n.Env.Reset(ctx, seed)
	o.Images = nil
	return o, err
}
