package models_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/internal/testtool"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/onnx"
	"github.com/e2hil/e2hil/models/preprocess"
	"github.com/e2hil/e2hil/training/sac"
)

// imagePolicy is a two-camera policy over a ResNet-10 backbone for h×w
// images, with weights spread so actions and gripper commands vary.
func imagePolicy(t *testing.T, h, w, discrete int) (models.SACSpec, *models.Params, models.ResNet10, *models.Params, []models.PolicyCamera) {
	t.Helper()
	bb := models.ResNet10{Prefix: "backbone"}
	bp := models.NewParams()
	rng := rand.New(rand.NewPCG(3, 4))
	if err := bb.AddParams(bp, rng); err != nil {
		t.Fatal(err)
	}
	for _, n := range bp.Names() { // BatchNorm statistics away from the identity
		d := bp.Data(n)
		switch {
		case hasSuffix(n, ".running_var"):
			for i := range d {
				d[i] = 0.5 + rng.Float32()
			}
		case hasSuffix(n, ".running_mean"), hasSuffix(n, "norm.bias"):
			for i := range d {
				d[i] = 0.2 * float32(rng.NormFloat64())
			}
		}
	}
	c, oh, ow := bb.OutShape(h, w)
	spec, p := parityPolicy(t)
	spec.NumDiscrete = discrete
	// A cube.z range: the parity spec's fixed cube.z saturates the state
	// encoder (see TestExportedGripperMatchesGorgonia).
	spec.StateHigh = append([]float32(nil), spec.StateHigh...)
	spec.StateHigh[11] = 0.05
	spec.ImagePoolingDim, spec.ImageDropout = 8, 0.1
	keys := []string{"observation.images.front", "observation.images.wrist"}
	var cams []models.PolicyCamera
	for _, k := range keys {
		spec.Cameras = append(spec.Cameras, models.CameraSpec{Name: k, Channels: c, Height: oh, Width: ow})
		cams = append(cams, models.PolicyCamera{Key: k, Height: h, Width: w, Crop: []int{10, 20, 400, 400},
			Mean: [3]float32(preprocess.ImageNetMean), Std: [3]float32(preprocess.ImageNetStd)})
	}
	p = spec.NewParams(11)
	for _, n := range p.Names() {
		d := p.Data(n)
		for i := range d {
			d[i] += float32(0.3 * rng.NormFloat64())
			switch { // gripper commands that vary
			case hasSuffix(n, "discrete_critic.out.weight"):
				d[i] *= 20
			case hasSuffix(n, "discrete_critic.out.bias"):
				d[i] = 0
			}
		}
	}
	return spec, p, bb, bp, cams
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// The exported image policy equals the Gorgonia pipeline (normalise →
// ResNet-10 eval → per-camera encoder → actor mean → tanh, gripper argmax)
// within 1e-4 on random images and states, batched and one at a time.
func TestExportedImagePolicyMatchesGorgonia(t *testing.T) {
	testtool.RequireORT(t)
	const h, w, n = 64, 64, 24
	spec, p, bb, bp, cams := imagePolicy(t, h, w, 3)
	model, err := spec.ExportImagePolicy(p, bb, bp, cams, models.PolicyExportInfo{FPS: 10, ActionLow: spec.ActionLow(), ActionHigh: spec.ActionHigh()})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	state := randomStates(spec, n, rng)
	images := make([][]float32, len(cams))
	feeds := map[string][]float32{models.ONNXInputState: state}
	ref, err := sac.NewPolicy(spec, p, n)
	if err != nil {
		t.Fatal(err)
	}
	fx, err := bb.NewFeatureExtractor(bp, 8, h, w)
	if err != nil {
		t.Fatal(err)
	}
	defer fx.Close()
	for i, c := range cams {
		images[i] = make([]float32, n*3*h*w)
		for j := range images[i] { // brightness and contrast vary by row
			r := j / (3 * h * w)
			images[i][j] = float32(r%4)/4 + rng.Float32()*float32(1+r%3)/4
		}
		feeds[c.Key] = images[i]
		norm := make([]float32, len(images[i]))
		for j, v := range images[i] {
			ch := (j / (h * w)) % 3
			norm[j] = (v - c.Mean[ch]) / c.Std[ch]
		}
		feats := make([]float32, n*fx.FeatureSize())
		if err := fx.Extract(norm, feats); err != nil {
			t.Fatal(err)
		}
		if err := ref.SetFeatures(i, feats); err != nil {
			t.Fatal(err)
		}
	}
	want, err := ref.Deterministic(state)
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
	lo, hi := float32(1), float32(-1)
	grips := map[int]bool{}
	for i, v := range want {
		worst = math.Max(worst, math.Abs(float64(out[models.ONNXOutputAction][i]-v)))
		lo, hi = min(lo, v), max(hi, v)
	}
	gripOut := out[models.ONNXOutputGripper]
	for r := 0; r < n; r++ {
		g := ref.Gripper(r)
		grips[g] = true
		if int(gripOut[r]) != g {
			t.Errorf("row %d: gripper %v, Gorgonia %d", r, gripOut[r], g)
		}
	}
	t.Logf("batch %d: max |onnx − gorgonia| %.3g; actions span [%.2f, %.2f]; gripper commands %v", n, worst, lo, hi, grips)
	if worst > 1e-4 {
		t.Errorf("max abs diff %.3g > 1e-4", worst)
	}
	if hi-lo < 0.5 || len(grips) < 2 {
		t.Errorf("actions span only [%g, %g], gripper commands %v: the parity check would be too easy", lo, hi, grips)
	}
	// Batch 1, the actor's path.
	for r := 0; r < n; r += 5 {
		copy(sess.Input(models.ONNXInputState), state[r*spec.StateDim:(r+1)*spec.StateDim])
		for i, c := range cams {
			copy(sess.Input(c.Key), images[i][r*3*h*w:(r+1)*3*h*w])
		}
		if err := sess.Run(); err != nil {
			t.Fatal(err)
		}
		for k, v := range sess.Output(models.ONNXOutputAction) {
			if d := math.Abs(float64(v - want[r*spec.ActionDim+k])); d > 1e-4 {
				t.Errorf("batch-1 row %d action %d: diff %.3g", r, k, d)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "policy.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	testtool.CheckONNX(t, path)
	meta, err := onnx.ReadMetadata(model)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"e2hil.model": models.ImagePolicyModelVersion, "image_size": "[64,64]",
		"crop_params_dict": `{"observation.images.front":[10,20,400,400],"observation.images.wrist":[10,20,400,400]}`} {
		if meta[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, meta[k], v)
		}
	}
}

func TestExportImagePolicyRefuses(t *testing.T) {
	spec, p, bb, bp, cams := imagePolicy(t, 64, 64, 0)
	info := models.PolicyExportInfo{FPS: 10}
	if _, err := spec.ExportPolicy(p, info); err == nil {
		t.Error("ExportPolicy of a camera policy without its backbone")
	}
	bad := append([]models.PolicyCamera(nil), cams...)
	bad[1].Height = 32
	if _, err := spec.ExportImagePolicy(p, bb, bp, bad, info); err == nil {
		t.Error("cameras of different sizes accepted")
	}
	bad = append([]models.PolicyCamera(nil), cams...)
	bad[0].Height, bad[0].Width, bad[1].Height, bad[1].Width = 128, 128, 128, 128
	if _, err := spec.ExportImagePolicy(p, bb, bp, bad, info); err == nil {
		t.Error("an image size whose feature map differs from the policy's accepted")
	}
}
