// Package checkpoint saves and loads a SAC learner's state as a directory:
//
//	model.safetensors     every network parameter and log_alpha
//	spec.json             the network shape (models.SACSpec)
//	train_config.json     the training config that produced it
//	training_state.json   step counters, random streams, optimiser steps
//	optimizer.safetensors Adam moments (for --resume)
//	buffers.safetensors   replay buffers (optional, for an exact --resume)
//	backbone.safetensors  the frozen ResNet-10 of a policy with cameras
//	                      (metadata: prefix, variant), for the export
//
// A checkpoint is written into a temporary sibling directory, fsynced, and
// renamed into place, so a crash leaves either the old or the new one.
package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/internal/atomicfile"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/safetensors"
	"github.com/e2hil/e2hil/training/replay"
	"github.com/e2hil/e2hil/training/sac"
)

// File names inside a checkpoint directory.
const (
	ModelFile     = "model.safetensors"
	SpecFile      = "spec.json"
	ConfigFile    = "train_config.json"
	StateFile     = "training_state.json"
	OptimizerFile = "optimizer.safetensors"
	BuffersFile   = "buffers.safetensors"
	BackboneFile  = "backbone.safetensors"
)

// State holds the counters a run resumes from.
type State struct {
	// Updates is the number of learner iterations.
	Updates int `json:"optimization_step"`
	// EnvSteps is the number of environment (interaction) steps.
	EnvSteps int `json:"interaction_step"`
	Episodes int `json:"episodes"`
	// LoopRNG is the training loop's random stream (exploration noise).
	LoopRNG []byte `json:"loop_rng,omitempty"`
	// Learner is the learner's state; its Moments go to optimizer.safetensors.
	Learner *sac.State `json:"learner,omitempty"`
	// Buffers describes buffers.safetensors (name → size and position).
	Buffers map[string]replay.Snapshot `json:"buffers,omitempty"`
}

// Checkpoint is a saved learner.
type Checkpoint struct {
	Spec     models.SACSpec
	Params   *models.Params
	LogAlpha float64
	Config   configs.TrainConfig
	State    State
	// Backbone is the frozen image backbone of a policy with cameras (nil
	// without cameras); BackboneParams its weights.
	Backbone       *models.ResNet10
	BackboneParams *models.Params
}

// Save writes c to dir, replacing any checkpoint there.
func Save(dir string, c *Checkpoint) error {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp)

	tensors := append(tensorsOf(c.Params), safetensors.Tensor{Name: "log_alpha", Shape: []int{1}, Data: []float32{float32(c.LogAlpha)}})
	if err := safetensors.WriteFile(filepath.Join(tmp, ModelFile), tensors, map[string]string{"format": "e2hil"}); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if c.Backbone != nil {
		meta := map[string]string{"format": "e2hil", "prefix": c.Backbone.Prefix, "variant": c.Backbone.Variant}
		if err := safetensors.WriteFile(filepath.Join(tmp, BackboneFile), tensorsOf(c.BackboneParams), meta); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	if l := c.State.Learner; l != nil {
		if err := writeColumns(filepath.Join(tmp, OptimizerFile), l.Moments); err != nil {
			return err
		}
	}
	if len(c.State.Buffers) > 0 {
		cols := map[string][]float32{}
		for name, b := range c.State.Buffers {
			for col, v := range b.Columns {
				cols[name+"."+col] = v
			}
		}
		if err := writeColumns(filepath.Join(tmp, BuffersFile), cols); err != nil {
			return err
		}
	}
	for name, v := range map[string]any{SpecFile: c.Spec, ConfigFile: c.Config, StateFile: c.State} {
		b, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return fmt.Errorf("checkpoint: %s: %w", name, err)
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, name), append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	// Swap: move the old checkpoint aside, the new one in, then drop the old.
	old := ""
	if _, err := os.Stat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := atomicfile.SyncDir(parent); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

// ErrNotCheckpoint is returned when a directory holds no checkpoint.
var ErrNotCheckpoint = errors.New("not an e2hil checkpoint")

// Load reads a checkpoint directory.
func Load(dir string) (*Checkpoint, error) {
	if _, err := os.Stat(filepath.Join(dir, ModelFile)); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w (no %s; checkpoints are written by `e2hil train` under output_dir/checkpoints/)", dir, ErrNotCheckpoint, ModelFile)
	}
	c := &Checkpoint{}
	for name, v := range map[string]any{SpecFile: &c.Spec, ConfigFile: &c.Config, StateFile: &c.State} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %s: %w", dir, name, err)
		}
	}
	if err := c.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %s: %w", dir, SpecFile, err)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, ModelFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	la, ok := f.Tensors["log_alpha"]
	if !ok || len(la.Data) != 1 {
		return nil, fmt.Errorf("checkpoint %s: %s lacks log_alpha", dir, ModelFile)
	}
	c.LogAlpha = float64(la.Data[0])
	values := map[string][]float32{}
	for name, t := range f.Tensors {
		if name != "log_alpha" {
			values[name] = t.Data
		}
	}
	c.Params = c.Spec.NewParams(0)
	if err := c.Params.Load(values); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if len(c.Spec.Cameras) > 0 {
		if err := c.loadBackbone(dir); err != nil {
			return nil, err
		}
	}
	if l := c.State.Learner; l != nil {
		if l.Moments, err = readColumns(filepath.Join(dir, OptimizerFile)); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
		}
	}
	if len(c.State.Buffers) > 0 {
		cols, err := readColumns(filepath.Join(dir, BuffersFile))
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
		}
		for name, b := range c.State.Buffers {
			b.Columns = map[string][]float32{}
			for key, v := range cols {
				if col, ok := strings.CutPrefix(key, name+"."); ok {
					b.Columns[col] = v
				}
			}
			c.State.Buffers[name] = b
		}
	}
	return c, nil
}

