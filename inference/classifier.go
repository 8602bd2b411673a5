package inference

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/models/onnx"
	"github.com/e2hil/e2hil/models/preprocess"
)

// RewardClassifier runs an exported reward classifier (classifier.onnx from
// e2hil reward train): camera frames in, success probability out. Not safe
// for concurrent use.
type RewardClassifier struct {
	sess  *Session
	keys  []string
	h, w  int
	preps map[string]*preprocess.Preprocessor // per camera, for its frame size
	srcHW map[string][2]int
	prob  []float32
}

// Classifier tensor names (models/export_vision.go).
const classifierOutput = "probability"

// LoadRewardClassifier reads classifier.onnx.
func LoadRewardClassifier(path string, opts SessionOptions) (*RewardClassifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load reward classifier: %w", err)
	}
	c, err := NewRewardClassifier(b, opts)
	if err != nil {
		return nil, fmt.Errorf("load reward classifier %s: %w", path, err)
	}
	return c, nil
}

// NewRewardClassifier loads a classifier from ONNX bytes and checks it.
func NewRewardClassifier(model []byte, opts SessionOptions) (*RewardClassifier, error) {
	meta, err := onnx.ReadMetadata(model)
	if err != nil {
		return nil, err
	}
	var keys []string
	var size []int
	if err := json.Unmarshal([]byte(meta["image_features"]), &keys); err != nil || len(keys) == 0 {
		return nil, fmt.Errorf("not an e2hil reward classifier: metadata image_features %q", meta["image_features"])
	}
	if err := json.Unmarshal([]byte(meta["image_size"]), &size); err != nil || len(size) != 2 || size[0] < 1 || size[1] < 1 {
		return nil, fmt.Errorf("reward classifier metadata image_size %q: want [height, width]", meta["image_size"])
	}
	sess, err := NewSession(model, opts)
	if err != nil {
		return nil, err
	}
	c := &RewardClassifier{sess: sess, keys: keys, h: size[0], w: size[1], preps: map[string]*preprocess.Preprocessor{},
		srcHW: map[string][2]int{}, prob: sess.Output(classifierOutput)}
	if c.prob == nil {
		sess.Close()
		return nil, fmt.Errorf("reward classifier has no %q output (outputs %v)", classifierOutput, sess.Outputs())
	}
	for _, k := range keys {
		if len(sess.Input(k)) != 3*c.h*c.w {
			sess.Close()
			return nil, fmt.Errorf("reward classifier input %q: want [N, 3, %d, %d]", k, c.h, c.w)
		}
	}
	return c, nil
}

// Cameras are the image features the classifier reads.
func (c *RewardClassifier) Cameras() []string { return append([]string(nil), c.keys...) }

// Probability is the success probability of one observation's frames,
// each resized to the classifier's image size (models/preprocess).
func (c *RewardClassifier) Probability(images map[string]env.Image) (float64, error) {
	for _, k := range c.keys {
		img, ok := images[k]
		if !ok {
			return 0, fmt.Errorf("reward classifier: the observation has no %s frame (configure env.cameras)", k)
		}
		p := c.preps[k]
		if hw := c.srcHW[k]; p == nil || hw != [2]int{img.H, img.W} {
			var err error
			if p, err = preprocess.New(preprocess.Config{Height: c.h, Width: c.w}, img.H, img.W); err != nil {
				return 0, fmt.Errorf("reward classifier: %s: %w", k, err)
			}
			c.preps[k], c.srcHW[k] = p, [2]int{img.H, img.W}
		}
		if err := p.Apply(c.sess.Input(k), img.Pix); err != nil {
			return 0, fmt.Errorf("reward classifier: %s: %w", k, err)
		}
	}
	if err := c.sess.Run(); err != nil {
		return 0, fmt.Errorf("reward classifier: %w", err)
	}
	return float64(c.prob[0]), nil
}

// Close releases the session.
func (c *RewardClassifier) Close() error { return c.sess.Close() }

// ClassifierReward configures ClassifierEnv: LeRobot's
// RewardClassifierProcessorStep.
type ClassifierReward struct {
	// SuccessThreshold: a probability above it is a success (0.5).
	SuccessThreshold float64
	// SuccessReward replaces the step's reward on success (1).
	SuccessReward float64
	// TerminateOnSuccess ends the episode on a success.
	TerminateOnSuccess bool
}

// ClassifierEnv wraps an environment so a reward classifier judges success
// from the cameras, as on a real robot: after every step, a frame the
// classifier calls a success gets SuccessReward (and ends the episode with
// TerminateOnSuccess); other steps keep the environment's reward.
type ClassifierEnv struct {
	env.Env
	c   *RewardClassifier
	cfg ClassifierReward
	// LastProbability is the classifier's output on the last step.
	LastProbability float64
}

// NewClassifierEnv wraps e; it checks that e has every camera c reads. The
// returned env owns c (Close closes both).
func NewClassifierEnv(e env.Env, c *RewardClassifier, cfg ClassifierReward) (*ClassifierEnv, error) {
	if !(cfg.SuccessThreshold >= 0 && cfg.SuccessThreshold <= 1) {
		return nil, fmt.Errorf("reward classifier: success_threshold %v must be in [0, 1]", cfg.SuccessThreshold)
	}
	have := map[string]bool{}
	for _, cam := range e.Spec().Cameras {
		have[cam.Key] = true
	}
	for _, k := range c.keys {
		if !have[k] {
			return nil, fmt.Errorf("reward classifier reads %s; the environment's cameras are %v (configure env.cameras)", k, e.Spec().Cameras)
		}
	}
	return &ClassifierEnv{Env: e, c: c, cfg: cfg}, nil
}

// Step steps the environment and lets the classifier judge the result.
func (e *ClassifierEnv) Step(ctx context.Context, action []float32) (env.StepResult, error) {
	st, err := e.Env.Step(ctx, action)
	if err != nil {
		return st, err
	}
	p, err := e.c.Probability(st.Observation.Images)
	if err != nil {
		return st, err
	}
	e.LastProbability = p
	if p > e.cfg.SuccessThreshold {
		st.Reward, st.Success = e.cfg.SuccessReward, true
		if e.cfg.TerminateOnSuccess {
			st.Terminated = true
		}
	}
	return st, nil
}

// Close closes the environment and the classifier.
func (e *ClassifierEnv) Close(ctx context.Context) error {
	err := e.Env.Close(ctx)
	if cerr := e.c.Close(); err == nil {
		err = cerr
	}
	return err
}

// NewEnv builds the environment cfg describes (env.New) and, when
// env.processor.reward_classifier.pretrained_path is set, wraps it in a
// ClassifierEnv running that classifier (a classifier.onnx file, or a
// directory holding one).
func NewEnv(ctx context.Context, cfg configs.EnvConfig, opts SessionOptions) (env.Env, error) {
	e, err := env.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rc := cfg.Processor.RewardClassifier
	if rc.PretrainedPath == "" {
		return e, nil
	}
	path := rc.PretrainedPath
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "classifier.onnx")
	}
	c, err := LoadRewardClassifier(path, opts)
	if err == nil {
		var ce *ClassifierEnv
		if ce, err = NewClassifierEnv(e, c, ClassifierReward{SuccessThreshold: rc.SuccessThreshold, SuccessReward: rc.SuccessReward,
			TerminateOnSuccess: cfg.Processor.Reset.TerminateOnSuccess}); err == nil {
			return ce, nil
		}
		c.Close()
	}
	e.Close(ctx)
	return nil, fmt.Errorf("env.processor.reward_classifier: %w", err)
}
