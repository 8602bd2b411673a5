package inference_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/dataset"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/preprocess"
)

type actionSink struct{ actions [][]float32 }

func (s *actionSink) AddFrame(f dataset.Frame, _ string) error {
	s.actions = append(s.actions, f["action"].([]float32))
	return nil
}
func (s *actionSink) SaveEpisode() error { return nil }

// simImagePolicy exports a policy for the simulator's state and two
// cameras, reading 64×64 images cropped from 96×96 frames.
func simImagePolicy(t *testing.T, sp env.Spec, crop []int) []byte {
	t.Helper()
	requireORT(t)
	bb := models.ResNet10{Prefix: "backbone"}
	bp := models.NewParams()
	if err := bb.AddParams(bp, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
	c, oh, ow := bb.OutShape(64, 64)
	spec := models.SACSpec{StateDim: len(sp.StateNames), ActionDim: 3, StateNames: sp.StateNames, ActionNames: sp.ActionNames[:3],
		StateLow: sp.StateLow, StateHigh: sp.StateHigh, LatentDim: 32,
		ActorHidden: []int{32}, ActorActivateFinal: true, CriticHidden: []int{32}, CriticActivateFinal: true,
		NumCritics: 2, StdMin: 1e-5, StdMax: 5, InitFinal: 0.05, NumDiscrete: 3, ImagePoolingDim: 8, ImageDropout: 0.1}
	var cams []models.PolicyCamera
	for _, k := range []string{"observation.images.front", "observation.images.wrist"} {
		spec.Cameras = append(spec.Cameras, models.CameraSpec{Name: k, Channels: c, Height: oh, Width: ow})
		cams = append(cams, models.PolicyCamera{Key: k, Height: 64, Width: 64, Crop: crop,
			Mean: [3]float32(preprocess.ImageNetMean), Std: [3]float32(preprocess.ImageNetStd)})
	}
	p := spec.NewParams(3)
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range p.Names() {
		d := p.Data(n)
		for i := range d {
			d[i] += float32(0.05 * rng.NormFloat64())
		}
	}
	model, err := spec.ExportImagePolicy(p, bb, bp, cams, models.PolicyExportInfo{FPS: sp.FPS, ActionLow: spec.ActionLow(), ActionHigh: spec.ActionHigh()})
	if err != nil {
		t.Fatal(err)
	}
	return model
}

// Run feeds a camera policy the env's frames, cropped and resized as the
// policy's metadata says: the first action equals the policy's action on
// the reset observation preprocessed by hand.
func TestRunImagePolicy(t *testing.T) {
	ctx := context.Background()
	cfg := configs.DefaultEnvConfig()
	cfg.Cameras = []string{"front", "wrist"}
	cfg.ImageSize = []int{96, 96}
	cfg.Processor.Reset.ControlTimeS = 0.5
	e, err := env.NewSim(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sp := e.Spec()
	crop := []int{4, 8, 80, 84}
	pol, err := inference.NewPolicy(simImagePolicy(t, sp, crop), inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pol.Close()
	if c := pol.Cameras()[1].Crop; c == nil || *c != (preprocess.Crop{Top: 4, Left: 8, Height: 80, Width: 84}) {
		t.Fatalf("crop from metadata: %+v", c)
	}
	sink := &actionSink{}
	rep, err := inference.Run(ctx, e, pol, inference.RunOptions{Episodes: 2, Seed: 5, Fast: true, GripperCommand: 1, Recorder: sink})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Episodes) != 2 || len(sink.actions) < 2 || rep.LatencyP50 <= 0 {
		t.Fatalf("report %+v, %d frames", rep, len(sink.actions))
	}

	probe, _ := env.NewSim(ctx, cfg)
	obs, err := probe.Reset(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	var images [][]float32
	for _, c := range pol.Cameras() {
		pp, err := preprocess.New(preprocess.Config{Crop: c.Crop, Height: 64, Width: 64}, 96, 96)
		if err != nil {
			t.Fatal(err)
		}
		img := make([]float32, pp.Len())
		if err := pp.Apply(img, obs.Images[c.Key].Pix); err != nil {
			t.Fatal(err)
		}
		images = append(images, img)
	}
	want, err := pol.ActImages(obs.State, images)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sink.actions[0], want) {
		t.Errorf("first action %v, the policy on the preprocessed reset frames gives %v", sink.actions[0], want)
	}
	// Other frames, another action: the images reach the policy.
	want = append([]float32(nil), want...)
	clear(images[0])
	if other, _ := pol.ActImages(obs.State, images); slices.Equal(other, want) {
		t.Errorf("the policy ignores its images: %v", want)
	}

	// A new version of the same cropped-camera policy (the learner's push)
	// is swapped in; one cropping other regions is refused.
	if err := pol.Swap(simImagePolicy(t, sp, crop)); err != nil {
		t.Errorf("swap in the same cameras and crops: %v", err)
	}
	if err := pol.Swap(simImagePolicy(t, sp, []int{0, 0, 80, 84})); err == nil || !strings.Contains(err.Error(), "cameras") {
		t.Errorf("swap in other crops: %v, want refused", err)
	}

	// An env without the policy's cameras is refused up front.
	cfg.Cameras = []string{"front"}
	e1, err := env.NewSim(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inference.Run(ctx, e1, pol, inference.RunOptions{Episodes: 1, Fast: true}); err == nil || !strings.Contains(err.Error(), "observation.images.wrist") {
		t.Errorf("missing camera: %v", err)
	}
}
