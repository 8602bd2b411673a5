package commands

import (
	"fmt"
	"path/filepath"

	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/training"
	"github.com/urfave/cli/v2"
)

// Train is `e2hil train`.
func Train() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "train a SAC policy online against the environment (the built-in simulator by default)",
		UsageText: "e2hil train [--config_path FILE] [--set key=value ...] [--output_dir DIR]\n\n" +
			"example: e2hil train --config_path configs/sim_touch_cube.json --set policy.online_steps=3000",
		Description: "Trains online in one process: the policy acts in the environment, every transition\n" +
			"goes to the replay buffer, and the learner updates once per environment step.\n" +
			"Checkpoints go to OUTPUT_DIR/checkpoints/last (every save_freq updates and at the end),\n" +
			"metrics to OUTPUT_DIR/logs/train.jsonl.",
		Flags: append(configFlags(),
			&cli.StringFlag{Name: "output_dir", Usage: "output directory (overrides the config's output_dir)"},
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
			e, err := env.NewSim(c.Context, cfg.Env)
			if err != nil {
				return err
			}
			defer e.Close(c.Context)
			fmt.Fprintf(out(c), "training on %s (env %s/%s, %d steps) → %s\n", l.Source, cfg.Env.Type, cfg.Env.Task, cfg.Policy.OnlineSteps, cfg.OutputDir)
			res, err := training.Run(c.Context, e, cfg, training.Options{Progress: c.App.ErrWriter})
			if err != nil {
				return err
			}
			fmt.Fprintf(out(c), "checkpoint: %s\nnext: e2hil export-onnx --checkpoint %s --out %s\n",
				res.CheckpointDir, res.CheckpointDir, filepath.Join(cfg.OutputDir, "policy.onnx"))
			return nil
		},
	}
}
