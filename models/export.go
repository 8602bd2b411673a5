package models

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/e2hil/e2hil/internal/version"
	"github.com/e2hil/e2hil/models/onnx"
)

// ONNX tensor names: LeRobot's feature names.
const (
	ONNXInputState   = "observation.state"
	ONNXOutputAction = "action"
	// ONNXOutputGripper is the discrete gripper command (int64), when the
	// policy has a gripper critic.
	ONNXOutputGripper = "gripper"
)

// PolicyModelVersion versions the exported policy's graph layout; an actor
// checks it before running a file.
const PolicyModelVersion = "sac-state-v1"

// PolicyExportInfo is what the exporter stamps into metadata_props besides
// the spec: the environment's timing and action layout.
type PolicyExportInfo struct {
	FPS int
	// ActionLow/High bound the env action the policy's output feeds.
	ActionLow, ActionHigh []float32
}

// ExportPolicy writes the deterministic actor as an ONNX model:
// observation.state [batch, S] (raw, unnormalised) → action [batch, A] =
// tanh(μ(s)), the same computation as the Gorgonia actor's mean, with the
// MIN_MAX or MEAN_STD normalisation folded in so the actor feeds raw
// observations. A policy with cameras needs its backbone:
// ExportImagePolicy.
func (s SACSpec) ExportPolicy(p *Params, info PolicyExportInfo) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(s.Cameras) > 0 {
		return nil, fmt.Errorf("models: export: the policy reads %d cameras: export it with its backbone (ExportImagePolicy)", len(s.Cameras))
	}
	g := onnx.NewGraph("e2hil_sac_policy")
	e := &exporter{g: g, p: p}
	return s.exportPolicy(g, e, nil, info, PolicyModelVersion, p.Count(p.WithPrefix(PrefixEncoder, PrefixActor, PrefixDiscrete)...),
		"e2hil SAC policy: deterministic action tanh(mean)", nil)
}

// exportPolicy emits the state encoder and the heads into g after the
// camera latents images (already emitted, in camera order) and marshals the
// model.
func (s SACSpec) exportPolicy(g *onnx.Graph, e *exporter, images []string, info PolicyExportInfo, model string, params int, doc string, extra []onnx.KV) ([]byte, error) {
	g.Input(ONNXInputState, -1, int64(s.StateDim))
	scale, shift := s.NormalizationScaleShift()
	x := e.op("Mul", ONNXInputState, e.const_("norm.scale", scale))
	x = e.op("Add", x, e.const_("norm.shift", shift))
	x = e.linear("encoder.state", x)
	x = e.op("Tanh", e.layerNorm("encoder.state_norm", x))
	latent := x
	if len(images) > 0 { // LeRobot's order: cameras, then the state
		out := e.g.UniqueName("Concat")
		e.g.Node("Concat", append(append([]string(nil), images...), x), []string{out}, onnx.AttrInt("axis", 1))
		latent = out
	}
	mean := e.linear("actor.mean", e.mlp("actor.net", latent, len(s.ActorHidden), s.ActorActivateFinal))
	if e.err != nil {
		return nil, e.err
	}
	g.Node("Tanh", []string{mean}, []string{ONNXOutputAction})
	g.Output(ONNXOutputAction, -1, int64(s.ActionDim))
	if s.NumDiscrete > 0 {
		// HIL-SERL's gripper command: argmax of the discrete critic.
		h := e.mlp("discrete_critic.net", latent, len(s.CriticHidden), s.CriticActivateFinal)
		q := e.linear("discrete_critic.out", h)
		g.Node("ArgMax", []string{q}, []string{ONNXOutputGripper}, onnx.AttrInt("axis", 1), onnx.AttrInt("keepdims", 0))
		g.OutputInt64(ONNXOutputGripper, -1)
		if e.err != nil {
			return nil, e.err
		}
	}

	meta := []onnx.KV{
		{Key: "e2hil.version", Value: version.Version},
		{Key: "e2hil.model", Value: model},
		{Key: "e2hil.parameters", Value: strconv.Itoa(params)},
		{Key: "fps", Value: strconv.Itoa(info.FPS)},
		{Key: "normalization_mapping", Value: jsonString(s.normalizationMapping())},
		{Key: "observation.state.min", Value: jsonString(s.StateLow)},
		{Key: "observation.state.max", Value: jsonString(s.StateHigh)},
		{Key: "observation.state.names", Value: jsonString(s.StateNames)},
		{Key: "action.names", Value: jsonString(s.ActionNames)},
		{Key: "action.min", Value: jsonString(info.ActionLow)},
		{Key: "action.max", Value: jsonString(info.ActionHigh)},
	}
	if s.StateNormalizationMode() == NormMeanStd {
		meta = append(meta, onnx.KV{Key: "observation.state.mean", Value: jsonString(s.StateMean)},
			onnx.KV{Key: "observation.state.std", Value: jsonString(s.StateStd)})
	}
	meta = append(meta, extra...)
	return onnx.Model{Graph: g, ProducerVersion: version.Version, DocString: doc, Metadata: meta}.Marshal()
}

