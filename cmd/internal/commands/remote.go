package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/training"
	"github.com/e2hil/e2hil/transport"
	"github.com/urfave/cli/v2"
	"golang.org/x/sync/errgroup"
)

func tokenFlag() cli.Flag {
	return &cli.StringFlag{Name: "token_file", Usage: "file holding the shared token (default: policy.actor_learner_config.token_file, else $" + transport.TokenEnv + ")"}
}

func resolveToken(c *cli.Context, al configs.ActorLearnerConfig) (string, error) {
	file := al.TokenFile
	if f := c.String("token_file"); f != "" {
		file = f
	}
	return transport.ResolveToken(file)
}

// Learn is `e2hil learn`: the learner of the actor–learner split.
func Learn() *cli.Command {
	return &cli.Command{
		Name:  "learn",
		Usage: "serve as the learner: train SAC from the transitions actors send over gRPC and push them policies",
		UsageText: "e2hil learn [--config_path FILE] [--set key=value ...] [--output_dir DIR] [--resume] [--token_file FILE]\n\n" +
			"example: e2hil learn --config_path configs/sim_touch_cube.json --set policy.actor_learner_config.policy_parameters_push_frequency=2",
		Description: "Listens on policy.actor_learner_config's learner_host:learner_port (127.0.0.1:50051 by default;\n" +
			"any other host needs a token, from --token_file or $" + transport.TokenEnv + "), stores every valid\n" +
			"transition from any number of `e2hil actor`s, trains, checkpoints every save_freq updates and\n" +
			"on Ctrl-C, and pushes the current ONNX policy every policy_parameters_push_frequency seconds.\n" +
			"--resume continues from OUTPUT_DIR/checkpoints/last (after a crash or a restart).",
		Flags: append(configFlags(),
			&cli.StringFlag{Name: "output_dir", Usage: "output directory (overrides the config's output_dir)"},
			&cli.BoolFlag{Name: "resume", Usage: "continue from OUTPUT_DIR/checkpoints/last"},
			tokenFlag(),
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
			if c.Bool("resume") {
				cfg.Resume = true
			}
			al := cfg.Policy.ActorLearnerConfig
			token, err := resolveToken(c, al)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			// The learner never steps the env; it builds one only to learn
			// its layout and bounds.
			e, err := env.New(ctx, cfg.Env)
			if err != nil {
				return err
			}
			spec := e.Spec()
			if err := e.Close(ctx); err != nil {
				return err
			}
			res, err := training.Serve(ctx, cfg, training.ServeOptions{
				Spec: spec, Token: token, Progress: c.App.ErrWriter,
				OnListen: func(s *transport.Server) {
					fmt.Fprintf(out(c), "learner on %s (env %s/%s) → %s; stop with Ctrl-C\n", s.Addr(), cfg.Env.Type, cfg.Env.Task, cfg.OutputDir)
				},
			})
			if err != nil {
				return err
			}
			policyPath := filepath.Join(cfg.OutputDir, "policy.onnx")
			if _, err := exportPolicy(res.CheckpointDir, policyPath, out(c)); err != nil {
				return err
			}
			fmt.Fprintf(out(c), "received %d transitions, %d updates, %d policies pushed; checkpoint: %s\n",
				res.Received, res.Updates, res.Pushes, res.CheckpointDir)
			return nil
		},
	}
}

