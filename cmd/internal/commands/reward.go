package commands

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/training/reward"
)

// Reward is `e2hil reward`: the HIL-SERL reward classifier.
func Reward() *cli.Command {
	return &cli.Command{
		Name:  "reward",
		Usage: "train HIL-SERL's reward classifier (camera frames → success probability)",
		UsageText: "e2hil reward train --config_path FILE [--set key=value ...]\n\n" +
			"example: e2hil reward train --config_path configs/reward_classifier/sim_pick_cube_cameras.json --set dataset.root=outputs/pick_demos",
		Subcommands: []*cli.Command{
			{
				Name:  "train",
				Usage: "train the reward classifier on a LeRobot dataset and export classifier.onnx",
				UsageText: "e2hil reward train --config_path FILE [--set key=value ...] [--output_dir DIR]\n\n" +
					"example: e2hil act --scripted --config_path configs/sim_pick_cube_cameras.json --episodes 40 --fast --dataset outputs/pick_demos\n" +
					"         e2hil reward train --config_path configs/reward_classifier/sim_pick_cube_cameras.json --set dataset.root=outputs/pick_demos",
				Description: "Labels every frame of dataset.root with next.reward > 0.5, holds out validation_fraction of\n" +
					"the episodes, and trains per camera ResNet-10 → spatial embeddings → Linear → LayerNorm → Tanh,\n" +
					"then Linear → Dropout → LayerNorm → ReLU → Linear, with BCE and AdamW (policy.learning_rate,\n" +
					"policy.weight_decay, optimizer.grad_clip_norm). policy.model_name names a local directory with\n" +
					"Hugging Face helper2424/resnet10 (config.json + model.safetensors): its backbone is loaded and\n" +
					"frozen; without it the backbone is trained from scratch. Prints progress every log_freq steps and\n" +
					"validation accuracy, precision, recall and F1 every eval_freq; writes OUTPUT_DIR/checkpoints/\n" +
					"{NNNNNN,last}, OUTPUT_DIR/logs/reward_train.jsonl and OUTPUT_DIR/classifier.onnx (inputs: the\n" +
					"camera features as float32 [N,3,H,W] in [0,1]; outputs probability and logits [N,1]).",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "config_path", Usage: "reward classifier train config (JSON)", Required: true},
					&cli.StringSliceFlag{Name: "set", Usage: "override a config value, e.g. --set steps=500 (repeatable)"},
					&cli.StringFlag{Name: "output_dir", Usage: "output directory (overrides the config's output_dir)"},
				},
				Action: func(c *cli.Context) error {
					cfg, err := configs.LoadRewardClassifierTrain(c.String("config_path"), c.StringSlice("set"))
					if err != nil {
						return err
					}
					if d := c.String("output_dir"); d != "" {
						cfg.OutputDir = d
					}
					fmt.Fprintf(out(c), "training the reward classifier on %s for %d steps → %s\n", cfg.Dataset.Root, cfg.Steps, cfg.OutputDir)
					res, err := reward.Train(c.Context, cfg, c.App.ErrWriter)
					if err != nil {
						return err
					}
					m := res.Validation
					fmt.Fprintf(out(c), "validation accuracy %.2f%% (%d/%d frames), precision %.3f, recall %.3f, F1 %.3f → %s\n",
						m.Accuracy, m.Correct, m.Total, m.Precision, m.Recall, m.F1, res.ONNXPath)
					return nil
				},
			},
		},
	}
}
