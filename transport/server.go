package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/e2hil/e2hil/transport/transportpb"
)

// ServerConfig configures the learner's endpoint.
type ServerConfig struct {
	// Addr is host:port to bind; DefaultServerConfig binds loopback.
	Addr string
	// Token, when set, is required on every RPC; it is mandatory for a
	// non-loopback bind.
	Token string
	// TLSCert and TLSKey (PEM paths) enable TLS; both or neither.
	TLSCert, TLSKey string
	// Schema is what incoming transitions must match.
	Schema Schema
	// QueueBatches bounds the batches waiting for the learner; when full,
	// SendTransitions stops reading and gRPC flow control holds the actors
	// back (backpressure instead of growing memory).
	QueueBatches int
	// MaxMessageBytes bounds one reassembled message.
	MaxMessageBytes int
	// Logf receives warnings (rejected transitions, refused actors); nil:
	// silent.
	Logf func(format string, args ...any)
}

// DefaultServerConfig binds 127.0.0.1:50051 (LeRobot's learner port).
func DefaultServerConfig() ServerConfig {
	return ServerConfig{Addr: "127.0.0.1:50051", QueueBatches: 64, MaxMessageBytes: 64 << 20}
}

// Validate reports every problem with the config.
func (c ServerConfig) Validate() error {
	var errs []error
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("transport: addr %q: %w", c.Addr, err))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		errs = append(errs, fmt.Errorf("transport: addr %q: port must be in [0, 65535]", c.Addr))
	} else if !isLoopback(host) && c.Token == "" {
		errs = append(errs, fmt.Errorf("transport: addr %q is not loopback: a token is mandatory (set $%s or a token file)", c.Addr, TokenEnv))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, fmt.Errorf("transport: tls cert %q and key %q: set both or neither", c.TLSCert, c.TLSKey))
	}
	if c.QueueBatches < 1 {
		errs = append(errs, fmt.Errorf("transport: queue batches must be ≥ 1, got %d", c.QueueBatches))
	}
	if c.MaxMessageBytes < ChunkSize {
		errs = append(errs, fmt.Errorf("transport: max message bytes must be ≥ %d, got %d", ChunkSize, c.MaxMessageBytes))
	}
	if err := c.Schema.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ActorStats counts one actor's traffic.
type ActorStats struct {
	Transitions, Interventions, Episodes int64
	LastSeen                             time.Time
}

// ServerStats is a snapshot of the server's counters.
type ServerStats struct {
	// Received counts transitions accepted and queued for the learner.
	Received int64
	// Duplicates counts transitions of batches resent after a lost
	// acknowledgement (dropped: already received).
	Duplicates int64
	// Rejected counts invalid transitions by reason (RejectShape, …).
	Rejected map[string]int64
	Actors   map[string]ActorStats
}

// Server is the learner's end: it validates what actors send and hands it
// to the learner, and streams published policies to every actor.
type Server struct {
	pb.UnimplementedLearnerServiceServer
	cfg          ServerConfig
	lis          net.Listener
	gs           *grpc.Server
	batches      chan Batch
	interactions chan Interaction
	stop         chan struct{}
	stopOnce     sync.Once

	mu       sync.Mutex
	policy   []byte // marshalled PolicyUpdate
	version  uint64
	changed  chan struct{}
	stats    ServerStats
	sessions map[string][2]uint64 // actor → (session, last seq)
	warned   int
}

// Listen validates cfg and binds its address; Serve then serves.
func Listen(cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := append(authInterceptors(cfg.Token),
		grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize),
		// Notice dead peers (LeRobot's StreamParameters never did).
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 10 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	if cfg.TLSCert != "" {
		creds, err := serverTLS(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.Creds(creds))
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", cfg.Addr, err)
	}
	s := &Server{
		cfg: cfg, lis: lis, gs: grpc.NewServer(opts...),
		batches:      make(chan Batch, cfg.QueueBatches),
		interactions: make(chan Interaction, 1024),
		stop:         make(chan struct{}),
		changed:      make(chan struct{}),
		stats:        ServerStats{Rejected: map[string]int64{}, Actors: map[string]ActorStats{}},
		sessions:     map[string][2]uint64{},
	}
	pb.RegisterLearnerServiceServer(s.gs, s)
	return s, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Serve serves until ctx ends, then stops: streams are told to finish and
// are given a few seconds before being cut.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.gs.Serve(s.lis) }()
	select {
	case err := <-errc:
		s.shutdown()
		return fmt.Errorf("transport: serve: %w", err)
	case <-ctx.Done():
	}
	s.shutdown()
	done := make(chan struct{})
	go func() { s.gs.GracefulStop(); close(done) }()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.gs.Stop()
		<-done
	}
	<-errc
	return nil
}

func (s *Server) shutdown() { s.stopOnce.Do(func() { close(s.stop) }) }

// Batches delivers validated transitions. The learner must keep reading
// it; a full queue holds the actors back.
func (s *Server) Batches() <-chan Batch { return s.batches }

// Interactions delivers episode statistics. They are informational: when
// 1024 wait unread, newer ones are dropped rather than holding actors back.
func (s *Server) Interactions() <-chan Interaction { return s.interactions }

