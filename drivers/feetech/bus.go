package feetech

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config holds the bus's timing and retry policy. The defaults are LeRobot's
// (§1.6).
type Config struct {
	// Baud is the line rate the deadlines are computed for (the Port is
	// opened at its own rate). Default 1,000,000.
	Baud int
	// LatencyTimer is the constant term of a packet deadline; LeRobot's patch
	// of setPacketTimeout uses 50 ms.
	LatencyTimer time.Duration
	// BroadcastPingWindow is how long a broadcast PING listens; zero means the
	// SDK's 1512·t + 756 + 16 ms (≈ 787 ms at 1 Mbaud).
	BroadcastPingWindow time.Duration
	// Retries are the full resends after a failed attempt, per operation.
	Retries Retries
	// Names labels motor IDs in error messages.
	Names map[byte]string
}

// Retries per operation (tries = 1 + retries). LeRobot's defaults: 0, except
// sync_read 8 (the fork); disable_torque on disconnect uses 5 per call.
type Retries struct {
	Ping, Read, Write, SyncRead, SyncWrite int
}

// DefaultConfig returns LeRobot's timing: 1 Mbaud, 50 ms latency timer,
// sync_read retried 8 times.
func DefaultConfig() Config {
	return Config{
		Baud:         DefaultBaud,
		LatencyTimer: 50 * time.Millisecond,
		Retries:      Retries{SyncRead: 8},
	}
}

// Validate reports every problem with its field name.
func (c Config) Validate() error {
	var probs []string
	if c.Baud <= 0 {
		probs = append(probs, fmt.Sprintf("baud: must be > 0, got %d", c.Baud))
	}
	if c.LatencyTimer <= 0 {
		probs = append(probs, fmt.Sprintf("latency_timer: must be > 0, got %s", c.LatencyTimer))
	}
	if c.BroadcastPingWindow < 0 {
		probs = append(probs, fmt.Sprintf("broadcast_ping_window: must be ≥ 0, got %s", c.BroadcastPingWindow))
	}
	for name, n := range map[string]int{"ping": c.Retries.Ping, "read": c.Retries.Read, "write": c.Retries.Write,
		"sync_read": c.Retries.SyncRead, "sync_write": c.Retries.SyncWrite} {
		if n < 0 {
			probs = append(probs, fmt.Sprintf("retries.%s: must be ≥ 0, got %d", name, n))
		}
	}
	if len(probs) == 0 {
		return nil
	}
	sort.Strings(probs)
	return fmt.Errorf("feetech bus config: %s", strings.Join(probs, "; "))
}

// byteTime is tx_time_per_byte = 10000/baud ms (10 bits per byte, §1.1).
func (c Config) byteTime() time.Duration {
	return time.Duration(10 * float64(time.Second) / float64(c.Baud))
}

// PacketTimeout is LeRobot's deadline for n expected bytes:
// t·n + 3·t + LatencyTimer (§1.6).
func (c Config) PacketTimeout(n int) time.Duration {
	t := c.byteTime()
	return t*time.Duration(n) + 3*t + c.LatencyTimer
}

func (c Config) broadcastWindow() time.Duration {
	if c.BroadcastPingWindow > 0 {
		return c.BroadcastPingWindow
	}
	const maxID = 252
	return c.byteTime()*6*maxID + 3*maxID*time.Millisecond + 16*time.Millisecond
}

// CallOption adjusts one call.
type CallOption func(*callOpts)

type callOpts struct{ retries int }

// WithRetries overrides the configured retries for one call (LeRobot's
// num_retry argument).
func WithRetries(n int) CallOption { return func(o *callOpts) { o.retries = max(n, 0) } }

func (b *Bus) opts(def int, opts []CallOption) callOpts {
	o := callOpts{retries: def}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Bus is a half-duplex STS bus. It is safe for concurrent use; transactions
// are serialised. The Bus owns its Port and closes it on Close.
type Bus struct {
	cfg Config

	mu     sync.Mutex
	port   Port
	closed bool
	rbuf   []byte
	chunk  [512]byte
	txbuf  []byte
}

// NewBus returns a Bus over port.
func NewBus(port Port, cfg Config) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Bus{cfg: cfg, port: port}, nil
}

// Config returns the bus configuration.
func (b *Bus) Config() Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg
}

