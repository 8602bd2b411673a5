package transport

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var testSchema = Schema{StateDim: 3, ActionLow: []float32{-1, -1, 0}, ActionHigh: []float32{1, 1, 2}}

func goodTransition() Transition {
	return Transition{State: []float32{0.1, 0.2, 0.3}, Action: []float32{0.5, -0.5, 1}, Reward: 1, NextState: []float32{0.2, 0.3, 0.4}}
}

// startServer serves on a loopback port until the test ends.
func startServer(t testing.TB, mutate func(*ServerConfig)) *Server {
	t.Helper()
	cfg := DefaultServerConfig()
	cfg.Addr, cfg.Schema = "127.0.0.1:0", testSchema
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s
}

// startClient runs a client until the test ends.
func startClient(t testing.TB, mutate func(*ClientConfig), onPolicy func([]byte) error) *Client {
	t.Helper()
	cfg := DefaultClientConfig()
	cfg.FlushInterval, cfg.BackoffInitial, cfg.BackoffMax, cfg.CallTimeout = 5*time.Millisecond, 10*time.Millisecond, 100*time.Millisecond, 2*time.Second
	mutate(&cfg)
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, onPolicy) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		c.Close()
	})
	return c
}

// consume reads the server's batches until the test ends, counting them.
func consume(t testing.TB, s *Server) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			select {
			case <-s.Batches():
			case <-s.Interactions():
			case <-ctx.Done():
				return
			}
		}
	}()
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestServerConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*ServerConfig)
		ok     bool
	}{
		{"default", func(*ServerConfig) {}, true},
		{"all interfaces without token", func(c *ServerConfig) { c.Addr = "0.0.0.0:50051" }, false},
		{"all interfaces with token", func(c *ServerConfig) { c.Addr, c.Token = "0.0.0.0:50051", "t" }, true},
		{"localhost", func(c *ServerConfig) { c.Addr = "localhost:0" }, true},
		{"no port", func(c *ServerConfig) { c.Addr = "127.0.0.1" }, false},
		{"port out of range", func(c *ServerConfig) { c.Addr = "127.0.0.1:70000" }, false},
		{"tls cert without key", func(c *ServerConfig) { c.TLSCert = "cert.pem" }, false},
		{"no queue", func(c *ServerConfig) { c.QueueBatches = 0 }, false},
		{"no schema", func(c *ServerConfig) { c.Schema = Schema{} }, false},
	} {
		cfg := DefaultServerConfig()
		cfg.Schema = testSchema
		tc.mutate(&cfg)
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestToken: with a token set, every RPC without it is refused, unary and
// streaming alike.
func TestToken(t *testing.T) {
	s := startServer(t, func(c *ServerConfig) { c.Token = "s3cret" })
	consume(t, s)
	for _, tc := range []struct {
		token string
		ok    bool
	}{{"", false}, {"wrong", false}, {"s3cret ", false}, {"s3cret", true}} {
		cfg := DefaultClientConfig()
		cfg.Addr, cfg.Token, cfg.CallTimeout = s.Addr(), tc.token, 2*time.Second
		c, err := NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Ready(context.Background())
		if tc.ok != (err == nil) {
			t.Errorf("token %q: Ready = %v, want ok %v", tc.token, err, tc.ok)
		}
		if !tc.ok && status.Code(errors.Unwrap(err)) != codes.Unauthenticated {
			t.Errorf("token %q: %v, want Unauthenticated", tc.token, err)
		}
		c.Close()
	}
	// A streaming call without the token: nothing is received.
	c := startClient(t, func(c *ClientConfig) { c.Addr = s.Addr() }, nil)
	c.Add(goodTransition())
	if err := c.Flush(withTimeout(t, 300*time.Millisecond)); err == nil {
		t.Error("transitions sent without the token were acknowledged")
	}
	if st := s.Stats(); st.Received != 0 {
		t.Errorf("server received %d transitions without a token", st.Received)
	}
	if c.Stats().Failures == 0 {
		t.Error("client counted no failure")
	}
}

// TestValidation: malformed transitions are rejected and counted by
// reason; valid ones in the same batch get through.
func TestValidation(t *testing.T) {
	s := startServer(t, func(c *ServerConfig) {
		c.Schema.Images = []ImageSpec{{Name: "observation.images.front", Shape: []int{3, 2, 2}}}
	})
	consume(t, s)
	c := startClient(t, func(c *ClientConfig) { c.Addr = s.Addr() }, nil)
	img := func() []Image {
		return []Image{{Name: "observation.images.front", Shape: []int{3, 2, 2}, Pixels: make([]uint8, 12)}}
	}
	nan := float32(math.NaN())
	cases := []struct {
		name   string
		mutate func(*Transition)
		reason string
	}{
		{"valid", func(*Transition) {}, ""},
		{"NaN state", func(tr *Transition) { tr.State[1] = nan }, RejectNonFinite},
		{"Inf next state", func(tr *Transition) { tr.NextState[0] = float32(math.Inf(-1)) }, RejectNonFinite},
		{"NaN reward", func(tr *Transition) { tr.Reward = nan }, RejectNonFinite},
		{"short state", func(tr *Transition) { tr.State = tr.State[:2] }, RejectShape},
		{"long action", func(tr *Transition) { tr.Action = append(tr.Action, 0) }, RejectShape},
		{"no image", func(tr *Transition) { tr.Images = nil }, RejectShape},
		{"image of the wrong size", func(tr *Transition) { tr.NextImages[0].Pixels = tr.NextImages[0].Pixels[:5] }, RejectShape},
		{"action above bound", func(tr *Transition) { tr.Action[0] = 1.5 }, RejectBounds},
		{"gripper below bound", func(tr *Transition) { tr.Action[2] = -0.1 }, RejectBounds},
		{"valid at the bound", func(tr *Transition) { tr.Action[0] = 1 }, ""},
	}
	want := map[string]int64{}
	var valid int64
	for _, tc := range cases {
		tr := goodTransition()
		tr.Images, tr.NextImages = img(), img()
		tc.mutate(&tr)
		c.Add(tr)
		if tc.reason == "" {
			valid++
		} else {
			want[tc.reason]++
		}
	}
	if err := c.Flush(withTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Received != valid {
		t.Errorf("received %d, want %d valid", st.Received, valid)
	}
	for reason, n := range want {
		if st.Rejected[reason] != n {
			t.Errorf("rejected %s: %d, want %d (all: %v)", reason, st.Rejected[reason], n, st.Rejected)
		}
	}
	// The server goes on serving after the rejections.
	c.Add(goodTransition())
	if err := c.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestClientDropsOldest: with the learner away, the buffer stays bounded
// and the oldest transitions go first.
func TestClientDropsOldest(t *testing.T) {
	cfg := DefaultClientConfig()
	cfg.Addr, cfg.BufferCapacity = "127.0.0.1:1", 10
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 25 {
		tr := goodTransition()
		tr.Reward = float32(i)
		c.Add(tr)
	}
	if st := c.Stats(); st.Dropped != 15 || st.Buffered != 10 {
		t.Errorf("stats %+v, want 15 dropped, 10 buffered", st)
	}
	if r := c.pending[0].Reward; r != 15 {
		t.Errorf("oldest kept has reward %g, want 15", r)
	}
}

// TestBackpressure: a learner that does not read holds the actor back
// instead of queueing without bound; once it reads, everything arrives.
func TestBackpressure(t *testing.T) {
	s := startServer(t, func(c *ServerConfig) { c.QueueBatches = 1 })
	c := startClient(t, func(c *ClientConfig) { c.Addr, c.BatchSize = s.Addr(), 10 }, nil)
	for range 200 {
		c.Add(goodTransition())
	}
	if err := c.Flush(withTimeout(t, 300*time.Millisecond)); err == nil {
		t.Fatal("flush completed while the learner read nothing")
	}
	if got := s.Stats().Received; got > 10 {
		t.Errorf("server queued %d transitions with room for one batch of 10", got)
	}
	consume(t, s)
	if err := c.Flush(withTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Received != 200 {
		t.Errorf("received %d (duplicates %d), want 200", st.Received, st.Duplicates)
	}
}

// TestPolicyStream: published policies reach the actor whole, a large one
// in chunks, each newer one after the current.
func TestPolicyStream(t *testing.T) {
	s := startServer(t, nil)
	got := make(chan []byte, 4)
	startClient(t, func(c *ClientConfig) { c.Addr = s.Addr() }, func(m []byte) error { got <- m; return nil })
	ctx := withTimeout(t, 10*time.Second)
	for _, n := range []int{1000, 3*ChunkSize + 17} { // the second exceeds MaxMessageSize
		model := make([]byte, n)
		for i := range model {
			model[i] = byte(i * 7)
		}
		if _, err := s.Publish(model); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if len(m) != n || m[n-1] != model[n-1] {
				t.Errorf("received %d bytes, want %d", len(m), n)
			}
		case <-ctx.Done():
			t.Fatalf("policy of %d bytes not received", n)
		}
	}
}

// TestActorRestart: an actor that restarts under the same id (a new
// session, sequence numbers from 1 again) is received, not taken for a
// resend of what its previous life sent.
func TestActorRestart(t *testing.T) {
	s := startServer(t, nil)
	consume(t, s)
	for life := range 3 {
		cfg := DefaultClientConfig()
		cfg.Addr, cfg.ActorID, cfg.FlushInterval = s.Addr(), "arm", 5*time.Millisecond
		c, err := NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx, nil) }()
		for range 10 {
			c.Add(goodTransition())
		}
		if err := c.Flush(withTimeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		c.Close()
		if st := s.Stats(); st.Received != int64(10*(life+1)) || st.Duplicates != 0 || st.Actors["arm"].Transitions != st.Received {
			t.Fatalf("life %d: %+v", life, st)
		}
	}
}
