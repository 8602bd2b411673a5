package training

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/checkpoint"
	"github.com/e2hil/e2hil/training/replay"
	"github.com/e2hil/e2hil/training/sac"
	"github.com/e2hil/e2hil/transport"
)

// ServeOptions configure Serve beyond the train config.
type ServeOptions struct {
	// Spec is the environment the actors run (state and action layout,
	// action bounds, fps); the learner builds its networks from it and
	// rejects transitions that do not fit it.
	Spec env.Spec
	// Addr overrides policy.actor_learner_config's host:port (tests bind
	// port 0).
	Addr string
	// Token is the shared token actors must present ("" when none).
	Token string
	// CheckpointDir receives the checkpoint (default output_dir/checkpoints/last).
	CheckpointDir string
	// Progress receives a status line every StatusEvery (nil: silent),
	// with per-actor rates and intervention rates.
	Progress    io.Writer
	StatusEvery time.Duration
	// Offline holds demonstrations, as in Options.
	Offline []replay.Transition
	// SkipBuffers leaves the replay buffers out of checkpoints.
	SkipBuffers bool
	// OnListen, when set, is called once the server listens (tests read
	// its address and counters).
	OnListen func(*transport.Server)
}

// ServeResult summarises a learner's run.
type ServeResult struct {
	Result
	// Received counts the transitions added to the replay buffer since
	// this process started (EnvSteps also counts those of resumed runs).
	Received int
	// Pushes counts policies published.
	Pushes int
	// Transport is the server's final counters.
	Transport transport.ServerStats
}