// SetLatencyTimer changes the constant term of packet deadlines for later
// transactions (the SDK's setPacketTimeout); d must be > 0.
func (b *Bus) SetLatencyTimer(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("latency_timer: must be > 0, got %s", d)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg.LatencyTimer = d
	return nil
}

// Close closes the port. Pending and later calls fail with ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	return b.port.Close()
}

func (b *Bus) label(id byte) string { return b.cfg.Names[id] }

func (b *Bus) motorErr(op string, id byte, reg string, tries int, err error) error {
	return &MotorError{Op: op, ID: id, Motor: b.label(id), Register: reg, Tries: tries, Err: err}
}

// begin locks the bus and arms context cancellation. The returned func
// releases both.
func (b *Bus) begin(ctx context.Context) (func(), error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return nil, err
	}
	// Cancellation moves the read deadline to now so a blocked Read returns.
	stop := context.AfterFunc(ctx, func() { _ = b.port.SetReadDeadline(time.Now()) })
	return func() {
		stop()
		b.mu.Unlock()
	}, nil
}

// send drops stale input and writes one instruction packet. The SDK keeps
// stale input (§1.5); dropping it means a reply that missed its deadline can
// never be taken for the answer to the next request.
func (b *Bus) send(p Instruction) error {
	b.rbuf = b.rbuf[:0]
	if err := b.port.ResetInputBuffer(); err != nil {
		return b.portErr(err)
	}
	pkt, err := p.Append(b.txbuf[:0])
	if err != nil {
		return err
	}
	b.txbuf = pkt
	n, err := b.port.Write(pkt)
	if err != nil {
		return b.portErr(err)
	}
	if n != len(pkt) {
		return fmt.Errorf("wrote %d of %d bytes: %w", n, len(pkt), io.ErrShortWrite)
	}
	return nil
}

func (b *Bus) portErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// receive returns the next status packet before deadline with the SDK's
// rxPacket rules (§1.5): nothing received → ErrTimeout; a partial or
// bad-checksum packet → ErrCorrupt.
func (b *Bus) receive(ctx context.Context, deadline time.Time) (Status, error) {
	for {
		s, n, err := ScanStatus(b.rbuf)
		switch {
		case err == nil:
			s.Params = append([]byte(nil), s.Params...)
			b.rbuf = append(b.rbuf[:0], b.rbuf[n:]...)
			return s, nil
		case errors.Is(err, ErrChecksum):
			b.rbuf = append(b.rbuf[:0], b.rbuf[n:]...)
			return Status{}, fmt.Errorf("%w: bad checksum", ErrCorrupt)
		}
		b.rbuf = append(b.rbuf[:0], b.rbuf[n:]...)

		if err := ctx.Err(); err != nil {
			return Status{}, err
		}
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		if err := b.port.SetReadDeadline(deadline); err != nil {
			return Status{}, b.portErr(err)
		}
		m, rerr := b.port.Read(b.chunk[:])
		b.rbuf = append(b.rbuf, b.chunk[:m]...)
		if rerr == nil {
			continue
		}
		if errors.Is(rerr, os.ErrDeadlineExceeded) {
			if err := ctx.Err(); err != nil {
				return Status{}, err
			}
			if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
				return Status{}, context.DeadlineExceeded
			}
			if len(b.rbuf) > 0 {
				return Status{}, fmt.Errorf("%w: partial packet (%d bytes) at the deadline", ErrCorrupt, len(b.rbuf))
			}
			return Status{}, ErrTimeout
		}
		return Status{}, b.portErr(rerr)
	}
}

// receiveFrom returns the next packet carrying id, dropping others (SDK
// readRx / txRxPacket).
func (b *Bus) receiveFrom(ctx context.Context, id byte, deadline time.Time) (Status, error) {
	for {
		s, err := b.receive(ctx, deadline)
		if err != nil || s.ID == id {
			return s, err
		}
	}
}

// retryable reports whether another attempt may help.
func retryable(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrCorrupt)
}

