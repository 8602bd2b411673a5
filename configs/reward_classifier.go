package configs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
)

// RewardClassifierTrainConfig is the config of `e2hil reward train`:
// LeRobot's reward_classifier_train_config.json (a TrainPipelineConfig with
// a reward_classifier policy, HILSERL.md §5), plus e2hil's eval and split
// keys.
type RewardClassifierTrainConfig struct {
	OutputDir string        `json:"output_dir"`
	JobName   string        `json:"job_name"`
	Seed      int64         `json:"seed"`
	BatchSize int           `json:"batch_size"`
	Steps     int           `json:"steps"`
	LogFreq   int           `json:"log_freq"`
	SaveFreq  int           `json:"save_freq"`
	Dataset   DatasetConfig `json:"dataset"`
	// EvalFreq: validation metrics every this many steps (and at the end).
	EvalFreq int `json:"eval_freq"`
	// ValidationFraction of the episodes is held out for validation.
	ValidationFraction float64                `json:"validation_fraction"`
	Policy             RewardClassifierConfig `json:"policy"`
	Optimizer          RewardOptimizerConfig  `json:"optimizer"`
}

// RewardClassifierConfig is LeRobot's RewardClassifierConfig.
type RewardClassifierConfig struct {
	Type string `json:"type"` // "reward_classifier"
	// ModelName is a local directory holding Hugging Face
	// helper2424/resnet10 (config.json + model.safetensors); "" trains the
	// backbone from scratch (nothing is downloaded).
	ModelName                string  `json:"model_name"`
	NumCameras               int     `json:"num_cameras"`
	NumClasses               int     `json:"num_classes"`
	HiddenDim                int     `json:"hidden_dim"`
	LatentDim                int     `json:"latent_dim"`
	ImageEmbeddingPoolingDim int     `json:"image_embedding_pooling_dim"`
	DropoutRate              float64 `json:"dropout_rate"`
	LearningRate             float64 `json:"learning_rate"`
	WeightDecay              float64 `json:"weight_decay"`
	Device                   string  `json:"device"`
	ModelType                string  `json:"model_type"`
	// FreezeBackbone (e2hil): null means frozen with pretrained weights,
	// trained without.
	FreezeBackbone *bool `json:"freeze_backbone"`
	// ImageKeys (e2hil): the camera features, in order; empty means the
	// dataset's image and video features sorted by name.
	ImageKeys []string `json:"image_keys"`
	// ImageSize (e2hil): [height, width] the frames are resized to.
	ImageSize [2]int `json:"image_size"`
}

// RewardOptimizerConfig is the optimizer preset's overridable part.
type RewardOptimizerConfig struct {
	GradClipNorm float64 `json:"grad_clip_norm"`
}

// DefaultRewardClassifierTrainConfig: LeRobot's defaults and its docs'
// example (batch 16, 5000 steps, log every 10, save every 1000, grad clip
// 10, seed 2).
func DefaultRewardClassifierTrainConfig() RewardClassifierTrainConfig {
	return RewardClassifierTrainConfig{
		OutputDir: "outputs/reward_classifier", JobName: "reward_classifier", Seed: 2,
		BatchSize: 16, Steps: 5000, LogFreq: 10, SaveFreq: 1000, EvalFreq: 500, ValidationFraction: 0.2,
		Policy: RewardClassifierConfig{Type: "reward_classifier", NumCameras: 2, NumClasses: 2, HiddenDim: 256, LatentDim: 256,
			ImageEmbeddingPoolingDim: 8, DropoutRate: 0.1, LearningRate: 1e-4, WeightDecay: 0.01, Device: "cpu", ModelType: "cnn",
			ImageSize: [2]int{128, 128}},
		Optimizer: RewardOptimizerConfig{GradClipNorm: 10},
	}
}