// Serve is the learner of HIL-SERL's actor–learner split (HILSERL.md §2):
// it serves policy.actor_learner_config's address, adds the transitions
// actors send to the replay buffers (interventions to both), runs one
// learner iteration per transition received once online_step_before_learning
// are stored (the ratio Run keeps), checkpoints every save_freq updates and
// on exit, and publishes the exported ONNX policy at start and every
// policy_parameters_push_frequency seconds. With cfg.Resume it continues
// from its checkpoint. It returns when ctx ends (the normal way to stop a
// server) or policy.online_steps transitions have been received.
func Serve(ctx context.Context, cfg configs.TrainConfig, opts ServeOptions) (*ServeResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sac.UseBLAS()
	es := opts.Spec
	if len(es.StateNames) == 0 || len(es.ActionNames) == 0 || len(es.ActionLow) != len(es.ActionNames) || len(es.ActionHigh) != len(es.ActionNames) {
		return nil, fmt.Errorf("training: serve: the env spec needs state names, action names and action bounds (got %d, %d, %d/%d)",
			len(es.StateNames), len(es.ActionNames), len(es.ActionLow), len(es.ActionHigh))
	}
	al := cfg.Policy.ActorLearnerConfig
	ls, err := newLearnerSetup(cfg, es, opts.Offline, nil)
	if err != nil {
		return nil, err
	}
	if ls.cameras != nil {
		return nil, fmt.Errorf("training: the gRPC learner does not carry camera frames yet; train with cameras in-process (e2hil train)")
	}
	spec, learner, online, offline, sampler := ls.spec, ls.learner, ls.online, ls.offline, ls.sampler
	nStored := spec.ActionDim + min(spec.NumDiscrete, 1)
	if opts.CheckpointDir == "" {
		opts.CheckpointDir = filepath.Join(cfg.OutputDir, "checkpoints", "last")
	}
	// The learner draws no exploration noise itself; the stream is kept so
	// that its checkpoints resume with Run as well.
	pcg := rand.NewPCG(uint64(cfg.Seed), 0xac7)
	res := &ServeResult{Result: Result{CheckpointDir: opts.CheckpointDir}}
	if cfg.Resume {
		if err := resume(opts.CheckpointDir, spec, learner, pcg, online, offline, &res.Result); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(opts.CheckpointDir, checkpoint.StateFile)); err == nil {
		// A learner restarted without resume would overwrite what it
		// learnt at its first checkpoint (LeRobot refuses too).
		return nil, fmt.Errorf("training: serve: %s holds a checkpoint: set resume (--resume) to continue from it, or choose another output_dir", opts.CheckpointDir)
	}

	logPath := filepath.Join(cfg.OutputDir, "logs", "learner.jsonl")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	defer logFile.Close()
	logEnc := json.NewEncoder(logFile)

	scfg := transport.DefaultServerConfig()
	scfg.Addr = al.Addr()
	if opts.Addr != "" {
		scfg.Addr = opts.Addr
	}
	scfg.Token, scfg.TLSCert, scfg.TLSKey = opts.Token, al.TLSCert, al.TLSKey
	scfg.Schema = transport.Schema{StateDim: spec.StateDim, ActionLow: es.ActionLow, ActionHigh: es.ActionHigh}
	if opts.Progress != nil {
		w := opts.Progress
		scfg.Logf = func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	}
	srv, err := transport.Listen(scfg)
	if err != nil {
		return nil, fmt.Errorf("training: serve: %w", err)
	}
	sctx, stopServer := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()
	// stop ends the server and waits for its handlers, so that every
	// acknowledged batch is in the queue for the final drain.
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		stopServer()
		return <-served
	}
	defer stop()
	if opts.OnListen != nil {
		opts.OnListen(srv)
	}

	save := func() error {
		st := checkpoint.State{Updates: res.Updates, EnvSteps: res.EnvSteps, Episodes: res.Episodes}
		var err error
		if st.LoopRNG, err = pcg.MarshalBinary(); err != nil {
			return err
		}
		if st.Learner, err = learner.Snapshot(); err != nil {
			return err
		}
		if !opts.SkipBuffers {
			st.Buffers = map[string]replay.Snapshot{"online": online.Snapshot(), "offline": offline.Snapshot()}
		}
		return checkpoint.Save(opts.CheckpointDir, &checkpoint.Checkpoint{
			Spec: spec, Params: learner.Param, LogAlpha: learner.LogAlpha, Config: cfg, State: st,
		})
	}
	push := func() error {
		model, err := spec.ExportPolicy(learner.Param, models.PolicyExportInfo{FPS: es.FPS, ActionLow: spec.ActionLow(), ActionHigh: spec.ActionHigh()})
		if err != nil {
			return fmt.Errorf("training: export policy: %w", err)
		}
		if _, err := srv.Publish(model); err != nil {
			return err
		}
		res.Pushes++
		return nil
	}
	add := func(b transport.Batch) error {
		for _, t := range b.Transitions {
			tr := replay.Transition{
				State: t.State, Action: t.Action[:nStored], Reward: t.Reward,
				NextState: t.NextState, Done: t.Done, Human: t.Intervention,
			}
			if tr.Human {
				if err := offline.Add(tr); err != nil {
					return fmt.Errorf("training: actor %s: %w", b.ActorID, err)
				}
			}
			if err := online.Add(tr); err != nil {
				return fmt.Errorf("training: actor %s: %w", b.ActorID, err)
			}
			res.EnvSteps++
			res.Received++
			if t.Done || t.Truncated {
				res.Episodes++
			}
		}
		return nil
	}

	if err := push(); err != nil {
		return nil, err
	}
	period := time.Duration(al.PolicyParametersPushFrequency * float64(time.Second))
	pushT := time.NewTicker(period)
	defer pushT.Stop()
	if opts.StatusEvery <= 0 {
		opts.StatusEvery = 10 * time.Second
	}
	statusT := time.NewTicker(opts.StatusEvery)
	defer statusT.Stop()
	st := newStatus(opts.Progress)
	var recent []bool
	var returns []float64
	start := time.Now()
	owed := 0 // learner iterations due: one per transition received
	pushedAt := res.Updates
	for res.EnvSteps < cfg.Policy.OnlineSteps && ctx.Err() == nil {
		var idle <-chan time.Time // nil: wait for traffic
		if owed > 0 && online.Len() >= cfg.Policy.OnlineStepBeforeLearning {
			c := make(chan time.Time, 1)
			c <- time.Time{}
			idle = c
		}
		select {
		case <-ctx.Done():
		case b := <-srv.Batches():
			n := res.EnvSteps
			if err := add(b); err != nil {
				return nil, err
			}
			owed += res.EnvSteps - n
		case in := <-srv.Interactions():
			recent = appendCapped(recent, in.Success, 20)
			returns = appendCapped(returns, in.Reward, 10)
			st.interaction(in)
		case <-pushT.C:
			if res.Updates == pushedAt {
				break // nothing new to push
			}
			pushedAt = res.Updates
			if err := push(); err != nil {
				return nil, err
			}
		case <-statusT.C:
			st.print(res, srv.Stats(), online.Len())
		case <-idle:
			m, err := learner.Update(sampler)
			if err != nil {
				return nil, err
			}
			owed--
			res.Updates++
			if res.Updates%cfg.LogFreq == 0 {
				rec := logRecord(&res.Result, m, rate(recent), mean(returns), time.Since(start), 0)
				rec["received"] = res.Received
				if err := logEnc.Encode(rec); err != nil {
					return nil, fmt.Errorf("training: %s: %w", logPath, err)
				}
			}
			if cfg.SaveCheckpoint && res.Updates%cfg.SaveFreq == 0 {
				if err := save(); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := stop(); err != nil {
		return nil, err
	}
	// Everything acknowledged to an actor is in the buffer before the
	// final checkpoint.
	for drained := false; !drained; {
		select {
		case b := <-srv.Batches():
			if err := add(b); err != nil {
				return nil, err
			}
		default:
			drained = true
		}
	}
	res.RecentSuccessRate, res.RecentReturn = rate(recent), mean(returns)
	res.Duration = time.Since(start)
	res.Transport = srv.Stats()
	st.print(res, res.Transport, online.Len())
	if err := save(); err != nil {
		return nil, err
	}
	return res, nil
}

// status prints the learner's per-actor and total rates.
type status struct {
	w     io.Writer
	last  time.Time
	prev  map[string]int64
	total int64
	// success per actor over its episodes, from the episode statistics.
	episodes, successes map[string]int
}

func newStatus(w io.Writer) *status {
	return &status{w: w, last: time.Now(), prev: map[string]int64{}, episodes: map[string]int{}, successes: map[string]int{}}
}

func (s *status) interaction(in transport.Interaction) {
	s.episodes[in.ActorID]++
	if in.Success {
		s.successes[in.ActorID]++
	}
}

func (s *status) print(r *ServeResult, ts transport.ServerStats, bufLen int) {
	if s.w == nil {
		return
	}
	now := time.Now()
	dt := now.Sub(s.last).Seconds()
	s.last = now
	ids := make([]string, 0, len(ts.Actors))
	for id := range ts.Actors {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var parts []string
	for _, id := range ids {
		a := ts.Actors[id]
		rate := float64(a.Transitions-s.prev[id]) / max(dt, 1e-9)
		s.prev[id] = a.Transitions
		ir := 0.0
		if a.Transitions > 0 {
			ir = float64(a.Interventions) / float64(a.Transitions)
		}
		parts = append(parts, fmt.Sprintf("%s %d (%.0f/s, interventions %.0f%%, %d/%d episodes successful)",
			id, a.Transitions, rate, 100*ir, s.successes[id], s.episodes[id]))
	}
	totalRate := float64(ts.Received-s.total) / max(dt, 1e-9)
	s.total = ts.Received
	var rejected int64
	for _, n := range ts.Rejected {
		rejected += n
	}
	fmt.Fprintf(s.w, "learner: %d transitions (%.0f/s), %d updates, buffer %d, %d policies pushed, %d rejected; %s\n",
		r.EnvSteps, totalRate, r.Updates, bufLen, r.Pushes, rejected, strings.Join(parts, "; "))
}
