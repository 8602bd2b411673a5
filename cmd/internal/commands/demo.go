package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/e2hil/e2hil/dataset"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/training"
	"github.com/urfave/cli/v2"
)

// Demo is `e2hil demo`: the whole chain on the built-in simulator.
func Demo() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "train on the simulator, export ONNX, evaluate with onnxruntime into a dataset, inspect it",
		UsageText: "e2hil demo [--output_dir DIR] [--config_path FILE] [--set key=value ...]\n\n" +
			"example: e2hil demo --set policy.online_steps=3000",
		Description: "The main job, end to end on the embedded default (a simulated SO-101 touching a cube):\n" +
			"  1. train a SAC policy with Gorgonia, E2HiL sample selection on → DIR/checkpoint/\n" +
			"  2. export it to ONNX                          → DIR/policy.onnx\n" +
			"  3. evaluate a uniform-random policy and the ONNX policy (onnxruntime) on the same\n" +
			"     eval.n_episodes unseen cube positions; the policy's episodes → DIR/dataset/ (LeRobot v3.0)\n" +
			"  4. inspect that dataset\n" +
			"and ends with one line: success rate: random X% -> trained Y% over N episodes.\n" +
			"DIR (default outputs/demo) is replaced on every run.",
		Flags: append(configFlags(),
			&cli.StringFlag{Name: "output_dir", Value: filepath.Join("outputs", "demo"), Usage: "where everything goes (replaced)"},
		),
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	w := out(c)
	start := time.Now()
	l, err := loadConfig(c)
	if err != nil {
		return err
	}
	cfg := l.Config
	dir := c.String("output_dir")
	if dir == "" {
		return usagef("demo: --output_dir must not be empty")
	}
	if _, err := os.Stat(dir); err == nil {
		fmt.Fprintf(w, "replacing the previous demo output in %s\n", dir)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	cfg.OutputDir = dir
	ckpt := filepath.Join(dir, "checkpoint")
	policyPath := filepath.Join(dir, "policy.onnx")
	dsDir := filepath.Join(dir, "dataset")
	n := cfg.Eval.NEpisodes

	e, err := env.NewSim(c.Context, cfg.Env)
	if err != nil {
		return err
	}
	defer e.Close(c.Context)

	fmt.Fprintf(w, "== 1/4 train: SAC (Gorgonia + OpenBLAS), sample selection %q, on the simulated SO-101, task %s, %d env steps (%s)\n",
		cfg.Policy.SampleSelection, cfg.Env.Task, cfg.Policy.OnlineSteps, l.Source)
	if _, err := training.Run(c.Context, e, cfg, training.Options{CheckpointDir: ckpt, Progress: c.App.ErrWriter}); err != nil {
		return err
	}

	fmt.Fprintln(w, "== 2/4 export: ONNX policy")
	if _, err := exportPolicy(ckpt, policyPath, w); err != nil {
		return err
	}

	fmt.Fprintf(w, "== 3/4 evaluate on %d unseen cube positions (seeds %d…%d)\n", n, cfg.Eval.Seed, cfg.Eval.Seed+int64(n)-1)
	fmt.Fprintln(w, "random policy:")
	random, err := runEpisodes(c, e, inference.NewRandomPolicy(3, uint64(cfg.Eval.Seed)), n, cfg.Eval.Seed, true, "", w)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "trained policy (onnxruntime):")
	policy, err := inference.LoadPolicy(policyPath, inference.SessionOptions{})
	if err != nil {
		return err
	}
	defer policy.Close()
	trained, err := runEpisodes(c, e, policy, n, cfg.Eval.Seed, true, dsDir, w)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "policy latency per step: p50 %s, p99 %s\n", trained.LatencyP50, trained.LatencyP99)

	fmt.Fprintf(w, "== 4/4 inspect: %s\n", dsDir)
	rep, err := dataset.Inspect(dsDir)
	if err != nil {
		return err
	}
	if err := rep.WriteText(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "demo done in %s; outputs in %s\n", time.Since(start).Round(time.Second), dir)
	fmt.Fprintf(w, "success rate: random %.1f%% -> trained %.1f%% over %d episodes\n", 100*random.SuccessRate(), 100*trained.SuccessRate(), n)
	return nil
}
