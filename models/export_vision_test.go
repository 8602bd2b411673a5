package models_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/internal/testtool"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/onnx"
)

// spreadClassifier gives the norms of a fresh classifier non-trivial
// statistics and affine parameters, and the head weights a spread that makes
// the logits vary, so that the parity check is not against constants.
func spreadClassifier(p *models.Params, rng *rand.Rand) {
	for _, n := range p.Names() {
		d := p.Data(n)
		switch {
		case strings.HasSuffix(n, "running_var"):
			for i := range d {
				d[i] = 0.5 + rng.Float32()
			}
		case strings.HasSuffix(n, "running_mean"), strings.Contains(n, "backbone") && strings.HasSuffix(n, ".bias"):
			for i := range d {
				d[i] = 0.2 * float32(rng.NormFloat64())
			}
		case strings.Contains(n, "norm") && strings.HasSuffix(n, ".weight"):
			for i := range d {
				d[i] = 0.5 + rng.Float32()
			}
		case strings.HasPrefix(n, "classifier.head.out"):
			for i := range d {
				d[i] *= 8
			}
		}
	}
}

func TestExportedClassifierMatchesGorgonia(t *testing.T) {
	testtool.RequireORT(t)
	for _, tc := range []struct {
		backbone string
		h, w     int
	}{
		{models.ResNetBatchNorm, 128, 128},
		{models.ResNetHILSERL, 64, 80},
	} {
		t.Run(tc.backbone, func(t *testing.T) {
			spec := models.DefaultClassifierSpec("observation.images.front", "observation.images.wrist")
			spec.ImageHeight, spec.ImageWidth = tc.h, tc.w
			spec.Backbone = tc.backbone
			spec.TrainBackbone = false
			p, err := spec.NewParams(1)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(2, 3))
			spreadClassifier(p, rng)
			model, err := spec.ExportONNX(p)
			if err != nil {
				t.Fatal(err)
			}
			const n = 6
			images := make([][]float32, len(spec.Cameras))
			feeds := map[string][]float32{}
			for i, cam := range spec.Cameras {
				images[i] = make([]float32, n*3*tc.h*tc.w)
				for j := range images[i] {
					images[i][j] = rng.Float32()
				}
				feeds[cam] = images[i]
			}
			pr, err := spec.NewPredictor(p, 4) // two chunks, the second padded
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			want, err := pr.Logits(images, n)
			if err != nil {
				t.Fatal(err)
			}
			sess, err := inference.NewSession(model, inference.SessionOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			out, err := sess.RunBatch(feeds, n)
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
			for i := range want {
				worst = math.Max(worst, math.Abs(float64(out[models.ONNXOutputLogits][i]-want[i])))
				prob := models.Sigmoid32(want[i])
				worst = math.Max(worst, math.Abs(float64(out[models.ONNXOutputProbability][i]-prob)))
				lo, hi = min(lo, want[i]), max(hi, want[i])
			}
			t.Logf("batch %d: max |onnx − gorgonia| %.3g; logits span [%.2f, %.2f]", n, worst, lo, hi)
			if worst > 1e-4 {
				t.Errorf("max abs diff %.3g > 1e-4", worst)
			}
			if hi-lo < 0.5 {
				t.Errorf("logits span only [%g, %g]: the parity check would be too easy", lo, hi)
			}

			path := filepath.Join(t.TempDir(), "classifier.onnx")
			if err := os.WriteFile(path, model, 0o644); err != nil {
				t.Fatal(err)
			}
			testtool.CheckONNX(t, path)
			meta, err := onnx.ReadMetadata(model)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"e2hil.model", "image_features", "image_size", "image_mean", "image_std", "backbone"} {
				if meta[k] == "" {
					t.Errorf("metadata %q missing", k)
				}
			}
			ins, outs, err := onnx.ReadSignature(model)
			if err != nil {
				t.Fatal(err)
			}
			if len(ins) != 2 || ins[0].Name != "observation.images.front" || ins[0].Dims[0] != -1 || len(outs) != 2 || outs[0].Name != models.ONNXOutputProbability {
				t.Errorf("signature %+v → %+v", ins, outs)
			}
		})
	}
}