// transact sends p and waits for id's reply with n data bytes, retrying per
// tries. A reply's ERR is returned in Status, not as an error.
func (b *Bus) transact(ctx context.Context, p Instruction, id byte, n int, retries int) (Status, int, error) {
	var lastErr error
	for try := 1; try <= 1+retries; try++ {
		if err := b.send(p); err != nil {
			return Status{}, try, err
		}
		deadline := time.Now().Add(b.cfg.PacketTimeout(n + minPacketLen))
		s, err := b.receiveFrom(ctx, id, deadline)
		if err == nil && len(s.Params) < n {
			err = fmt.Errorf("%w: %d data bytes, want %d", ErrCorrupt, len(s.Params), n)
		}
		if err == nil {
			return s, try, nil
		}
		lastErr = err
		if !retryable(err) {
			return Status{}, try, err
		}
	}
	return Status{}, 1 + retries, lastErr
}

// Ping sends PING to id and reads its Model_Number (the SDK's ping, §1.6).
// A silent servo is a *MotorError wrapping ErrTimeout; a set ERR byte is a
// *MotorError wrapping StatusError.
func (b *Bus) Ping(ctx context.Context, id byte, opts ...CallOption) (uint16, error) {
	o := b.opts(b.cfg.Retries.Ping, opts)
	done, err := b.begin(ctx)
	if err != nil {
		return 0, b.motorErr("ping", id, "", 0, err)
	}
	defer done()
	var lastErr error
	tries := 0
	for try := 1; try <= 1+o.retries; try++ {
		tries = try
		s, _, err := b.transact(ctx, PingPacket(id), id, 0, 0)
		if err == nil {
			if serr := s.Err(); serr != nil {
				return 0, b.motorErr("ping", id, "", try, serr)
			}
			s, _, err = b.transact(ctx, ReadPacket(id, ModelNumber.Addr, byte(ModelNumber.Size)), id, ModelNumber.Size, 0)
			if err == nil {
				if serr := s.Err(); serr != nil {
					return 0, b.motorErr("ping", id, "", try, serr)
				}
				return uint16(ModelNumber.Decode(s.Params[:ModelNumber.Size])), nil
			}
		}
		lastErr = err
		if !retryable(err) {
			break
		}
	}
	return 0, b.motorErr("ping", id, "", tries, lastErr)
}