// Publish makes model (ONNX bytes) the current policy and streams it to
// every connected actor; it returns the policy's version.
func (s *Server) Publish(model []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, err := proto.Marshal(&pb.PolicyUpdate{Version: s.version + 1, Onnx: model})
	if err != nil {
		return 0, fmt.Errorf("transport: publish: %w", err)
	}
	if len(msg) > s.cfg.MaxMessageBytes {
		return 0, fmt.Errorf("transport: publish: policy of %d bytes exceeds the %d-byte message bound", len(msg), s.cfg.MaxMessageBytes)
	}
	s.version++
	s.policy = msg
	close(s.changed)
	s.changed = make(chan struct{})
	return s.version, nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Rejected = make(map[string]int64, len(s.stats.Rejected))
	for k, v := range s.stats.Rejected {
		st.Rejected[k] = v
	}
	st.Actors = make(map[string]ActorStats, len(s.stats.Actors))
	for k, v := range s.stats.Actors {
		st.Actors[k] = v
	}
	return st
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// Ready answers at once: the learner is serving.
func (s *Server) Ready(context.Context, *pb.Empty) (*pb.Empty, error) { return &pb.Empty{}, nil }

// StreamParameters sends the current policy, then each newer one, until the
// actor goes away or the server stops.
func (s *Server) StreamParameters(_ *pb.Empty, ss pb.LearnerService_StreamParametersServer) error {
	var sent uint64
	for {
		s.mu.Lock()
		v, msg, changed := s.version, s.policy, s.changed
		s.mu.Unlock()
		if v > sent {
			err := chunks(msg, ChunkSize, func(st pb.TransferState, b []byte) error {
				return ss.Send(&pb.Parameters{TransferState: st, Data: b})
			})
			if err != nil {
				return err
			}
			sent = v
		}
		select {
		case <-changed:
		case <-ss.Context().Done():
			return ss.Context().Err()
		case <-s.stop:
			return status.Error(codes.Unavailable, "transport: learner stopping")
		}
	}
}

// SendTransitions reassembles batches, validates every transition, and
// queues the valid ones for the learner (blocking when the queue is full).
func (s *Server) SendTransitions(ss pb.LearnerService_SendTransitionsServer) error {
	a := assembler{max: s.cfg.MaxMessageBytes}
	for {
		m, err := ss.Recv()
		if errors.Is(err, io.EOF) {
			return ss.SendAndClose(&pb.Empty{})
		}
		if err != nil {
			return err
		}
		payload, err := a.add(m.TransferState, m.Data)
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		if payload == nil {
			continue
		}
		b, ok := s.accept(payload)
		if !ok {
			continue
		}
		select {
		case s.batches <- b:
		case <-ss.Context().Done():
			return ss.Context().Err()
		case <-s.stop:
			return status.Error(codes.Unavailable, "transport: learner stopping")
		}
		s.count(b)
	}
}

// accept decodes and validates one batch; invalid transitions are counted
// and dropped, the rest kept.
func (s *Server) accept(payload []byte) (Batch, bool) {
	var tb pb.TransitionBatch
	if err := proto.Unmarshal(payload, &tb); err != nil {
		s.reject(RejectDecode, "?", fmt.Errorf("transition batch: %w", err))
		return Batch{}, false
	}
	s.mu.Lock()
	last, seen := s.sessions[tb.ActorId]
	dup := seen && last[0] == tb.Session && tb.Seq <= last[1]
	if dup {
		s.stats.Duplicates += int64(len(tb.Steps))
	} else {
		s.sessions[tb.ActorId] = [2]uint64{tb.Session, tb.Seq}
	}
	s.mu.Unlock()
	if dup {
		return Batch{}, false
	}
	b := Batch{ActorID: tb.ActorId, Transitions: make([]Transition, 0, len(tb.Steps))}
	for i, st := range tb.Steps {
		if reason, err := s.cfg.Schema.check(st); err != nil {
			s.reject(reason, tb.ActorId, fmt.Errorf("batch %d step %d: %w", tb.Seq, i, err))
			continue
		}
		b.Transitions = append(b.Transitions, fromPB(st))
	}
	return b, len(b.Transitions) > 0
}

func (s *Server) reject(reason, actor string, err error) {
	s.mu.Lock()
	s.stats.Rejected[reason]++
	n := s.stats.Rejected[reason]
	s.mu.Unlock()
	// The first few of each kind, then every 1000th: a flood must not
	// flood the log too.
	if n <= 5 || n%1000 == 0 {
		s.logf("transport: rejected transition from actor %q (%s, %d so far): %v", actor, reason, n, err)
	}
}

func (s *Server) count(b Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Received += int64(len(b.Transitions))
	as := s.stats.Actors[b.ActorID]
	as.Transitions += int64(len(b.Transitions))
	for _, t := range b.Transitions {
		if t.Intervention {
			as.Interventions++
		}
		if t.Done || t.Truncated {
			as.Episodes++
		}
	}
	as.LastSeen = time.Now()
	s.stats.Actors[b.ActorID] = as
}

// SendInteractions queues episode statistics; they are dropped, not
// waited for, when the learner lags.
func (s *Server) SendInteractions(ss pb.LearnerService_SendInteractionsServer) error {
	a := assembler{max: s.cfg.MaxMessageBytes}
	for {
		m, err := ss.Recv()
		if errors.Is(err, io.EOF) {
			return ss.SendAndClose(&pb.Empty{})
		}
		if err != nil {
			return err
		}
		payload, err := a.add(m.TransferState, m.Data)
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		if payload == nil {
			continue
		}
		var ib pb.InteractionBatch
		if err := proto.Unmarshal(payload, &ib); err != nil {
			s.reject(RejectDecode, "?", fmt.Errorf("interaction batch: %w", err))
			continue
		}
		for _, in := range ib.Interactions {
			select {
			case s.interactions <- Interaction{
				ActorID: in.ActorId, Episode: in.Episode, Steps: int(in.Steps), Reward: in.EpisodicReward,
				InterventionSteps: int(in.InterventionSteps), Success: in.Success, PolicyHz: in.PolicyFrequencyHz,
			}:
			default:
			}
		}
	}
}
