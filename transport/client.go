package transport

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"

	pb "github.com/e2hil/e2hil/transport/transportpb"
)

// ClientConfig configures an actor's connection to the learner.
type ClientConfig struct {
	// Addr is the learner's host:port.
	Addr string
	// ActorID names this actor in the learner's logs and counts.
	ActorID string
	// Token is sent on every RPC when set.
	Token string
	// TLSCA (PEM path) enables TLS, trusting that CA; TLSServerName
	// overrides the name checked in the learner's certificate.
	TLSCA, TLSServerName string
	// BufferCapacity bounds the transitions waiting to be sent; past it the
	// oldest are dropped (counted, with a warning). Up to 8×BatchSize more
	// may be in flight, kept until the learner acknowledges them.
	BufferCapacity int
	// BatchSize is the most transitions in one batch message.
	BatchSize int
	// FlushInterval is how often waiting transitions are sent.
	FlushInterval time.Duration
	// BackoffInitial and BackoffMax bound the exponential wait between
	// reconnection attempts.
	BackoffInitial, BackoffMax time.Duration
	// CallTimeout is the deadline of Ready and of one flush.
	CallTimeout time.Duration
	// Logf receives warnings; nil: silent.
	Logf func(format string, args ...any)
}

// DefaultClientConfig connects to 127.0.0.1:50051.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		Addr: "127.0.0.1:50051", ActorID: "actor-0",
		BufferCapacity: 20_000, BatchSize: 256, FlushInterval: 100 * time.Millisecond,
		BackoffInitial: 100 * time.Millisecond, BackoffMax: 5 * time.Second, CallTimeout: 10 * time.Second,
	}
}

// Validate reports every problem with the config.
func (c ClientConfig) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("transport: "+format, args...))
		}
	}
	check(c.Addr != "", "addr must be set")
	check(c.ActorID != "", "actor id must be set")
	check(c.BufferCapacity >= 1, "buffer capacity must be ≥ 1, got %d", c.BufferCapacity)
	check(c.BatchSize >= 1, "batch size must be ≥ 1, got %d", c.BatchSize)
	check(c.FlushInterval > 0, "flush interval must be > 0, got %v", c.FlushInterval)
	check(c.BackoffInitial > 0 && c.BackoffInitial <= c.BackoffMax, "backoff must satisfy 0 < initial (%v) ≤ max (%v)", c.BackoffInitial, c.BackoffMax)
	check(c.CallTimeout > 0, "call timeout must be > 0, got %v", c.CallTimeout)
	return errors.Join(errs...)
}

// ClientStats is a snapshot of an actor's counters.
type ClientStats struct {
	// Sent counts transitions the learner acknowledged.
	Sent int64
	// Dropped counts transitions dropped because the buffer was full.
	Dropped int64
	// Buffered counts transitions waiting (or in flight).
	Buffered int
	// Policies counts policies received.
	Policies int64
	// Failures counts failed calls (each followed by a backoff).
	Failures int64
}

// Client is an actor's end. Add and AddInteraction never block the control
// loop; Run sends in the background and receives policies.
type Client struct {
	cfg     ClientConfig
	conn    *grpc.ClientConn
	rpc     pb.LearnerServiceClient
	session uint64

	mu           sync.Mutex
	pending      []Transition // oldest first
	interactions []Interaction
	inflight     int                   // transitions in unacked
	unacked      []*pb.TransitionBatch // taken from pending, not yet acknowledged
	progress     chan struct{}         // closed and replaced after each send
	seq          uint64

	wake                              chan struct{}
	sent, dropped, policies, failures atomic.Int64
}

// NewClient validates cfg and prepares the connection; nothing is dialled
// until a call needs it.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if cfg.TLSCA != "" {
		var err error
		if creds, err = credentials.NewClientTLSFromFile(cfg.TLSCA, cfg.TLSServerName); err != nil {
			return nil, fmt.Errorf("transport: tls ca %s: %w", cfg.TLSCA, err)
		}
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: cfg.BackoffInitial, Multiplier: 2, Jitter: 0.2, MaxDelay: cfg.BackoffMax},
			MinConnectTimeout: cfg.CallTimeout,
		}),
	}
	if cfg.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(tokenCreds(cfg.Token)))
	}
	conn, err := grpc.NewClient(cfg.Addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("transport: learner %s: %w", cfg.Addr, err)
	}
	var seed [8]byte
	_, _ = crand.Read(seed[:])
	return &Client{
		cfg: cfg, conn: conn, rpc: pb.NewLearnerServiceClient(conn),
		session:  binary.LittleEndian.Uint64(seed[:]),
		progress: make(chan struct{}), wake: make(chan struct{}, 1),
	}, nil
}