// BroadcastPing pings every servo, listens for the whole window (≈ 787 ms
// at 1 Mbaud unless configured) and reads each responder's Model_Number.
// Responders whose model cannot be read are left out and reported in err.
func (b *Bus) BroadcastPing(ctx context.Context) (map[byte]uint16, error) {
	done, err := b.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("broadcast ping: %w", err)
	}
	defer done()
	if err := b.send(PingPacket(BroadcastID)); err != nil {
		return nil, fmt.Errorf("broadcast ping: %w", err)
	}
	deadline := time.Now().Add(b.cfg.broadcastWindow())
	var ids []byte
	seen := map[byte]bool{}
	for {
		s, err := b.receive(ctx, deadline)
		if errors.Is(err, ErrTimeout) || (errors.Is(err, ErrCorrupt) && !time.Now().Before(deadline)) {
			break
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return nil, fmt.Errorf("broadcast ping: %w", err)
		}
		if err == nil && !seen[s.ID] {
			seen[s.ID] = true
			ids = append(ids, s.ID)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	models := make(map[byte]uint16, len(ids))
	var errs []error
	for _, id := range ids {
		s, tries, err := b.transact(ctx, ReadPacket(id, ModelNumber.Addr, byte(ModelNumber.Size)), id, ModelNumber.Size, 0)
		if err == nil {
			err = s.Err()
		}
		if err != nil {
			errs = append(errs, b.motorErr("read", id, ModelNumber.Name, tries, err))
			continue
		}
		models[id] = uint16(ModelNumber.Decode(s.Params[:ModelNumber.Size]))
	}
	return models, errors.Join(errs...)
}

// ReadAt reads n bytes at addr from id (READ, §1.4).
func (b *Bus) ReadAt(ctx context.Context, id, addr byte, n int, opts ...CallOption) ([]byte, error) {
	return b.read(ctx, id, addr, n, fmt.Sprintf("addr %d", addr), opts)
}

// Read reads one register from id and decodes it.
func (b *Bus) Read(ctx context.Context, id byte, reg Register, opts ...CallOption) (int, error) {
	data, err := b.read(ctx, id, reg.Addr, reg.Size, reg.Name, opts)
	if err != nil {
		return 0, err
	}
	return reg.Decode(data), nil
}

func (b *Bus) read(ctx context.Context, id, addr byte, n int, regName string, opts []CallOption) ([]byte, error) {
	o := b.opts(b.cfg.Retries.Read, opts)
	if n <= 0 || n+minPacketLen > MaxPacketLen || id >= BroadcastID {
		return nil, b.motorErr("read", id, regName, 0, fmt.Errorf("%w: read of %d bytes from id %d", ErrValueRange, n, id))
	}
	done, err := b.begin(ctx)
	if err != nil {
		return nil, b.motorErr("read", id, regName, 0, err)
	}
	defer done()
	s, tries, err := b.transact(ctx, ReadPacket(id, addr, byte(n)), id, n, o.retries)
	if err == nil {
		err = s.Err()
	}
	if err != nil {
		return nil, b.motorErr("read", id, regName, tries, err)
	}
	return s.Params[:n], nil
}

// WriteAt writes data at addr on id and waits for the reply (WRITE, §1.4).
func (b *Bus) WriteAt(ctx context.Context, id, addr byte, data []byte, opts ...CallOption) error {
	return b.write(ctx, id, addr, data, fmt.Sprintf("addr %d", addr), opts)
}

// Write encodes v for reg and writes it to id, waiting for the reply.
func (b *Bus) Write(ctx context.Context, id byte, reg Register, v int, opts ...CallOption) error {
	data, err := reg.Encode(v)
	if err != nil {
		return b.motorErr("write", id, reg.Name, 0, err)
	}
	return b.write(ctx, id, reg.Addr, data, reg.Name, opts)
}

func (b *Bus) write(ctx context.Context, id, addr byte, data []byte, regName string, opts []CallOption) error {
	o := b.opts(b.cfg.Retries.Write, opts)
	if len(data) == 0 || id >= BroadcastID {
		return b.motorErr("write", id, regName, 0, fmt.Errorf("%w: write of %d bytes to id %d", ErrValueRange, len(data), id))
	}
	done, err := b.begin(ctx)
	if err != nil {
		return b.motorErr("write", id, regName, 0, err)
	}
	defer done()
	s, tries, err := b.transact(ctx, WritePacket(id, addr, data), id, 0, o.retries)
	if err == nil {
		err = s.Err()
	}
	if err != nil {
		return b.motorErr("write", id, regName, tries, err)
	}
	return nil
}

// SyncReadAt reads n bytes at addr from every id with one SYNC_READ; one
// deadline covers all replies, which come in ids order (§1.4, §1.6). ERR
// bytes are ignored, as the SDK does. The first ID that fails aborts the
// attempt; the error names it.
func (b *Bus) SyncReadAt(ctx context.Context, addr byte, n int, ids []byte, opts ...CallOption) ([][]byte, error) {
	return b.syncRead(ctx, addr, n, ids, fmt.Sprintf("addr %d", addr), opts)
}

// SyncRead reads reg from every id with one SYNC_READ and decodes the values
// in ids order.
func (b *Bus) SyncRead(ctx context.Context, reg Register, ids []byte, opts ...CallOption) ([]int, error) {
	data, err := b.syncRead(ctx, reg.Addr, reg.Size, ids, reg.Name, opts)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(data))
	for i, d := range data {
		out[i] = reg.Decode(d)
	}
	return out, nil
}

func checkIDs(ids []byte) error {
	if len(ids) == 0 {
		return fmt.Errorf("%w: no motor ids", ErrValueRange)
	}
	seen := map[byte]bool{}
	for _, id := range ids {
		if id >= BroadcastID {
			return fmt.Errorf("%w: id %d", ErrValueRange, id)
		}
		if seen[id] {
			return fmt.Errorf("%w: id %d listed twice", ErrValueRange, id)
		}
		seen[id] = true
	}
	return nil
}

