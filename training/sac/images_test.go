package sac

import (
	"math"
	"slices"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/replay"
)

// tinyImageSpec is tinySpec with one camera whose backbone gives a 2×2×1
// feature map, pooled to F = 2 per channel.
func tinyImageSpec(discrete int) models.SACSpec {
	s := tinySpec()
	s.Cameras = []models.CameraSpec{{Name: "observation.images.front", Channels: 2, Height: 2, Width: 1}}
	s.ImagePoolingDim, s.ImageDropout, s.NumDiscrete = 2, 0.1, discrete
	return s
}

func tinyImageLearner(t *testing.T, discrete int) *Learner {
	t.Helper()
	cfg := configs.DefaultSACConfig()
	cfg.Discount, cfg.TemperatureInit = 0.9, 0.5
	if discrete > 0 {
		cfg.NumDiscreteActions = &discrete
	}
	l, err := New(cfg, tinyImageSpec(discrete), 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, name := range l.Param.Names() {
		d := l.Param.Data(name)
		for i := range d {
			d[i] = float32(0.3 * math.Sin(1.7*float64(k)))
			k++
		}
	}
	return l
}

// imageLatent is the float64 reference of camera 0's encoder: spatial
// embeddings, dropout keep factors, Linear, LayerNorm, Tanh.
func (r ref) imageLatent(x []float64, keep []float32) []float64 {
	const c, hw, f = 2, 2, 2
	k := r.w("encoder.image.0.spatial.kernel")
	z := make([]float64, c*f)
	for ci := 0; ci < c; ci++ {
		for fi := 0; fi < f; fi++ {
			for p := 0; p < hw; p++ {
				z[ci*f+fi] += x[ci*hw+p] * k[(ci*hw+p)*f+fi]
			}
			z[ci*f+fi] *= float64(keep[ci*f+fi])
		}
	}
	h := r.layerNorm("encoder.image.0.norm", r.linear("encoder.image.0.linear", z))
	for i := range h {
		h[i] = math.Tanh(h[i])
	}
	return h
}

func imageBatch(l *Learner) *replay.Batch {
	b := tinyBatch()
	b.WithFeatures([]int{4})
	copy(b.Features[0], []float32{0.5, 1.2, 0, 2.1, 0.7, 0.1, 1.6, 0.3})
	copy(b.NextFeatures[0], []float32{0.4, 0.9, 0.2, 1.1, 0, 0.8, 1.3, 0.6})
	return b
}

// The critic loss with a camera matches the float64 reference, and its
// gradients (camera encoder included) match central finite differences.
func TestImageEncoderGradientsFiniteDifference(t *testing.T) {
	l := tinyImageLearner(t, 0)
	b := imageBatch(l)
	y := []float32{0.25, -0.4}
	l.cImg.drops[0].Seed = 2
	keep := models.DropoutKeep(0.1, 2, 8)
	latent := func(r ref, i int) []float64 {
		return append(r.imageLatent(row(b.Features[0], i, 4), keep[i*4:(i+1)*4]), r.encode(row(b.State, i, 2))...)
	}
	criticLoss := func() float64 {
		r := ref{l.Param}
		var s float64
		for k := 0; k < 2; k++ {
			for i := 0; i < 2; i++ {
				d := r.q(k, false, latent(r, i), float64(b.Action[i])) - float64(y[i])
				s += d * d / 2
			}
		}
		return s
	}
	copy(l.cObs.data, b.State)
	copy(l.cAct.data, b.Action)
	copy(l.cY.data, y)
	copy(l.cImg.feats[0].data, b.Features[0])
	if err := l.critic.run(); err != nil {
		t.Fatal(err)
	}
	if got, want := l.critic.scalar(l.cLoss), criticLoss(); math.Abs(got-want) > 1e-5 {
		t.Fatalf("critic loss %.7f, reference %.7f", got, want)
	}
	cg, err := l.critic.grads()
	if err != nil {
		t.Fatal(err)
	}
	var img int
	for _, n := range l.criticNames {
		if len(n) > len(models.PrefixImageEncoder) && n[:len(models.PrefixImageEncoder)] == models.PrefixImageEncoder {
			img++
		}
	}
	if img != 5 {
		t.Fatalf("critic optimiser has %d camera-encoder parameters, want 5 (kernel, linear ×2, norm ×2): %v", img, l.criticNames)
	}
	checkFD(t, "critic with a camera", l, l.criticNames, cg, criticLoss)
}

// The gripper critic trains the camera encoder too (LeRobot's optimiser
// holds the encoder); its gradients match finite differences.
func TestImageDiscreteCriticFiniteDifference(t *testing.T) {
	l := tinyImageLearner(t, 3)
	b := imageBatch(l)
	b2 := replay.NewBatch(2, 2, 2).WithFeatures([]int{4})
	copy(b2.State, b.State)
	copy(b2.Features[0], b.Features[0])
	copy(b2.Action, []float32{0.4, 2, -0.8, 0})
	yd := []float32{0.3, -0.2}
	l.dImg.drops[0].Seed = 4
	keep := models.DropoutKeep(0.1, 4, 8)
	loss := func() float64 {
		r := ref{l.Param}
		var s float64
		for i := 0; i < 2; i++ {
			lat := append(r.imageLatent(row(b2.Features[0], i, 4), keep[i*4:(i+1)*4]), r.encode(row(b2.State, i, 2))...)
			h := silu(r.layerNorm("discrete_critic.net.0.norm", r.linear("discrete_critic.net.0.linear", lat)))
			q := r.linear("discrete_critic.out", h)
			d := q[int(b2.Action[2*i+1])] - float64(yd[i])
			s += d * d / 2
		}
		return s
	}
	copy(l.dObs.data, b2.State)
	copy(l.dImg.feats[0].data, b2.Features[0])
	copy(l.dY.data, yd)
	clear(l.dOneHot.data)
	l.dOneHot.data[0*3+2], l.dOneHot.data[1*3+0] = 1, 1
	if err := l.dcritic.run(); err != nil {
		t.Fatal(err)
	}
	if got, want := l.dcritic.scalar(l.dLoss), loss(); math.Abs(got-want) > 1e-5 {
		t.Fatalf("discrete loss %.7f, reference %.7f", got, want)
	}
	g, err := l.dcritic.grads()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(l.discreteNames, "encoder.image.0.spatial.kernel") {
		t.Fatalf("discrete optimiser misses the camera encoder: %v", l.discreteNames)
	}
	checkFD(t, "discrete critic with a camera", l, l.discreteNames, g, loss)
}

// Dropout masks keep 1−p of the units, scaled by 1/(1−p); seeds give
// different masks; the masks in the FD tests above drop something.
func TestDropoutMask(t *testing.T) {
	for _, rate := range []float64{0.1, 0.5} {
		var prev []float32
		for seed := uint64(1); seed < 4; seed++ {
			m := models.DropoutKeep(rate, seed<<40|seed, 100_003)
			var zero int
			for _, v := range m {
				switch v {
				case 0:
					zero++
				case float32(1 / (1 - rate)):
				default:
					t.Fatalf("mask value %g", v)
				}
			}
			if f := float64(zero) / float64(len(m)); math.Abs(f-rate) > 0.005 {
				t.Errorf("rate %g seed %d: dropped fraction %.4f", rate, seed, f)
			}
			if slices.Equal(m, prev) {
				t.Errorf("rate %g: seeds %d and %d give the same mask", rate, seed-1, seed)
			}
			prev = m
		}
	}
	for _, seed := range []uint64{2, 4} {
		if !slices.Contains(models.DropoutKeep(0.1, seed, 8), 0) {
			t.Errorf("seed %d drops nothing of 8 units: the FD tests would not cover dropout", seed)
		}
	}
}

// A learner with a camera runs whole iterations (every graph, both
// optimisers over the encoder) and resumes exactly from a snapshot.
func TestImageUpdateAndResume(t *testing.T) {
	three := 3
	cfg := configs.DefaultSACConfig()
	cfg.NumDiscreteActions, cfg.UTDRatio = &three, 2
	cfg.SampleSelection = configs.SelectionE2HiL
	spec := tinyImageSpec(3)
	buf, err := replay.NewWithFeatures(50, 2, 2, []int{4})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		v := float32(i) / 50
		f := []float32{v, 1 - v, 2 * v, 0.5}
		if err := buf.AddFeatures(replay.Transition{State: []float32{v, 2 * v}, NextState: []float32{v, v}, Action: []float32{v - 0.5, float32(i % 3)}, Reward: v},
			[][]float32{f}, [][]float32{f}); err != nil {
			t.Fatal(err)
		}
	}
	newL := func() *Learner {
		l, err := New(cfg, spec, 8, 3)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a := newL()
	for i := 0; i < 3; i++ {
		if _, err := a.Update(buf); err != nil {
			t.Fatal(err)
		}
	}
	st, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := newL()
	for _, n := range a.Param.Names() {
		copy(b.Param.Data(n), a.Param.Data(n))
	}
	if err := b.Restore(st); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		ma, err := a.Update(buf)
		if err != nil {
			t.Fatal(err)
		}
		mb, _ := b.Update(buf)
		if ma != mb {
			t.Fatalf("step %d after resume: %+v vs %+v", i, ma, mb)
		}
	}
	for _, n := range a.Param.Names() {
		if !slices.Equal(a.Param.Data(n), b.Param.Data(n)) {
			t.Fatalf("%s differs after resume", n)
		}
	}
	kernel := a.Param.Data("encoder.image.0.spatial.kernel")
	fresh := newL().Param.Data("encoder.image.0.spatial.kernel")
	if slices.Equal(kernel, fresh) {
		t.Error("the camera encoder did not train")
	}
}