// loadBackbone reads backbone.safetensors and checks it against the
// policy's cameras.
func (c *Checkpoint) loadBackbone(dir string) error {
	path := filepath.Join(dir, BackboneFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return fmt.Errorf("checkpoint %s: the policy has cameras: %w", dir, err)
	}
	r := &models.ResNet10{Prefix: f.Metadata["prefix"], Variant: f.Metadata["variant"]}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	p := models.NewParams()
	if err := r.AddParams(p, nil); err != nil { // names and shapes; filled below
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	for _, name := range p.Names() {
		t, ok := f.Tensors[name]
		if !ok {
			return fmt.Errorf("checkpoint %s: tensor %q missing", path, name)
		}
		if shape := p.Get(name).Shape(); !slices.Equal(t.Shape, []int(shape)) {
			return fmt.Errorf("checkpoint %s: tensor %q has shape %v, want %v", path, name, t.Shape, shape)
		}
		copy(p.Data(name), t.Data)
	}
	if len(f.Tensors) != len(p.Names()) {
		return fmt.Errorf("checkpoint %s: %d tensors, a ResNet-10 (%s) has %d", path, len(f.Tensors), r.Variant, len(p.Names()))
	}
	c.Backbone, c.BackboneParams = r, p
	return nil
}

// tensorsOf lists p's parameters for safetensors, in p's order.
func tensorsOf(p *models.Params) []safetensors.Tensor {
	var out []safetensors.Tensor
	for _, name := range p.Names() {
		out = append(out, safetensors.Tensor{Name: name, Shape: p.Get(name).Shape().Clone(), Data: p.Data(name)})
	}
	return out
}

// writeColumns stores named float32 vectors as 1-D safetensors tensors.
func writeColumns(path string, cols map[string][]float32) error {
	names := make([]string, 0, len(cols))
	for n := range cols {
		names = append(names, n)
	}
	sort.Strings(names)
	tensors := make([]safetensors.Tensor, 0, len(names))
	for _, n := range names {
		tensors = append(tensors, safetensors.Tensor{Name: n, Shape: []int{len(cols[n])}, Data: cols[n]})
	}
	if err := safetensors.WriteFile(path, tensors, map[string]string{"format": "e2hil"}); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

func readColumns(path string) (map[string][]float32, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]float32, len(f.Tensors))
	for name, t := range f.Tensors {
		out[name] = t.Data
	}
	return out, nil
}