// Close releases the connection. Call it after Run has returned.
func (c *Client) Close() error { return c.conn.Close() }

// Ready checks that the learner serves, within CallTimeout.
func (c *Client) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	if _, err := c.rpc.Ready(ctx, &pb.Empty{}); err != nil {
		return fmt.Errorf("transport: learner %s not ready: %w", c.cfg.Addr, err)
	}
	return nil
}

// Add queues t for the learner without blocking; when BufferCapacity
// transitions already wait, the oldest is dropped.
func (c *Client) Add(t Transition) {
	c.mu.Lock()
	c.pending = append(c.pending, t)
	var drop int
	if over := len(c.pending) - c.cfg.BufferCapacity; over > 0 {
		drop = over
		c.pending = c.pending[over:]
	}
	full := len(c.pending) >= c.cfg.BatchSize
	c.mu.Unlock()
	if drop > 0 {
		n := c.dropped.Add(int64(drop))
		if n == 1 || n%1000 == 0 {
			c.logf("transport: actor %s: learner unreachable and %d transitions buffered: dropped the oldest (%d dropped so far)",
				c.cfg.ActorID, c.cfg.BufferCapacity, n)
		}
	}
	if full {
		c.poke()
	}
}

// AddInteraction queues one episode's statistics (at most 1000 wait).
func (c *Client) AddInteraction(in Interaction) {
	in.ActorID = c.cfg.ActorID
	c.mu.Lock()
	c.interactions = append(c.interactions, in)
	if len(c.interactions) > 1000 {
		c.interactions = c.interactions[1:]
	}
	c.mu.Unlock()
	c.poke()
}

func (c *Client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	buffered := len(c.pending) + c.inflight
	c.mu.Unlock()
	return ClientStats{Sent: c.sent.Load(), Dropped: c.dropped.Load(), Buffered: buffered,
		Policies: c.policies.Load(), Failures: c.failures.Load()}
}

func (c *Client) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// Run sends queued transitions and interactions and hands each received
// policy (ONNX bytes) to onPolicy, reconnecting with exponential backoff
// whenever the learner is away, until ctx ends. An error from onPolicy is
// logged and the policy skipped. Run may be called again after it returns
// (not concurrently); what was not acknowledged is sent again.
func (c *Client) Run(ctx context.Context, onPolicy func(model []byte) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.sendLoop(ctx) })
	if onPolicy != nil {
		g.Go(func() error { return c.policyLoop(ctx, onPolicy) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Flush waits until every queued transition has been acknowledged, or ctx
// ends. Run must be running.
func (c *Client) Flush(ctx context.Context) error {
	for {
		c.mu.Lock()
		empty := len(c.pending) == 0 && c.inflight == 0 && len(c.interactions) == 0
		progress := c.progress
		c.mu.Unlock()
		if empty {
			return nil
		}
		c.poke()
		select {
		case <-progress:
		case <-ctx.Done():
			return fmt.Errorf("transport: flush: %d transitions unsent: %w", c.Stats().Buffered, ctx.Err())
		}
	}
}

type backoffTimer struct {
	initial, max time.Duration
	n            int
	rng          *rand.Rand
}

// wait sleeps the next backoff (doubling, with ±25 % jitter) or until ctx ends.
func (b *backoffTimer) wait(ctx context.Context) error {
	d := b.initial << min(b.n, 20)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.n++
	d = time.Duration(float64(d) * (0.75 + 0.5*b.rng.Float64()))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) newBackoff(stream uint64) *backoffTimer {
	return &backoffTimer{initial: c.cfg.BackoffInitial, max: c.cfg.BackoffMax, rng: rand.New(rand.NewPCG(c.session, stream))}
}

func (c *Client) sendLoop(ctx context.Context) error {
	tick := time.NewTicker(c.cfg.FlushInterval)
	defer tick.Stop()
	bo := c.newBackoff(1)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-c.wake:
		}
		for {
			// Unacknowledged batches (of this or an earlier Run) go again
			// with their sequence numbers: the learner drops what it has.
			batches, ins := c.takeBatches()
			if len(batches) == 0 && len(ins) == 0 {
				break
			}
			err := c.send(ctx, batches, ins)
			if err != nil {
				c.mu.Lock()
				c.interactions = append(ins, c.interactions...)
				c.mu.Unlock()
				n := c.failures.Add(1)
				if n == 1 || n%20 == 0 {
					c.logf("transport: actor %s: send to %s: %v (retrying with backoff, %d failures)", c.cfg.ActorID, c.cfg.Addr, err, n)
				}
				if err := bo.wait(ctx); err != nil {
					return err
				}
				continue
			}
			bo.n = 0
			var n int
			for _, b := range batches {
				n += len(b.Steps)
			}
			c.sent.Add(int64(n))
			c.mu.Lock()
			c.unacked, c.inflight = nil, 0
			close(c.progress)
			c.progress = make(chan struct{})
			c.mu.Unlock()
		}
	}
}

// takeBatches returns the unacknowledged batches, first moving up to 8
// batches of waiting transitions in flight when there are none, and the
// waiting interactions.
func (c *Client) takeBatches() ([]*pb.TransitionBatch, []Interaction) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ins := c.interactions
	c.interactions = nil
	if c.unacked != nil {
		return c.unacked, ins
	}
	var out []*pb.TransitionBatch
	for len(c.pending) > 0 && len(out) < 8 {
		n := min(len(c.pending), c.cfg.BatchSize)
		c.seq++
		b := &pb.TransitionBatch{ActorId: c.cfg.ActorID, Session: c.session, Seq: c.seq, Steps: make([]*pb.Step, n)}
		for i := range n {
			b.Steps[i] = toPB(&c.pending[i])
		}
		c.pending = c.pending[n:]
		c.inflight += n
		out = append(out, b)
	}
	c.unacked = out
	return out, ins
}

