package commands

import (
	"fmt"
	"path/filepath"

	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/training"
	"github.com/urfave/cli/v2"
)

// Train is `e2hil train`.
func Train() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "train a SAC policy online against the environment (the built-in simulator by default)",
		UsageText: "e2hil train [--config_path FILE] [--set key=value ...] [--output_dir DIR] [--seed N] [--resume]\n\n" +
			"example: e2hil train --config_path configs/sim_touch_cube.json --set policy.online_steps=3000\n" +
			"         e2hil train --config_path configs/sim_touch_cube.json --set policy.sample_selection=e2hil",
		Description: "Trains online in one process: the policy acts in the environment, every transition\n" +
			"goes to the replay buffer, and the learner updates once per environment step\n" +
			"(policy.sample_selection \"e2hil\" applies E2HiL's entropy-guided selection to the actor update).\n" +
			"Writes OUTPUT_DIR/checkpoints/last (every save_freq updates, at the next episode end, and at\n" +
			"the end of the run), OUTPUT_DIR/logs/train.jsonl (one line per update; `e2hil plot OUTPUT_DIR`\n" +
			"draws it) and OUTPUT_DIR/policy.onnx. --resume continues from OUTPUT_DIR/checkpoints/last:\n" +
			"weights, optimisers, temperature, buffers and random streams, exactly as if never stopped.",
		Flags: append(configFlags(),
			&cli.StringFlag{Name: "output_dir", Usage: "output directory (overrides the config's output_dir)"},
			&cli.Int64Flag{Name: "seed", Usage: "random seed (overrides the config's seed)"},
			&cli.BoolFlag{Name: "resume", Usage: "continue from OUTPUT_DIR/checkpoints/last"},
		),
		Action: func(c *cli.Context) error {
			l, err := loadConfig(c)
			if err != nil {
				return err
			}
			cfg := l.Config
			if d := c.String("output_dir"); d != "" {
				cfg.OutputDir = d
			}
			if c.IsSet("seed") {
				cfg.Seed = c.Int64("seed")
			}
			if c.Bool("resume") {
				cfg.Resume = true
			}
			e, err := inference.NewEnv(c.Context, cfg.Env, inference.SessionOptions{})
			if err != nil {
				return err
			}
			defer e.Close(c.Context)
			fmt.Fprintf(out(c), "training on %s (env %s/%s, %d steps) → %s\n", l.Source, cfg.Env.Type, cfg.Env.Task, cfg.Policy.OnlineSteps, cfg.OutputDir)
			res, err := training.Run(c.Context, e, cfg, training.Options{Progress: c.App.ErrWriter})
			if err != nil {
				return err
			}
			policyPath := filepath.Join(cfg.OutputDir, "policy.onnx")
			if _, err := exportPolicy(res.CheckpointDir, policyPath, out(c)); err != nil {
				return err
			}
			fmt.Fprintf(out(c), "checkpoint: %s\nnext: e2hil act --policy %s\n", res.CheckpointDir, policyPath)
			return nil
		},
	}
}