func (b *Bus) syncRead(ctx context.Context, addr byte, n int, ids []byte, regName string, opts []CallOption) ([][]byte, error) {
	o := b.opts(b.cfg.Retries.SyncRead, opts)
	pkt := SyncReadPacket(addr, byte(n), ids)
	if err := checkIDs(ids); err != nil || n <= 0 || n+minPacketLen > MaxPacketLen || len(pkt.Params)+minPacketLen > MaxPacketLen {
		if err == nil {
			err = fmt.Errorf("%w: sync read of %d bytes from %d ids", ErrValueRange, n, len(ids))
		}
		return nil, &MotorError{Op: "sync read", Register: regName, Err: err, ID: firstID(ids), Motor: b.label(firstID(ids))}
	}
	done, err := b.begin(ctx)
	if err != nil {
		return nil, b.motorErr("sync read", ids[0], regName, 0, err)
	}
	defer done()
	var (
		lastErr error
		lastID  byte
		tries   int
	)
	for try := 1; try <= 1+o.retries; try++ {
		tries = try
		if err := b.send(pkt); err != nil {
			return nil, b.motorErr("sync read", ids[0], regName, try, err)
		}
		deadline := time.Now().Add(b.cfg.PacketTimeout((minPacketLen + n) * len(ids)))
		out := make([][]byte, len(ids))
		var err error
		for i, id := range ids {
			var s Status
			s, err = b.receiveFrom(ctx, id, deadline)
			if err == nil && len(s.Params) < n {
				err = fmt.Errorf("%w: %d data bytes, want %d", ErrCorrupt, len(s.Params), n)
			}
			if err != nil {
				lastID = id
				break
			}
			out[i] = s.Params[:n]
		}
		if err == nil {
			return out, nil
		}
		lastErr = err
		if !retryable(err) {
			break
		}
	}
	return nil, b.motorErr("sync read", lastID, regName, tries, lastErr)
}

func firstID(ids []byte) byte {
	if len(ids) == 0 {
		return 0
	}
	return ids[0]
}

// SyncWriteAt writes data[i] (n bytes each) at addr on ids[i] with one
// SYNC_WRITE. Servos do not answer, so a missing motor goes unnoticed
// (§1.6).
func (b *Bus) SyncWriteAt(ctx context.Context, addr byte, n int, ids []byte, data [][]byte, opts ...CallOption) error {
	return b.syncWrite(ctx, addr, n, ids, data, fmt.Sprintf("addr %d", addr), opts)
}

// SyncWrite encodes values[i] for reg and writes it to ids[i] with one
// SYNC_WRITE.
func (b *Bus) SyncWrite(ctx context.Context, reg Register, ids []byte, values []int, opts ...CallOption) error {
	if len(ids) != len(values) {
		return &MotorError{Op: "sync write", Register: reg.Name, ID: firstID(ids), Motor: b.label(firstID(ids)),
			Err: fmt.Errorf("%w: %d ids but %d values", ErrValueRange, len(ids), len(values))}
	}
	data := make([][]byte, len(ids))
	for i, v := range values {
		d, err := reg.Encode(v)
		if err != nil {
			return b.motorErr("sync write", ids[i], reg.Name, 0, err)
		}
		data[i] = d
	}
	return b.syncWrite(ctx, reg.Addr, reg.Size, ids, data, reg.Name, opts)
}

func (b *Bus) syncWrite(ctx context.Context, addr byte, n int, ids []byte, data [][]byte, regName string, opts []CallOption) error {
	o := b.opts(b.cfg.Retries.SyncWrite, opts)
	fail := func(tries int, err error) error {
		return &MotorError{Op: "sync write", Register: regName, ID: firstID(ids), Motor: b.label(firstID(ids)), Tries: tries, Err: err}
	}
	if err := checkIDs(ids); err != nil {
		return fail(0, err)
	}
	if n <= 0 || n > 255 {
		return fail(0, fmt.Errorf("%w: %d bytes per motor", ErrValueRange, n))
	}
	pkt, err := SyncWritePacket(addr, byte(n), ids, data)
	if err != nil {
		return fail(0, err)
	}
	if len(pkt.Params)+minPacketLen > MaxPacketLen {
		return fail(0, fmt.Errorf("%w: packet of %d bytes", ErrValueRange, len(pkt.Params)+minPacketLen))
	}
	done, err := b.begin(ctx)
	if err != nil {
		return fail(0, err)
	}
	defer done()
	for try := 1; ; try++ {
		err := b.send(pkt)
		if err == nil || errors.Is(err, ErrClosed) || try > o.retries {
			if err != nil {
				return fail(try, err)
			}
			return nil
		}
	}
}