// The inference policy encodes camera features without dropout:
// Deterministic is tanh(μ) of the reference encoder with every unit kept.
func TestPolicyWithCamera(t *testing.T) {
	l := tinyImageLearner(t, 0)
	p, err := NewPolicy(l.Spec, l.Param, 2)
	if err != nil {
		t.Fatal(err)
	}
	b := imageBatch(l)
	if err := p.SetFeatures(0, b.Features[0]); err != nil {
		t.Fatal(err)
	}
	if err := p.SetFeatures(1, b.Features[0]); err == nil {
		t.Error("camera 1 of a one-camera policy accepted")
	}
	got, err := p.Deterministic(b.State)
	if err != nil {
		t.Fatal(err)
	}
	r := ref{l.Param}
	ones := []float32{1, 1, 1, 1}
	for i := 0; i < 2; i++ {
		lat := append(r.imageLatent(row(b.Features[0], i, 4), ones), r.encode(row(b.State, i, 2))...)
		h := silu(r.layerNorm("actor.net.0.norm", r.linear("actor.net.0.linear", lat)))
		if want := math.Tanh(r.linear("actor.mean", h)[0]); math.Abs(float64(got[i])-want) > 1e-5 {
			t.Errorf("row %d: action %.6f, reference %.6f", i, got[i], want)
		}
	}
}

// With cameras the temperature step's policy sample reuses the actor step's
// encoder output (same dropout mask) through the updated actor.
func TestImageTemperatureReadsActorLatent(t *testing.T) {
	l := tinyImageLearner(t, 0)
	b := imageBatch(l)
	copy(l.batch.State, b.State)
	copy(l.batch.Features[0], b.Features[0])
	var m Metrics
	if err := l.actorStep(l.batch, &m); err != nil {
		t.Fatal(err)
	}
	if err := l.temperatureStep(l.batch, &m); err != nil {
		t.Fatal(err)
	}
	r := ref{l.Param}
	keep := models.DropoutKeep(0.1, l.aImg.drops[0].Seed, 8)
	for i := 0; i < 2; i++ {
		lat := append(r.imageLatent(row(b.Features[0], i, 4), keep[i*4:(i+1)*4]), r.encode(row(b.State, i, 2))...)
		_, lp := r.sample(lat, float64(l.pEps.data[i]))
		if got := l.policy.values(l.pLogp)[i]; math.Abs(float64(got)-lp) > 1e-4 {
			t.Errorf("row %d: log π %.6f, reference %.6f", i, got, lp)
		}
	}
}
