package sac

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/e2hil/e2hil/models"
	G "gorgonia.org/gorgonia"
)

// Policy runs the actor forward in Gorgonia for a fixed number of rows: for
// collecting experience during in-process training and as the reference the
// ONNX export is checked against. It reads the parameters live.
type Policy struct {
	spec         models.SACSpec
	rows         int
	m            *machine
	obs          input
	mean, logStd *G.Node
	qd           *G.Node // discrete gripper critic, if any
	feats        []input // per camera [rows, C·h·w], set by SetFeatures
	out          []float32
}

// NewPolicy builds the forward graph for rows observations at a time.
func NewPolicy(spec models.SACSpec, params *models.Params, rows int) (*Policy, error) {
	b := models.NewGraph(params)
	p := &Policy{spec: spec, rows: rows, obs: newInput(b, "observation.state", rows, spec.StateDim)}
	var fs []*G.Node
	for i, c := range spec.Cameras {
		p.feats = append(p.feats, newInput(b, fmt.Sprintf("observation.image%d.features", i), rows, c.FeatureSize()))
		fs = append(fs, p.feats[i].node)
	}
	latent := spec.EncodeObservation(b, p.obs.node, fs, nil) // no dropout at inference
	p.mean, p.logStd = spec.Actor(b, latent)
	if spec.NumDiscrete > 0 {
		p.qd = spec.DiscreteCritic(b, false, latent)
	}
	var err error
	if p.m, err = compile(b, nil, nil); err != nil {
		return nil, err
	}
	p.out = make([]float32, rows*spec.ActionDim)
	return p, nil
}

// SetFeatures sets camera i's backbone features [rows, C·h·w] for the next
// Deterministic or Sample call (specs with cameras only).
func (p *Policy) SetFeatures(i int, feats []float32) error {
	if i < 0 || i >= len(p.feats) {
		return fmt.Errorf("sac: policy has %d cameras, got camera %d", len(p.feats), i)
	}
	if len(feats) != len(p.feats[i].data) {
		return fmt.Errorf("sac: camera %d features have %d values, want %d", i, len(feats), len(p.feats[i].data))
	}
	copy(p.feats[i].data, feats)
	return nil
}

func (p *Policy) forward(obs []float32) error {
	if len(obs) != len(p.obs.data) {
		return fmt.Errorf("sac: policy got %d observation values, want %d×%d", len(obs), p.rows, p.spec.StateDim)
	}
	copy(p.obs.data, obs)
	return p.m.run()
}

// Deterministic returns tanh(μ(s)) for each row (what the exported ONNX
// policy computes). The slice is reused by the next call.
func (p *Policy) Deterministic(obs []float32) ([]float32, error) {
	if err := p.forward(obs); err != nil {
		return nil, err
	}
	for i, m := range p.m.values(p.mean) {
		p.out[i] = float32(math.Tanh(float64(m)))
	}
	return p.out, nil
}

// Sample returns tanh(μ + σ·ε), ε ~ N(0, I) from rng, for each row.
func (p *Policy) Sample(obs []float32, rng *rand.Rand) ([]float32, error) {
	if err := p.forward(obs); err != nil {
		return nil, err
	}
	ls := p.m.values(p.logStd)
	for i, m := range p.m.values(p.mean) {
		u := float64(m) + math.Exp(float64(ls[i]))*rng.NormFloat64()
		p.out[i] = float32(math.Tanh(u))
	}
	return p.out, nil
}

// Gripper returns argmax_k Q_d(s, k) of row i from the last forward pass
// (HIL-SERL's gripper command), or -1 without a discrete critic.
func (p *Policy) Gripper(i int) int {
	if p.qd == nil {
		return -1
	}
	n := p.spec.NumDiscrete
	row := p.m.values(p.qd)[i*n : (i+1)*n]
	best := 0
	for k := range row {
		if row[k] > row[best] {
			best = k
		}
	}
	return best
}
