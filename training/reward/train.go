package reward

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/internal/atomicfile"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/models/safetensors"
)

// Result is what a training run ends with.
type Result struct {
	Spec       models.ClassifierSpec
	Params     *models.Params
	Validation Metrics
	Steps      int
	ONNXPath   string
	TrainSize  int
	ValSize    int
}

// Spec returns the classifier spec a config describes for the given
// cameras.
func Spec(cfg *configs.RewardClassifierTrainConfig, cameras []string) models.ClassifierSpec {
	q := cfg.Policy
	s := models.DefaultClassifierSpec(cameras...)
	s.ImageHeight, s.ImageWidth = q.ImageSize[0], q.ImageSize[1]
	s.LatentDim, s.HiddenDim, s.SpatialFeatures, s.DropoutRate = q.LatentDim, q.HiddenDim, q.ImageEmbeddingPoolingDim, q.DropoutRate
	s.TrainBackbone = q.TrainBackbone()
	if q.ModelName != "" {
		s.Backbone = models.ResNetHILSERL
	}
	return s
}

// Train runs `e2hil reward train`: loads the dataset's frames, splits the
// episodes into training and validation, trains with BCE and AdamW (grad
// clip), prints a progress line every log_freq steps and validation metrics
// every eval_freq, saves checkpoints under output_dir/checkpoints/ (NNNNNN
// and last) and exports output_dir/classifier.onnx.
func Train(ctx context.Context, cfg *configs.RewardClassifierTrainConfig, out io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cameras := cfg.Policy.ImageKeys
	if len(cameras) == 0 {
		info, err := readInfo(cfg.Dataset.Root)
		if err != nil {
			return nil, err
		}
		cameras = info
	}
	if len(cameras) != cfg.Policy.NumCameras {
		return nil, fmt.Errorf("reward: policy.num_cameras is %d, the dataset has cameras %v (set policy.image_keys)", cfg.Policy.NumCameras, cameras)
	}
	spec := Spec(cfg, cameras)
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	frames, err := LoadFrames(ctx, cfg.Dataset.Root, cameras, spec.ImageHeight, spec.ImageWidth, func(done, total int) {
		fmt.Fprintf(out, "\rloading %s: episode %d/%d", cfg.Dataset.Root, done, total)
	})
	if err != nil {
		return nil, err
	}
	train, val := frames.SplitByEpisode(cfg.ValidationFraction, uint64(cfg.Seed))
	pos := 0
	for _, i := range train {
		pos += int(frames.Labels[i])
	}
	fmt.Fprintf(out, "\rloaded %d frames in %.1fs: train %d (%d success), validation %d frames; cameras %v\n",
		frames.Len(), time.Since(start).Seconds(), len(train), pos, len(val), cameras)
	if len(train) < cfg.BatchSize || len(val) == 0 {
		return nil, fmt.Errorf("reward: %d training and %d validation frames: too few for batch_size %d", len(train), len(val), cfg.BatchSize)
	}

	p, err := spec.NewParams(uint64(cfg.Seed))
	if err != nil {
		return nil, err
	}
	if cfg.Policy.ModelName != "" {
		if err := models.LoadPretrainedResNet10(cfg.Policy.ModelName, spec.ResNet(), p); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "backbone: pretrained helper2424/resnet10 from %s, frozen\n", cfg.Policy.ModelName)
	} else {
		fmt.Fprintf(out, "backbone: ResNet-10 from scratch, %s\n", map[bool]string{true: "trained", false: "frozen (random)"}[spec.TrainBackbone])
	}
	tr, err := NewTrainer(spec, p, Options{Batch: cfg.BatchSize, LR: cfg.Policy.LearningRate, WeightDecay: cfg.Policy.WeightDecay,
		GradClipNorm: cfg.Optimizer.GradClipNorm, Seed: uint64(cfg.Seed)})
	if err != nil {
		return nil, err
	}
	defer tr.Close()

	logs, err := openLog(cfg.OutputDir)
	if err != nil {
		return nil, err
	}
	defer logs.Close()
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xba7c))
	n := cfg.BatchSize
	images := make([][]float32, len(cameras))
	for i := range images {
		images[i] = make([]float32, n*3*spec.ImageHeight*spec.ImageWidth)
	}
	labels, idx := make([]float32, n), make([]int, n)
	res := &Result{Spec: spec, Params: p, TrainSize: len(train), ValSize: len(val)}
	var winLoss float64
	var winCorrect, winN int
	t0 := time.Now()
	for step := 1; step <= cfg.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i := range idx {
			idx[i] = train[rng.IntN(len(train))]
		}
		frames.Fill(idx, images, labels)
		r, err := tr.Step(images, labels)
		if err != nil {
			return nil, fmt.Errorf("reward: step %d: %w", step, err)
		}
		winLoss += r.Loss
		winCorrect += r.Correct
		winN++
		if step%cfg.LogFreq == 0 || step == cfg.Steps {
			el := time.Since(t0).Seconds()
			rate := float64(step) / el
			fmt.Fprintf(out, "step %d/%d  loss %.4f  train acc %5.1f%%  grad %.3g  %.2f steps/s  ETA %s\n", step, cfg.Steps,
				winLoss/float64(winN), 100*float64(winCorrect)/float64(winN*n), r.GradNorm, rate,
				(time.Duration(float64(cfg.Steps-step)/rate) * time.Second).Round(time.Second))
			logs.write(map[string]any{"step": step, "loss": winLoss / float64(winN), "accuracy": 100 * float64(winCorrect) / float64(winN*n), "grad_norm": r.GradNorm})
			winLoss, winCorrect, winN = 0, 0, 0
		}
		if step%cfg.EvalFreq == 0 || step == cfg.Steps {
			m, err := validate(spec, p, frames, val, n)
			if err != nil {
				return nil, err
			}
			res.Validation, res.Steps = m, step
			fmt.Fprintf(out, "eval step %d: validation accuracy %.2f%% (%d/%d)  precision %.3f  recall %.3f  F1 %.3f  loss %.4f\n",
				step, m.Accuracy, m.Correct, m.Total, m.Precision, m.Recall, m.F1, m.Loss)
			logs.write(map[string]any{"step": step, "eval": m})
		}
		if step%cfg.SaveFreq == 0 || step == cfg.Steps {
			if err := saveCheckpoint(cfg, spec, p, step, res.Validation); err != nil {
				return nil, err
			}
		}
	}
	model, err := spec.ExportONNX(p)
	if err != nil {
		return nil, err
	}
	res.ONNXPath = filepath.Join(cfg.OutputDir, "classifier.onnx")
	if err := os.WriteFile(res.ONNXPath, model, 0o644); err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	fmt.Fprintf(out, "exported %s\n", res.ONNXPath)
	return res, nil
}