// Actor is `e2hil actor`: one robot's actor of the actor–learner split.
func Actor() *cli.Command {
	return &cli.Command{
		Name:  "actor",
		Usage: "connect to an `e2hil learn` learner: run its latest policy in the environment and send it every transition",
		UsageText: "e2hil actor [--config_path FILE] [--set key=value ...] [--actor_id NAME] [--episodes N] [--fast] [--token_file FILE]\n\n" +
			"example: e2hil actor --config_path configs/sim_touch_cube.json --actor_id arm-left",
		Description: "Dials policy.actor_learner_config's learner_host:learner_port, waits for the first policy,\n" +
			"then runs episodes at the env's fps (or as fast as possible with --fast), swapping in each\n" +
			"policy the learner pushes at the next episode start. Transitions are sent in batches; while\n" +
			"the learner is away the actor keeps running, buffers up to actor_buffer_capacity transitions\n" +
			"(dropping the oldest past it) and reconnects with exponential backoff.",
		Flags: append(configFlags(),
			&cli.StringFlag{Name: "actor_id", Usage: "name in the learner's logs (default: host-pid)"},
			&cli.IntFlag{Name: "episodes", Usage: "stop after N episodes (default: until Ctrl-C)"},
			&cli.Int64Flag{Name: "seed", Usage: "seed of the first episode (default: the config's seed)"},
			&cli.BoolFlag{Name: "fast", Usage: "run as fast as possible instead of at the env's fps"},
			&cli.IntFlag{Name: "threads", Value: 1, Usage: "onnxruntime intra-op threads"},
			tokenFlag(),
		),
		Action: func(c *cli.Context) error {
			l, err := loadConfig(c)
			if err != nil {
				return err
			}
			cfg := l.Config
			al := cfg.Policy.ActorLearnerConfig
			token, err := resolveToken(c, al)
			if err != nil {
				return err
			}
			id := c.String("actor_id")
			if id == "" {
				host, _ := os.Hostname()
				id = fmt.Sprintf("%s-%d", host, os.Getpid())
			}
			seed := cfg.Seed
			if c.IsSet("seed") {
				seed = c.Int64("seed")
			}
			ccfg := transport.DefaultClientConfig()
			ccfg.Addr, ccfg.ActorID, ccfg.Token, ccfg.TLSCA = al.Addr(), id, token, al.TLSCA
			ccfg.BufferCapacity, ccfg.BatchSize = al.ActorBufferCapacity, al.TransitionsBatchSize
			ccfg.BackoffMax = time.Duration(al.ReconnectBackoffMaxS * float64(time.Second))
			ccfg.BackoffInitial = min(ccfg.BackoffInitial, ccfg.BackoffMax)
			ccfg.Logf = func(format string, args ...any) { fmt.Fprintf(c.App.ErrWriter, format+"\n", args...) }
			client, err := transport.NewClient(ccfg)
			if err != nil {
				return err
			}
			defer client.Close()

			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			e, err := inference.NewEnv(ctx, cfg.Env, inference.SessionOptions{})
			if err != nil {
				return err
			}
			defer e.Close(context.Background())
			remote := inference.NewRemoteEnv(e, client)

			g, gctx := errgroup.WithContext(ctx)
			sendCtx, stopSending := context.WithCancel(context.Background())
			defer stopSending()
			g.Go(func() error { return client.Run(sendCtx, remote.Offer) })
			g.Go(func() error {
				defer stopSending()
				return runActor(c, gctx, remote, client, seed, c.Int("episodes"), c.Bool("fast"), c.Int("threads"))
			})
			err = g.Wait()
			st := client.Stats()
			fmt.Fprintf(out(c), "actor %s: %d transitions sent, %d dropped, %d unsent, %d policies received, %d applied\n",
				id, st.Sent, st.Dropped, st.Buffered, st.Policies, remote.Applied)
			return err
		},
	}
}

// runActor waits for the first policy, runs episodes, then gives the
// client 10 s to deliver what is left.
func runActor(c *cli.Context, ctx context.Context, remote *inference.RemoteEnv, client *transport.Client, seed int64, episodes int, fast bool, threads int) error {
	fmt.Fprintf(out(c), "waiting for the learner's first policy…\n")
	model, err := remote.FirstPolicy(ctx)
	if err != nil {
		return err
	}
	p, err := inference.NewPolicy(model, inference.SessionOptions{IntraOpThreads: threads})
	if err != nil {
		return err
	}
	defer p.Close()
	if err := checkPolicyFits(p, remote.Spec()); err != nil {
		return err
	}
	remote.SetPolicy(p)
	for ep := 0; episodes == 0 || ep < episodes; ep++ {
		rep, err := inference.Run(ctx, remote, p, inference.RunOptions{Episodes: 1, Seed: seed + int64(ep), Fast: fast, GripperCommand: 1})
		if errors.Is(err, context.Canceled) {
			break
		}
		if err != nil {
			return err
		}
		r := rep.Episodes[0]
		st := client.Stats()
		fmt.Fprintf(out(c), "  episode %3d: success %-5v after %3d steps, return %+.3f | sent %d, buffered %d, policies applied %d\n",
			ep, r.Success, r.Steps, r.Return, st.Sent, st.Buffered, remote.Applied)
	}
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Flush(fctx); err != nil {
		fmt.Fprintf(c.App.ErrWriter, "warning: %v\n", err)
	}
	return nil
}