// send streams the batches and interactions within CallTimeout; success
// means the learner acknowledged all of them.
func (c *Client) send(ctx context.Context, batches []*pb.TransitionBatch, ins []Interaction) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	if len(batches) > 0 {
		st, err := c.rpc.SendTransitions(ctx)
		if err != nil {
			return err
		}
		for _, b := range batches {
			msg, err := proto.Marshal(b)
			if err != nil {
				return fmt.Errorf("transport: encode batch %d: %w", b.Seq, err)
			}
			if err := chunks(msg, ChunkSize, func(s pb.TransferState, d []byte) error {
				return st.Send(&pb.Transition{TransferState: s, Data: d})
			}); err != nil {
				return fmt.Errorf("transport: send batch %d: %w", b.Seq, err)
			}
		}
		if _, err := st.CloseAndRecv(); err != nil {
			return fmt.Errorf("transport: transitions: %w", err)
		}
	}
	if len(ins) > 0 {
		ib := &pb.InteractionBatch{}
		for _, in := range ins {
			ib.Interactions = append(ib.Interactions, &pb.Interaction{
				ActorId: in.ActorID, Episode: in.Episode, Steps: int32(in.Steps), EpisodicReward: in.Reward,
				InterventionSteps: int32(in.InterventionSteps), Success: in.Success, PolicyFrequencyHz: in.PolicyHz,
			})
		}
		msg, err := proto.Marshal(ib)
		if err != nil {
			return fmt.Errorf("transport: encode interactions: %w", err)
		}
		st, err := c.rpc.SendInteractions(ctx)
		if err != nil {
			return err
		}
		if err := chunks(msg, ChunkSize, func(s pb.TransferState, d []byte) error {
			return st.Send(&pb.InteractionMessage{TransferState: s, Data: d})
		}); err != nil {
			return fmt.Errorf("transport: send interactions: %w", err)
		}
		if _, err := st.CloseAndRecv(); err != nil {
			return fmt.Errorf("transport: interactions: %w", err)
		}
	}
	return nil
}

func (c *Client) policyLoop(ctx context.Context, onPolicy func([]byte) error) error {
	bo := c.newBackoff(2)
	for {
		// Every policy a stream brings is taken: a restarted learner
		// counts its versions from 1 again.
		err := c.receivePolicies(ctx, onPolicy, bo)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n := c.failures.Add(1)
		if n == 1 || n%20 == 0 {
			c.logf("transport: actor %s: policy stream from %s: %v (reconnecting with backoff, %d failures)", c.cfg.ActorID, c.cfg.Addr, err, n)
		}
		if err := bo.wait(ctx); err != nil {
			return err
		}
	}
}

func (c *Client) receivePolicies(ctx context.Context, onPolicy func([]byte) error, bo *backoffTimer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.rpc.StreamParameters(ctx, &pb.Empty{})
	if err != nil {
		return err
	}
	a := assembler{max: 256 << 20}
	for {
		m, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("transport: policy stream ended")
		}
		if err != nil {
			return err
		}
		payload, err := a.add(m.TransferState, m.Data)
		if err != nil {
			return err
		}
		if payload == nil {
			continue
		}
		bo.n = 0
		var up pb.PolicyUpdate
		if err := proto.Unmarshal(payload, &up); err != nil {
			return fmt.Errorf("transport: policy update: %w", err)
		}
		c.policies.Add(1)
		if err := onPolicy(up.Onnx); err != nil {
			c.logf("transport: actor %s: policy %d skipped: %v", c.cfg.ActorID, up.Version, err)
		}
	}
}
