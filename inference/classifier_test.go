package inference_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/preprocess"
)

func simCameraEnv(t *testing.T, cams ...string) env.Env {
	t.Helper()
	cfg := configs.DefaultEnvConfig()
	cfg.Cameras = cams
	cfg.ImageSize = []int{96, 96}
	cfg.Processor.Reset.ControlTimeS = 0.5
	e, err := env.NewSim(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestClassifierEnv: the wrapped env's reward and success follow the
// classifier (threshold 0: every step a success, ending the episode with
// terminate_on_success; threshold 1: never), and the probability is the
// Gorgonia classifier's on the frames resized to its 64×64 input.
func TestClassifierEnv(t *testing.T) {
	requireORT(t)
	ctx := context.Background()
	spec := models.DefaultClassifierSpec("observation.images.front", "observation.images.wrist")
	spec.ImageHeight, spec.ImageWidth, spec.TrainBackbone = 64, 64, false
	p, err := spec.NewParams(4)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range spec.TrainableNames(p) {
		d := p.Data(n)
		for i := range d {
			d[i] += float32(0.05 * rng.NormFloat64())
		}
	}
	model, err := spec.ExportONNX(p)
	if err != nil {
		t.Fatal(err)
	}
	pred, err := spec.NewPredictor(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pred.Close()

	for _, tc := range []struct {
		threshold   float64
		terminate   bool
		wantSuccess bool
	}{
		{0, true, true},
		{0, false, true},
		{1, true, false},
	} {
		c, err := inference.NewRewardClassifier(model, inference.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		base := simCameraEnv(t, "front", "wrist")
		e, err := inference.NewClassifierEnv(base, c, inference.ClassifierReward{SuccessThreshold: tc.threshold, SuccessReward: 7, TerminateOnSuccess: tc.terminate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Reset(ctx, 3); err != nil {
			t.Fatal(err)
		}
		st, err := e.Step(ctx, []float32{0.5, 0, -0.5, 1})
		if err != nil {
			t.Fatal(err)
		}
		if st.Success != tc.wantSuccess || (st.Reward == 7) != tc.wantSuccess || st.Terminated != (tc.wantSuccess && tc.terminate) {
			t.Errorf("threshold %v terminate %v: %+v", tc.threshold, tc.terminate, st)
		}
		// The same probability from the Gorgonia classifier.
		var images [][]float32
		for _, k := range spec.Cameras {
			pp, err := preprocess.New(preprocess.Config{Height: 64, Width: 64}, 96, 96)
			if err != nil {
				t.Fatal(err)
			}
			img := make([]float32, pp.Len())
			if err := pp.Apply(img, st.Observation.Images[k].Pix); err != nil {
				t.Fatal(err)
			}
			images = append(images, img)
		}
		logits, err := pred.Logits(images, 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := float64(models.Sigmoid32(logits[0])); math.Abs(e.LastProbability-want) > 1e-4 {
			t.Errorf("probability %.6f, Gorgonia %.6f", e.LastProbability, want)
		}
		if err := e.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// An env without the classifier's cameras is refused.
	c, err := inference.NewRewardClassifier(model, inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := inference.NewClassifierEnv(simCameraEnv(t, "front"), c, inference.ClassifierReward{SuccessThreshold: 0.5}); err == nil ||
		!strings.Contains(err.Error(), "observation.images.wrist") {
		t.Errorf("missing camera: %v", err)
	}
	if _, err := inference.NewRewardClassifier([]byte("not onnx"), inference.SessionOptions{}); err == nil {
		t.Error("garbage accepted as a classifier")
	}

	// From the config: a directory holding classifier.onnx.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "classifier.onnx"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := configs.DefaultEnvConfig()
	cfg.Cameras, cfg.ImageSize = []string{"front", "wrist"}, []int{64, 64}
	cfg.Processor.RewardClassifier.PretrainedPath = dir
	e, err := inference.NewEnv(ctx, cfg, inference.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.(*inference.ClassifierEnv); !ok {
		t.Errorf("NewEnv gave %T, want a ClassifierEnv", e)
	}
	e.Close(ctx)
	cfg.Processor.RewardClassifier.PretrainedPath = filepath.Join(dir, "missing.onnx")
	if _, err := inference.NewEnv(ctx, cfg, inference.SessionOptions{}); err == nil ||
		!strings.Contains(err.Error(), "env.processor.reward_classifier") || !strings.Contains(err.Error(), "missing.onnx") {
		t.Errorf("missing classifier: %v", err)
	}
}
