package commands

import (
	"fmt"
	"io"
	"time"

	"github.com/e2hil/e2hil/dataset"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/inference"
	"github.com/urfave/cli/v2"
)

// Act is `e2hil act`.
func Act() *cli.Command {
	return &cli.Command{
		Name:  "act",
		Usage: "run an ONNX policy in the environment with onnxruntime and report success and latency",
		UsageText: "e2hil act (--policy FILE.onnx | --random | --scripted) [--config_path FILE] [--episodes N] [--seed S] [--fast] [--dataset DIR]\n\n" +
			"example: e2hil act --policy outputs/demo/policy.onnx --episodes 20 --fast --dataset outputs/eval\n" +
			"example: e2hil act --scripted --config_path configs/sim_pick_cube_cameras.json --episodes 30 --fast --dataset outputs/pick_demos",
		Description: "Runs the control loop at the environment's fps (or as fast as possible with --fast),\n" +
			"prints each episode, the success rate and the policy's per-step latency (p50, p99).\n" +
			"With --dataset every episode is recorded as a LeRobot v3.0 dataset (cameras in env.cameras\n" +
			"as video features). --random runs the uniform-random baseline instead of a policy;\n" +
			"--scripted (simulator only) runs a noisy scripted expert that reads the simulator's state,\n" +
			"failing on purpose in a fraction of episodes (env.sim.expert.noise and .failure_prob,\n" +
			"e.g. --set env.sim.expert.failure_prob=0.5).",
		Flags: append(configFlags(),
			&cli.StringFlag{Name: "policy", Usage: "ONNX policy from e2hil export-onnx"},
			&cli.BoolFlag{Name: "random", Usage: "act uniformly at random (the baseline) instead of --policy"},
			&cli.BoolFlag{Name: "scripted", Usage: "run the simulator's scripted expert (noise and failures from env.sim.expert) instead of --policy"},
			&cli.IntFlag{Name: "episodes", Usage: "number of episodes (default: the config's eval.n_episodes)"},
			&cli.Int64Flag{Name: "seed", Usage: "seed of the first episode (default: the config's eval.seed)"},
			&cli.BoolFlag{Name: "fast", Usage: "run as fast as possible instead of at the env's fps"},
			&cli.StringFlag{Name: "dataset", Usage: "record the episodes into this new LeRobot dataset directory"},
			&cli.IntFlag{Name: "threads", Value: 1, Usage: "onnxruntime intra-op threads"},
		),
		Action: func(c *cli.Context) error {
			sources := 0
			for _, on := range []bool{c.String("policy") != "", c.Bool("random"), c.Bool("scripted")} {
				if on {
					sources++
				}
			}
			if sources != 1 {
				return usagef("act: give exactly one of --policy FILE.onnx, --random or --scripted")
			}
			l, err := loadConfig(c)
			if err != nil {
				return err
			}
			cfg := l.Config
			episodes, seed := cfg.Eval.NEpisodes, cfg.Eval.Seed
			if c.IsSet("episodes") {
				episodes = c.Int("episodes")
			}
			if c.IsSet("seed") {
				seed = c.Int64("seed")
			}
			if episodes < 1 {
				return usagef("act: --episodes must be ≥ 1, got %d", episodes)
			}
			e, err := inference.NewEnv(c.Context, cfg.Env, inference.SessionOptions{})
			if err != nil {
				return err
			}
			defer e.Close(c.Context)
			var actor inference.Actor
			switch {
			case c.Bool("random"):
				actor = inference.NewRandomPolicy(3, uint64(seed))
			case c.Bool("scripted"):
				x, err := env.SimExpert(e, cfg.Env, uint64(seed))
				if err != nil {
					return err
				}
				actor = x
			default:
				p, err := inference.LoadPolicy(c.String("policy"), inference.SessionOptions{IntraOpThreads: c.Int("threads")})
				if err != nil {
					return err
				}
				defer p.Close()
				if err := checkPolicyFits(p, e.Spec()); err != nil {
					return err
				}
				actor = p
			}
			rep, err := runEpisodes(c, e, actor, episodes, seed, c.Bool("fast"), c.String("dataset"), out(c))
			if err != nil {
				return err
			}
			var ret float64
			for _, ep := range rep.Episodes {
				ret += ep.Return / float64(len(rep.Episodes))
			}
			fmt.Fprintf(out(c), "success rate: %.1f%% (%d/%d) | mean return %.1f | policy latency p50 %s p99 %s | %s\n",
				100*rep.SuccessRate(), rep.Successes, len(rep.Episodes), ret, rep.LatencyP50, rep.LatencyP99, rep.Duration.Round(time.Millisecond))
			return nil
		},
	}
}

// checkPolicyFits refuses a policy trained on other observation features.
func checkPolicyFits(p *inference.Policy, sp env.Spec) error {
	names, err := p.StateNames()
	if err != nil {
		return err
	}
	if len(names) != len(sp.StateNames) {
		return fmt.Errorf("policy expects observation.state %v, the environment gives %v", names, sp.StateNames)
	}
	for i := range names {
		if names[i] != sp.StateNames[i] {
			return fmt.Errorf("policy expects observation.state %v, the environment gives %v", names, sp.StateNames)
		}
	}
	return nil
}

// runEpisodes runs the actor loop, recording to a new dataset at dsDir if
// given, printing one line per episode.
func runEpisodes(c *cli.Context, e env.Env, actor inference.Actor, episodes int, seed int64, fast bool, dsDir string, w io.Writer) (*inference.Report, error) {
	sp := e.Spec()
	opts := inference.RunOptions{
		Episodes: episodes, Seed: seed, Fast: fast, GripperCommand: 1,
		OnEpisode: func(r inference.EpisodeResult) {
			status := "fail"
			if r.Success {
				status = "success"
			}
			plan := ""
			if x, ok := actor.(interface{ Failure() string }); ok { // the scripted expert's plan
				plan = " (scripted: " + x.Failure() + ")"
			}
			fmt.Fprintf(w, "  episode %2d: %-7s after %2d steps, return %+.3f%s\n", r.Index, status, r.Steps, r.Return, plan)
		},
	}
	var wr *dataset.Writer
	if dsDir != "" {
		var err error
		wr, err = dataset.Create(dataset.WriterConfig{
			Root: dsDir, RepoID: "e2hil/" + sp.Task + "_eval", FPS: sp.FPS, RobotType: sp.RobotType,
			Features: inference.DatasetFeatures(sp),
		})
		if err != nil {
			return nil, err
		}
		opts.Recorder = wr
	}
	rep, err := inference.Run(c.Context, e, actor, opts)
	if wr != nil {
		if cerr := wr.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, err
	}
	if dsDir != "" {
		fmt.Fprintf(w, "recorded %d episodes to %s\n", len(rep.Episodes), dsDir)
	}
	return rep, nil
}