func (s SACSpec) normalizationMapping() map[string]string {
	m := map[string]string{"STATE": s.StateNormalizationMode()}
	if len(s.Cameras) > 0 {
		m["VISUAL"] = NormMeanStd
	}
	return m
}

// ActionLow and ActionHigh bound the policy's action: tanh's [-1, 1] per
// continuous value, then the gripper index 0…NumDiscrete−1 if any.
func (s SACSpec) ActionLow() []float32 {
	out := make([]float32, s.ActionDim, s.ActionDim+1)
	for i := range out {
		out[i] = -1
	}
	if s.NumDiscrete > 0 {
		out = append(out, 0)
	}
	return out
}

// ActionHigh: see ActionLow.
func (s SACSpec) ActionHigh() []float32 {
	out := make([]float32, s.ActionDim, s.ActionDim+1)
	for i := range out {
		out[i] = 1
	}
	if s.NumDiscrete > 0 {
		out = append(out, float32(s.NumDiscrete-1))
	}
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v) // slices of numbers and strings always marshal
	return string(b)
}

// exporter emits ONNX nodes for the layers of layers.go, reading weights
// from the same Params in the same order.
type exporter struct {
	g   *onnx.Graph
	p   *Params
	err error
}

func (e *exporter) op(op string, inputs ...string) string {
	out := e.g.UniqueName(op)
	e.g.Node(op, inputs, []string{out})
	return out
}

func (e *exporter) const_(name string, v []float32) string {
	e.g.Initializer(name, []int64{int64(len(v))}, v)
	return name
}

// param adds a parameter as an initializer, flattening [1, D] rows to [D].
func (e *exporter) param(name string) string {
	t := e.p.Get(name)
	if t == nil {
		if e.err == nil {
			e.err = fmt.Errorf("models: export: parameter %q missing", name)
		}
		return name
	}
	shape := t.Shape()
	dims := make([]int64, 0, len(shape))
	for _, d := range shape {
		dims = append(dims, int64(d))
	}
	if len(dims) == 2 && dims[0] == 1 {
		dims = dims[1:]
	}
	e.g.Initializer(name, dims, e.p.Data(name))
	return name
}

// mlp is Graph.MLP with SiLU: per layer Linear → LayerNorm → SiLU (the
// last layer's norm and activation only when activateFinal).
func (e *exporter) mlp(name, x string, layers int, activateFinal bool) string {
	for i := 0; i < layers; i++ {
		pre := fmt.Sprintf("%s.%d", name, i)
		x = e.linear(pre+".linear", x)
		if i < layers-1 || activateFinal {
			x = e.silu(e.layerNorm(pre+".norm", x))
		}
	}
	return x
}

func (e *exporter) linear(name, x string) string {
	return e.op("Add", e.op("MatMul", x, e.param(name+".weight")), e.param(name+".bias"))
}

func (e *exporter) layerNorm(name, x string) string {
	out := e.g.UniqueName("LayerNormalization")
	e.g.Node("LayerNormalization", []string{x, e.param(name + ".weight"), e.param(name + ".bias")}, []string{out},
		onnx.AttrInt("axis", -1), onnx.AttrFloat("epsilon", LayerNormEps))
	return out
}

func (e *exporter) silu(x string) string { return e.op("Mul", x, e.op("Sigmoid", x)) }
