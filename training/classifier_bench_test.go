package training

import (
	"math/rand/v2"
	"testing"

	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/reward"
)

// BenchmarkClassifierTrainStep matches classifier_train_step_ms (Frozen) and
// classifier_backbone_train_step_ms (Backbone) of
// shared/bench/reference_torch.py: one reward-classifier training step of
// HIL-SERL's network, batch 16, 2 cameras of 3×128×128 images in [0, 1],
// random 0/1 labels. Per camera the ResNet-10 (BatchNorm variant, shared by
// both cameras) → spatial embeddings (8) → Dropout(0.1) → Linear(4096→256)
// → LayerNorm → Tanh; head Linear(512→256) → Dropout → LayerNorm → ReLU →
// Linear(→1); BCE with logits, grad clip 10, Adam lr 1e-4 (weight decay 0).
// Frozen: the backbone in eval mode without gradients, run every step (as
// the reference's torch.no_grad forward), both cameras in one batch of 32
// (the reference runs two batches of 16; eval-mode norms make the results
// the same); Backbone: trained too, BatchNorm in train mode, one batch per
// camera as the reference. Each step includes normalising the images (ImageNet
// mean/std), which the reference leaves out (its inputs are fed as is).
func BenchmarkClassifierTrainStep(b *testing.B) {
	const batch = 16
	for _, tc := range []struct {
		name  string
		train bool
	}{{"Frozen", false}, {"Backbone", true}} {
		b.Run(tc.name, func(b *testing.B) {
			spec := models.DefaultClassifierSpec("observation.images.front", "observation.images.wrist")
			spec.TrainBackbone = tc.train
			p, err := spec.NewParams(0)
			if err != nil {
				b.Fatal(err)
			}
			tr, err := reward.NewTrainer(spec, p, reward.Options{Batch: batch, LR: 1e-4, GradClipNorm: 10, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			images := make([][]float32, len(spec.Cameras))
			for i := range images {
				images[i] = make([]float32, batch*3*spec.ImageHeight*spec.ImageWidth)
				for j := range images[i] {
					images[i][j] = rng.Float32()
				}
			}
			labels := make([]float32, batch)
			for i := range labels {
				labels[i] = float32(rng.IntN(2))
			}
			if _, err := tr.Step(images, labels); err != nil { // first run allocates the machine's buffers
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := tr.Step(images, labels); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
		})
	}
}
