package models

/*
#cgo CFLAGS: -O3
#include <stdint.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

// Dropout keep decision of unit i: a counter-based hash of (seed, i), so a
// mask needs no storage and vectorises (murmur3's finaliser, twice).
static inline uint32_t fmix32(uint32_t h) {
	h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; h *= 0xc2b2ae35u; h ^= h >> 16;
	return h;
}

// y[i] = x[i]·scale if unit i is kept, else 0 (drop when hash < thr), for
// units [i0, i1).
CLONES static void k_dropout(const float* x, float* y, long i0, long i1, uint64_t seed, uint32_t thr, float scale) {
	uint32_t lo = (uint32_t)seed, hi = (uint32_t)(seed >> 32);
	for (long i = i0; i < i1; i++) {
		uint32_t h = fmix32(fmix32((uint32_t)i * 0x9e3779b9u + lo) ^ hi);
		y[i] = h < thr ? 0.0f : x[i] * scale;
	}
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"

	"github.com/e2hil/e2hil/internal/par"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SACSpec is the shape of HIL-SERL's SAC networks (LeRobot modeling_sac.py):
//
//	state      → MIN_MAX to [-1, 1] → encoder.state: Linear → LayerNorm → Tanh  (latent)
//	actor      latent → MLP (Linear → LayerNorm → SiLU)… → mean, log-std heads
//	critic k   [latent, action] → MLP … → Linear → Q
//
// The encoder is shared: the critics train it, the actor uses it detached,
// and the target critics read the live encoder (as LeRobot's shared_encoder).
type SACSpec struct {
	StateDim  int `json:"state_dim"`
	ActionDim int `json:"action_dim"` // continuous action dims
	// StateLow/High are the MIN_MAX normalisation bounds of observation.state.
	StateLow  []float32 `json:"state_low"`
	StateHigh []float32 `json:"state_high"`
	// StateNormalization is LeRobot's normalization_mapping["STATE"]:
	// "MIN_MAX" (default; to [-1, 1] with StateLow/High) or "MEAN_STD"
	// (with StateMean/Std).
	StateNormalization string    `json:"state_normalization,omitempty"`
	StateMean          []float32 `json:"state_mean,omitempty"`
	StateStd           []float32 `json:"state_std,omitempty"`
	StateNames         []string  `json:"state_names"`
	ActionNames        []string  `json:"action_names"`

	LatentDim           int     `json:"latent_dim"`
	ActorHidden         []int   `json:"actor_hidden"`
	ActorActivateFinal  bool    `json:"actor_activate_final"`
	CriticHidden        []int   `json:"critic_hidden"`
	CriticActivateFinal bool    `json:"critic_activate_final"`
	NumCritics          int     `json:"num_critics"`
	StdMin              float64 `json:"std_min"`
	StdMax              float64 `json:"std_max"`
	InitFinal           float64 `json:"init_final"`
	// NumDiscrete > 0 adds HIL-SERL's discrete gripper critic: a DQN head
	// latent → MLP(CriticHidden) → Linear(NumDiscrete), with a target copy.
	NumDiscrete int `json:"num_discrete_actions,omitempty"`

	// Cameras are the image inputs, in the order of the config's
	// input_features; each is encoded from its frozen backbone's feature map
	// (HILSERL.md §1.2): SpatialEmbeddings (ImagePoolingDim per channel) →
	// Dropout(ImageDropout, training only) → Linear(C·F → latent) →
	// LayerNorm → Tanh. The camera latents come first in the encoder output,
	// then the state latent (LeRobot's concat order).
	Cameras []CameraSpec `json:"cameras,omitempty"`
	// ImagePoolingDim is image_embedding_pooling_dim (F, 8 in LeRobot).
	ImagePoolingDim int `json:"image_embedding_pooling_dim,omitempty"`
	// ImageDropout is the post-encoder dropout rate (0.1 in LeRobot).
	ImageDropout float64 `json:"image_dropout,omitempty"`
}

// CameraSpec is one camera input: its feature key and the shape of its
// backbone feature map [Channels, Height, Width] (512×4×4 for ResNet-10 on
// 128×128 images).
type CameraSpec struct {
	Name     string `json:"name"`
	Channels int    `json:"channels"`
	Height   int    `json:"height"`
	Width    int    `json:"width"`
}

// FeatureSize is C·h·w, the length of one observation's feature map.
func (c CameraSpec) FeatureSize() int { return c.Channels * c.Height * c.Width }

// EncodedDim is the encoder output width: latent_dim per camera plus the
// state latent.
func (s SACSpec) EncodedDim() int { return s.LatentDim * (1 + len(s.Cameras)) }

// Validate checks the spec's consistency.
func (s SACSpec) Validate() error {
	var errs []error
	if s.StateDim < 1 || s.ActionDim < 1 || s.LatentDim < 1 || s.NumCritics < 1 {
		errs = append(errs, fmt.Errorf("models: state_dim %d, action_dim %d, latent_dim %d, num_critics %d must all be ≥ 1",
			s.StateDim, s.ActionDim, s.LatentDim, s.NumCritics))
	}
	if len(s.StateLow) != s.StateDim || len(s.StateHigh) != s.StateDim {
		errs = append(errs, fmt.Errorf("models: state bounds have %d/%d values, want state_dim %d", len(s.StateLow), len(s.StateHigh), s.StateDim))
	}
	switch s.StateNormalization {
	case "", NormMinMax:
	case NormMeanStd:
		if len(s.StateMean) != s.StateDim || len(s.StateStd) != s.StateDim {
			errs = append(errs, fmt.Errorf("models: MEAN_STD state stats have %d/%d values, want state_dim %d", len(s.StateMean), len(s.StateStd), s.StateDim))
		}
	default:
		errs = append(errs, fmt.Errorf("models: state_normalization %q is not MIN_MAX or MEAN_STD", s.StateNormalization))
	}
	if len(s.ActorHidden) == 0 || len(s.CriticHidden) == 0 {
		errs = append(errs, errors.New("models: actor and critic need at least one hidden layer"))
	}
	if !(s.StdMax > 0) || !(s.StdMin < s.StdMax) {
		errs = append(errs, fmt.Errorf("models: std range [%g, %g] is empty", s.StdMin, s.StdMax))
	}
	if len(s.Cameras) > 0 {
		if s.ImagePoolingDim < 1 {
			errs = append(errs, fmt.Errorf("models: image_embedding_pooling_dim %d must be ≥ 1", s.ImagePoolingDim))
		}
		if !(s.ImageDropout >= 0 && s.ImageDropout < 1) {
			errs = append(errs, fmt.Errorf("models: image_dropout %g must be in [0, 1)", s.ImageDropout))
		}
		for i, c := range s.Cameras {
			if c.Channels < 1 || c.Height < 1 || c.Width < 1 {
				errs = append(errs, fmt.Errorf("models: camera %d (%s) feature map %d×%d×%d: every size must be ≥ 1", i, c.Name, c.Channels, c.Height, c.Width))
			}
		}
	}
	return errors.Join(errs...)
}

// Parameter groups (prefixes in the store).
const (
	PrefixEncoder      = "encoder."
	PrefixActor        = "actor."
	PrefixCritic       = "critic."
	PrefixCriticTarget = "critic_target."
	PrefixDiscrete     = "discrete_critic."
	PrefixDiscreteTgt  = "discrete_critic_target."
	// PrefixImageEncoder names the camera encoders' parameters (a subset of
	// PrefixEncoder): encoder.image.<camera index>.{spatial.kernel, linear.*, norm.*}.
	PrefixImageEncoder = "encoder.image."
)

// ImagePrefix names camera i's encoder parameters ("encoder.image.0").
func ImagePrefix(i int) string { return fmt.Sprintf("encoder.image.%d", i) }

// CriticPrefix names critic k's parameters ("critic.0"), or its target's.
func CriticPrefix(k int, target bool) string {
	if target {
		return fmt.Sprintf("critic_target.%d", k)
	}
	return fmt.Sprintf("critic.%d", k)
}

// NewParams defines and initialises every parameter as PyTorch would
// (Linear U(±1/√fan_in); LayerNorm 1, 0; actor heads U(±init_final); critic
// outputs orthogonal), targets as copies of the critics.
func (s SACSpec) NewParams(seed uint64) *Params {
	rng := rand.New(rand.NewPCG(seed, 0x5ac))
	p := NewParams()
	linear := func(name string, in, out int) {
		bound := float32(1 / math.Sqrt(float64(in)))
		uniform(rng, p.Add(name+".weight", in, out), bound)
		uniform(rng, p.Add(name+".bias", 1, out), bound)
	}
	norm := func(name string, d int) {
		fill(p.Add(name+".weight", 1, d), 1)
		p.Add(name+".bias", 1, d)
	}
	mlp := func(name string, in int, hidden []int, activateFinal bool) int {
		for i, h := range hidden {
			q := fmt.Sprintf("%s.%d", name, i)
			linear(q+".linear", in, h)
			if i < len(hidden)-1 || activateFinal {
				norm(q+".norm", h)
			}
			in = h
		}
		return in
	}
	linear("encoder.state", s.StateDim, s.LatentDim)
	norm("encoder.state_norm", s.LatentDim)

	h := mlp("actor.net", s.EncodedDim(), s.ActorHidden, s.ActorActivateFinal)
	for _, head := range []string{"actor.mean", "actor.log_std"} {
		uniform(rng, p.Add(head+".weight", h, s.ActionDim), float32(s.InitFinal))
		uniform(rng, p.Add(head+".bias", 1, s.ActionDim), float32(s.InitFinal))
	}
	for k := 0; k < s.NumCritics; k++ {
		pre := CriticPrefix(k, false)
		h := mlp(pre+".net", s.EncodedDim()+s.ActionDim, s.CriticHidden, s.CriticActivateFinal)
		orthogonalColumn(rng, p.Add(pre+".out.weight", h, 1))
		uniform(rng, p.Add(pre+".out.bias", 1, 1), float32(1/math.Sqrt(float64(h))))
	}
	if s.NumDiscrete > 0 { // defined last: the other parameters' draws are unchanged
		h := mlp("discrete_critic.net", s.EncodedDim(), s.CriticHidden, s.CriticActivateFinal)
		linear("discrete_critic.out", h, s.NumDiscrete)
		for _, name := range p.WithPrefix(PrefixDiscrete) {
			tname := PrefixDiscreteTgt + name[len(PrefixDiscrete):]
			copy(p.Add(tname, p.Get(name).Shape()...).Data().([]float32), p.Data(name))
		}
	}
	for k := 0; k < s.NumCritics; k++ {
		for _, name := range p.WithPrefix(CriticPrefix(k, false) + ".") {
			tname := CriticPrefix(k, true) + name[len(CriticPrefix(k, false)):]
			copy(p.Add(tname, p.Get(name).Shape()...).Data().([]float32), p.Data(name))
		}
	}
	// Camera encoders last, from their own stream: a state-only spec's
	// parameters are unchanged by the image path's existence.
	irng := rand.New(rand.NewPCG(seed, 0x1a6e))
	for i, c := range s.Cameras {
		pre := ImagePrefix(i)
		InitSpatialKernel(irng, p.Add(pre+".spatial.kernel", c.Channels*c.Height*c.Width, s.ImagePoolingDim).Data().([]float32),
			c.Height*c.Width, s.ImagePoolingDim)
		in := c.Channels * s.ImagePoolingDim
		bound := float32(1 / math.Sqrt(float64(in)))
		uniform(irng, p.Add(pre+".linear.weight", in, s.LatentDim), bound)
		uniform(irng, p.Add(pre+".linear.bias", 1, s.LatentDim), bound)
		norm(pre+".norm", s.LatentDim)
	}
	return p
}

func uniform(rng *rand.Rand, t *tensor.Dense, bound float32) {
	d := t.Data().([]float32)
	for i := range d {
		d[i] = bound * float32(2*rng.Float64()-1)
	}
}

func fill(t *tensor.Dense, v float32) {
	d := t.Data().([]float32)
	for i := range d {
		d[i] = v
	}
}

// orthogonalColumn fills an [n, 1] weight with a random unit vector (torch's
// orthogonal_ init, gain 1, of a 1×n matrix).
func orthogonalColumn(rng *rand.Rand, t *tensor.Dense) {
	d := t.Data().([]float32)
	var n float64
	v := make([]float64, len(d))
	for i := range v {
		v[i] = rng.NormFloat64()
		n += v[i] * v[i]
	}
	n = math.Sqrt(n)
	for i := range d {
		d[i] = float32(v[i] / n)
	}
}

// Normalisation modes (LeRobot's NormalizationMode).
const (
	NormMinMax  = "MIN_MAX"
	NormMeanStd = "MEAN_STD"
)

// NormalizationScaleShift returns per-dim scale and shift of observation.state's
// normalisation, x·scale + shift, as LeRobot's NormalizerProcessorStep:
// MIN_MAX (x − min)/(max − min + 1e-8)·2 − 1, MEAN_STD (x − mean)/(std + 1e-8).
func (s SACSpec) NormalizationScaleShift() (scale, shift []float32) {
	scale = make([]float32, s.StateDim)
	shift = make([]float32, s.StateDim)
	for i := range scale {
		if s.StateNormalization == NormMeanStd {
			sc := 1 / (float64(s.StateStd[i]) + 1e-8)
			scale[i] = float32(sc)
			shift[i] = float32(-float64(s.StateMean[i]) * sc)
			continue
		}
		sc := 2 / (float64(s.StateHigh[i]) - float64(s.StateLow[i]) + 1e-8)
		scale[i] = float32(sc)
		shift[i] = float32(-float64(s.StateLow[i])*sc - 1)
	}
	return scale, shift
}

// StateNormalizationMode is StateNormalization with its default.
func (s SACSpec) StateNormalizationMode() string {
	if s.StateNormalization == "" {
		return NormMinMax
	}
	return s.StateNormalization
}

// LogStdBounds are the clamp bounds of the log-std head: LeRobot clamps
// std = exp(·) to [std_min, std_max]; a non-positive std_min is no bound.
func (s SACSpec) LogStdBounds() (lo, hi float32) {
	lo = -math.MaxFloat32
	if s.StdMin > 0 {
		lo = float32(math.Log(s.StdMin))
	}
	return lo, float32(math.Log(s.StdMax))
}

// Encode maps raw observation.state [B, S] to the latent [B, latent].
func (s SACSpec) Encode(b *Graph, state *G.Node) *G.Node {
	scale, shift := s.NormalizationScaleShift()
	x := G.Must(G.BroadcastHadamardProd(state, constRow(b, "norm.scale", scale), nil, []byte{0}))
	x = G.Must(G.BroadcastAdd(x, constRow(b, "norm.shift", shift), nil, []byte{0}))
	x = b.Linear("encoder.state", x)
	return G.Must(Tanh(b.LayerNorm("encoder.state_norm", x)))
}

// DropoutMask is the randomness of one Dropout node: set Seed before each
// run; the forward pass and its gradient draw the same mask from it.
type DropoutMask struct{ Seed uint64 }

// Dropout is torch's nn.Dropout in training mode: each unit of x is zeroed
// with probability rate, else scaled by 1/(1−rate). The keep decisions are a
// hash of (m.Seed, unit index) resolved to 2⁻³², so the gradient (the same
// mask applied to dy) recomputes the mask rather than storing it.
func Dropout(x *G.Node, rate float64, m *DropoutMask) (*G.Node, error) {
	if !(rate >= 0 && rate < 1) || m == nil {
		return nil, fmt.Errorf("models: Dropout rate %g must be in [0, 1), with a mask", rate)
	}
	shape := x.Shape().Clone()
	name := fmt.Sprintf("Dropout{%g,%p}", rate, m)
	var op *kOp
	op = &kOp{
		name: name, arity: 1, typ: fnType(1), shape: shape,
		fn:  func(y []float32, in [][]float32) { dropout(in[0], y, rate, m.Seed) },
		wrt: []bool{true},
		diff: func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
			dx, err := G.ApplyOp(&kOp{name: name + "Grad", arity: 1, typ: fnType(1), shape: shape, fn: op.fn}, grad)
			return G.Nodes{dx}, err
		},
	}
	return G.ApplyOp(op, x)
}

// dropout applies the mask of seed to x, split across the cores (the mask
// of unit i depends on i only, so the split changes nothing).
func dropout(x, y []float32, rate float64, seed uint64) {
	par.For(len(x), 16, splitGrain, func(lo, hi int) { dropoutRange(x, y, rate, seed, lo, hi) })
}

// dropoutRange is dropout on units [lo, hi) in the calling goroutine.
func dropoutRange(x, y []float32, rate float64, seed uint64, lo, hi int) {
	if lo >= hi {
		return
	}
	thr := min(math.Round(rate*(1<<32)), math.MaxUint32)
	C.k_dropout((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.long(lo), C.long(hi),
		C.uint64_t(seed), C.uint32_t(thr), C.float(1/(1-rate)))
}

// DropoutKeep returns the keep factors (0 or 1/(1−rate)) Dropout applies to
// n units with seed: the mask as data, for references and tests.
func DropoutKeep(rate float64, seed uint64, n int) []float32 {
	ones, out := make([]float32, n), make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	dropout(ones, out, rate, seed)
	return out
}

// EncodeImage maps camera i's backbone features [B, C·h·w] (NCHW per row)
// to its latent [B, latent_dim]. drop is the post-encoder dropout's mask
// seed (nil outside training, or with image_dropout 0).
func (s SACSpec) EncodeImage(b *Graph, i int, feats *G.Node, drop *DropoutMask) *G.Node {
	c, pre := s.Cameras[i], ImagePrefix(i)
	x := G.Must(SpatialEmbeddings(feats, b.Param(pre+".spatial.kernel"), c.Channels, c.Height*c.Width, s.ImagePoolingDim))
	if drop != nil && s.ImageDropout > 0 {
		x = G.Must(Dropout(x, s.ImageDropout, drop))
	}
	x = b.Linear(pre+".linear", x)
	return G.Must(Tanh(b.LayerNorm(pre+".norm", x)))
}

// EncodeObservation is the shared encoder's output [B, EncodedDim]: the
// camera latents in camera order, then the state latent. feats[i] are camera
// i's features; drops[i] its dropout mask (drops nil: no dropout). Without
// cameras it is Encode.
func (s SACSpec) EncodeObservation(b *Graph, state *G.Node, feats []*G.Node, drops []*DropoutMask) *G.Node {
	latent := s.Encode(b, state)
	if len(s.Cameras) == 0 {
		return latent
	}
	var out *G.Node
	for i := range s.Cameras {
		var drop *DropoutMask
		if drops != nil {
			drop = drops[i]
		}
		z := s.EncodeImage(b, i, feats[i], drop)
		if out == nil {
			out = z
		} else {
			out = G.Must(ConcatCols(out, z))
		}
	}
	return G.Must(ConcatCols(out, latent))
}

// Actor returns the Gaussian's mean and clamped log-std [B, A] (pre-tanh).
func (s SACSpec) Actor(b *Graph, latent *G.Node) (mean, logStd *G.Node) {
	h := b.MLP("actor.net", latent, len(s.ActorHidden), s.ActorActivateFinal, ActSiLU)
	mean = b.Linear("actor.mean", h)
	lo, hi := s.LogStdBounds()
	logStd = G.Must(Clamp(b.Linear("actor.log_std", h), lo, hi))
	return mean, logStd
}

// Critic returns Q [B, 1] of critic k (or its target) for latent and action.
func (s SACSpec) Critic(b *Graph, k int, target bool, latent, action *G.Node) *G.Node {
	pre := CriticPrefix(k, target)
	x := G.Must(ConcatCols(latent, action))
	h := b.MLP(pre+".net", x, len(s.CriticHidden), s.CriticActivateFinal, ActSiLU)
	return b.Linear(pre+".out", h)
}

// DiscreteCritic returns the gripper critic's Q [B, NumDiscrete] (or its
// target's) for latent.
func (s SACSpec) DiscreteCritic(b *Graph, target bool, latent *G.Node) *G.Node {
	pre := "discrete_critic"
	if target {
		pre = "discrete_critic_target"
	}
	h := b.MLP(pre+".net", latent, len(s.CriticHidden), s.CriticActivateFinal, ActSiLU)
	return b.Linear(pre+".out", h)
}

func constRow(b *Graph, name string, v []float32) *G.Node {
	t := tensor.New(tensor.WithShape(1, len(v)), tensor.WithBacking(append([]float32(nil), v...)))
	return G.NodeFromAny(b.G, t, G.WithName(name))
}