// Validate reports every problem with its JSON path.
func (c *RewardClassifierTrainConfig) Validate() error {
	var p Problems
	p.check(c.OutputDir != "", "output_dir", "must not be empty")
	p.check(c.BatchSize >= 2, "batch_size", "must be ≥ 2, got %d", c.BatchSize)
	p.check(c.Steps >= 1, "steps", "must be ≥ 1, got %d", c.Steps)
	p.check(c.LogFreq >= 1, "log_freq", "must be ≥ 1, got %d", c.LogFreq)
	p.check(c.SaveFreq >= 1, "save_freq", "must be ≥ 1, got %d", c.SaveFreq)
	p.check(c.EvalFreq >= 1, "eval_freq", "must be ≥ 1, got %d", c.EvalFreq)
	p.check(c.Dataset.Root != "", "dataset.root", "must name a local LeRobot dataset directory")
	p.check(c.ValidationFraction > 0 && c.ValidationFraction < 1, "validation_fraction", "must be in (0, 1), got %g", c.ValidationFraction)
	q := c.Policy
	p.check(q.Type == "reward_classifier", "policy.type", "must be \"reward_classifier\", got %q", q.Type)
	p.check(q.NumClasses == 2, "policy.num_classes", "only 2 (binary success) is implemented, got %d", q.NumClasses)
	p.check(q.NumCameras >= 1, "policy.num_cameras", "must be ≥ 1, got %d", q.NumCameras)
	p.check(len(q.ImageKeys) == 0 || len(q.ImageKeys) == q.NumCameras, "policy.image_keys", "has %d keys, num_cameras is %d", len(q.ImageKeys), q.NumCameras)
	p.check(q.HiddenDim >= 1, "policy.hidden_dim", "must be ≥ 1, got %d", q.HiddenDim)
	p.check(q.LatentDim >= 1, "policy.latent_dim", "must be ≥ 1, got %d", q.LatentDim)
	p.check(q.ImageEmbeddingPoolingDim >= 1, "policy.image_embedding_pooling_dim", "must be ≥ 1, got %d", q.ImageEmbeddingPoolingDim)
	p.check(q.DropoutRate >= 0 && q.DropoutRate < 1, "policy.dropout_rate", "must be in [0, 1), got %g", q.DropoutRate)
	p.check(q.LearningRate > 0, "policy.learning_rate", "must be > 0, got %g", q.LearningRate)
	p.check(q.WeightDecay >= 0, "policy.weight_decay", "must be ≥ 0, got %g", q.WeightDecay)
	p.check(q.Device == "" || q.Device == "cpu", "policy.device", "only \"cpu\" is supported, got %q", q.Device)
	p.check(q.ModelType == "" || q.ModelType == "cnn", "policy.model_type", "only \"cnn\" is implemented, got %q", q.ModelType)
	p.check(q.ImageSize[0] >= 32 && q.ImageSize[1] >= 32, "policy.image_size", "must be at least [32, 32], got %v", q.ImageSize)
	p.check(!(q.ModelName != "" && q.FreezeBackbone != nil && !*q.FreezeBackbone), "policy.freeze_backbone",
		"the pretrained helper2424/resnet10 backbone (GroupNorm) can only be frozen")
	p.check(c.Optimizer.GradClipNorm >= 0, "optimizer.grad_clip_norm", "must be ≥ 0, got %g", c.Optimizer.GradClipNorm)
	return p.Err()
}

// TrainBackbone says whether the backbone is trained: as set, else only
// without pretrained weights.
func (q RewardClassifierConfig) TrainBackbone() bool {
	if q.FreezeBackbone != nil {
		return !*q.FreezeBackbone
	}
	return q.ModelName == ""
}

// LoadRewardClassifierTrain reads a reward classifier train config from
// path, applying dotted overrides ("steps=200") as LoadTrain does; unknown
// keys are errors.
func LoadRewardClassifierTrain(path string, overrides []string) (*RewardClassifierTrainConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var generic map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("%s: parse JSON: %w", path, err)
	}
	if generic == nil {
		return nil, fmt.Errorf("%s: parse JSON: %w", path, errors.New("top level must be an object"))
	}
	for _, o := range overrides {
		if err := applyOverride(generic, o); err != nil {
			return nil, err
		}
	}
	c := DefaultRewardClassifierTrainConfig()
	var unknown, warnings []string
	walkKeys(generic, reflect.TypeOf(c), "", &unknown, &warnings)
	unknown = append(unknown, warnings...) // no LeRobot-only keys are tolerated here
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s: %w", path, &ValidationError{Problems: unknown})
	}
	norm, err := json.Marshal(generic)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(norm, &c); err != nil {
		return nil, fmt.Errorf("%s: decode: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}