func readInfo(root string) ([]string, error) {
	d, err := openDataset(root)
	if err != nil {
		return nil, err
	}
	return ImageFeatures(d), nil
}

// validate evaluates the classifier on frames idx (eval mode).
func validate(spec models.ClassifierSpec, p *models.Params, f *Frames, idx []int, batch int) (Metrics, error) {
	pr, err := spec.NewPredictor(p, batch) // rebuilt: the backbone's norms may have changed
	if err != nil {
		return Metrics{}, err
	}
	defer pr.Close()
	images := make([][]float32, len(f.Cameras))
	for i := range images {
		images[i] = make([]float32, batch*3*f.H*f.W)
	}
	labels := make([]float32, batch)
	var logits, all []float32
	for at := 0; at < len(idx); at += batch {
		k := min(batch, len(idx)-at)
		f.Fill(idx[at:at+k], images, labels[:k])
		sub := make([][]float32, len(images))
		for i := range images {
			sub[i] = images[i][:k*3*f.H*f.W]
		}
		z, err := pr.Logits(sub, k)
		if err != nil {
			return Metrics{}, err
		}
		logits = append(logits, z...)
		all = append(all, labels[:k]...)
	}
	return Evaluate(logits, all), nil
}

type logFile struct {
	f   *os.File
	enc *json.Encoder
}

func openLog(dir string) (*logFile, error) {
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "logs", "reward_train.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	return &logFile{f: f, enc: json.NewEncoder(f)}, nil
}

func (l *logFile) write(v any)  { _ = l.enc.Encode(v) } // a lost log line must not stop training
func (l *logFile) Close() error { return l.f.Close() }

// Checkpoint files.
const (
	CheckpointModel = "model.safetensors"
	CheckpointSpec  = "classifier_spec.json"
	CheckpointState = "train_state.json"
)

// saveCheckpoint writes output_dir/checkpoints/NNNNNN/ and replaces
// checkpoints/last with the same files: the parameters (with BatchNorm
// running statistics), the spec, the config and the step's metrics.
func saveCheckpoint(cfg *configs.RewardClassifierTrainConfig, spec models.ClassifierSpec, p *models.Params, step int, m Metrics) error {
	var ts []safetensors.Tensor
	for _, n := range p.Names() {
		ts = append(ts, safetensors.Tensor{Name: n, Shape: []int(p.Get(n).Shape()), Data: p.Data(n)})
	}
	specJSON, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	state, err := json.MarshalIndent(map[string]any{"step": step, "validation": m, "config": cfg}, "", "  ")
	if err != nil {
		return err
	}
	for _, name := range []string{fmt.Sprintf("%06d", step), "last"} {
		dir := filepath.Join(cfg.OutputDir, "checkpoints", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("reward: checkpoint: %w", err)
		}
		if err := safetensors.WriteFile(filepath.Join(dir, CheckpointModel), ts, map[string]string{"format": "e2hil-reward-classifier"}); err != nil {
			return fmt.Errorf("reward: checkpoint: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, CheckpointSpec), specJSON, 0o644); err != nil {
			return fmt.Errorf("reward: checkpoint: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, CheckpointState), state, 0o644); err != nil {
			return fmt.Errorf("reward: checkpoint: %w", err)
		}
	}
	return nil
}
