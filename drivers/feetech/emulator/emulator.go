package emulator

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"time"

	ft "github.com/e2hil/e2hil/drivers/feetech"
)

// Corruption is a fault applied to one reply of a servo.
type Corruption int

const (
	// CorruptChecksum sends the reply with a wrong checksum (the host
	// reports COMM_RX_CORRUPT).
	CorruptChecksum Corruption = iota + 1
	// CorruptTruncate sends only the first half of the reply (a partial
	// packet at the host's deadline).
	CorruptTruncate
	// CorruptNoise sends line noise before the reply; the host must resync
	// on FF FF (§1.5).
	CorruptNoise
	// CorruptDrop loses the reply altogether.
	CorruptDrop
)

func (c Corruption) String() string {
	switch c {
	case CorruptChecksum:
		return "checksum"
	case CorruptTruncate:
		return "truncate"
	case CorruptNoise:
		return "noise"
	case CorruptDrop:
		return "drop"
	}
	return fmt.Sprintf("Corruption(%d)", int(c))
}

// Violation is a Goal_Position write outside the limits set with
// SetGoalLimits: the safety invariant the so101 driver must never break.
type Violation struct {
	ID     byte
	Instr  ft.Instr
	Goal   int // the register's unsigned value after the write
	Lo, Hi int
}

func (v Violation) String() string {
	return fmt.Sprintf("%s wrote Goal_Position %d to id %d outside [%d, %d]", v.Instr, v.Goal, v.ID, v.Lo, v.Hi)
}

// Request is one instruction packet the emulator received.
type Request struct {
	ID    byte
	Instr ft.Instr
	// Addr and Len: the register range of READ, WRITE, REG_WRITE, SYNC_READ
	// and SYNC_WRITE (Len is the data length per servo).
	Addr, Len int
	// IDs lists the servos a SYNC_READ or SYNC_WRITE addresses.
	IDs []byte
}

// maxLog bounds the request log (the oldest entries are dropped).
const maxLog = 4096

// Emulator is a bus of STS3215 servos answering instruction packets. It is
// safe for concurrent use: tests move joints, inject faults and read the
// request log while a host talks to it.
type Emulator struct {
	cfg Config

	mu         sync.Mutex
	servos     []*servo
	last       time.Time
	limits     map[byte][2]int
	violations []Violation
	log        []Request
	path       string
	counts     map[ft.Instr]int
	malformed  int

	// The line the emulator serves, and the goroutine serving it.
	closeOnce sync.Once
	closers   []io.Closer
	done      chan struct{}
	serveErr  error
}

// New builds an emulator; it serves nothing until Serve, Open or OpenPipe.
func New(cfg Config) (*Emulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	e := &Emulator{cfg: cfg, limits: map[byte][2]int{}, counts: map[ft.Instr]int{}}
	now := cfg.Clock.Now()
	for i, sc := range cfg.Servos {
		s := newServo(sc)
		s.index = i
		s.releaseHand(now)
		e.servos = append(e.servos, s)
	}
	e.last = now
	return e, nil
}

// Serve answers instruction packets read from conn until reading fails; it
// returns nil on io.EOF or a closed line. Serve is what Open and OpenPipe
// run in their goroutine; call it directly to serve another transport.
func (e *Emulator) Serve(conn io.ReadWriter) error {
	buf := make([]byte, 0, 1024)
	chunk := make([]byte, 512)
	var out []byte
	for {
		n, err := conn.Read(chunk)
		if n > 0 {
			buf = append(buf, chunk[:n]...)
			out = out[:0]
			buf, out = e.process(buf, out)
			if len(out) > 0 {
				if e.cfg.Latency > 0 {
					time.Sleep(e.cfg.Latency)
				}
				if _, werr := conn.Write(out); werr != nil {
					return closedOK(werr)
				}
			}
		}
		if err != nil {
			return closedOK(err)
		}
	}
}

func closedOK(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || isClosed(err) {
		return nil
	}
	return err
}

// process consumes every complete instruction in buf and appends the
// replies to out. It returns the unconsumed tail of buf.
func (e *Emulator) process(buf, out []byte) ([]byte, []byte) {
	for {
		p, n, err := ft.ScanInstruction(buf)
		switch {
		case err == nil:
			out = e.Handle(p, out)
		case errors.Is(err, ft.ErrChecksum):
			// A bad checksum gets no reply (§9.2, real behaviour UNVERIFIED).
			e.mu.Lock()
			e.malformed++
			e.mu.Unlock()
		}
		buf = append(buf[:0], buf[n:]...)
		if err != nil && !errors.Is(err, ft.ErrChecksum) {
			return buf, out
		}
	}
}

// Handle executes one instruction packet and appends the replies the
// servos send (§1.4). It is exported for tests of the reply rules.
func (e *Emulator) Handle(p ft.Instruction, out []byte) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	req := Request{ID: p.ID, Instr: p.Instr}
	e.counts[p.Instr]++
	defer func() {
		if len(e.log) == maxLog {
			copy(e.log, e.log[1:])
			e.log = e.log[:maxLog-1]
		}
		e.log = append(e.log, req)
	}()
	bcast := p.ID == ft.BroadcastID
	switch p.Instr {
	case ft.InstrPing:
		if len(p.Params) != 0 {
			e.malformed++
			return out
		}
		if bcast {
			// Every servo answers, back to back in ascending ID (§9.2).
			for _, s := range e.sorted() {
				out = e.reply(s, s.id(), nil, out)
			}
			return out
		}
		if s := e.find(p.ID); s != nil {
			out = e.reply(s, s.id(), nil, out)
		}
	case ft.InstrRead:
		if len(p.Params) != 2 {
			e.malformed++
			return out
		}
		req.Addr, req.Len = int(p.Params[0]), int(p.Params[1])
		if s := e.find(p.ID); s != nil && !bcast {
			out = e.reply(s, s.id(), s.readMem(req.Addr, req.Len), out)
		}
	case ft.InstrWrite, ft.InstrRegWrite:
		if len(p.Params) < 2 {
			e.malformed++
			return out
		}
		req.Addr, req.Len = int(p.Params[0]), len(p.Params)-1
		for _, s := range e.addressed(p.ID) {
			// The reply follows the servo's state when the packet arrived: an
			// ID change answers from the old ID, then switches (§9.4).
			old, answers := s.id(), s.answersAll()
			if p.Instr == ft.InstrWrite {
				e.write(s, p.Instr, req.Addr, p.Params[1:])
			} else {
				s.pending = append([]byte(nil), p.Params...)
			}
			if !bcast && answers {
				out = e.reply(s, old, nil, out)
			}
		}
	case ft.InstrAction:
		for _, s := range e.addressed(p.ID) {
			if s.pending != nil {
				pend := s.pending
				s.pending = nil
				e.write(s, ft.InstrRegWrite, int(pend[0]), pend[1:])
			}
			if !bcast && s.answersAll() {
				out = e.reply(s, s.id(), nil, out)
			}
		}
	case ft.InstrSyncRead:
		if !bcast || len(p.Params) < 3 {
			e.malformed++
			return out
		}
		req.Addr, req.Len = int(p.Params[0]), int(p.Params[1])
		req.IDs = append([]byte(nil), p.Params[2:]...)
		// Each listed servo answers in request order; absent ones are missing.
		for _, id := range req.IDs {
			if s := e.find(id); s != nil {
				out = e.reply(s, s.id(), s.readMem(req.Addr, req.Len), out)
			}
		}
	case ft.InstrSyncWrite:
		if !bcast || len(p.Params) < 2 {
			e.malformed++
			return out
		}
		addr, l := int(p.Params[0]), int(p.Params[1])
		body := p.Params[2:]
		if l == 0 || len(body)%(l+1) != 0 {
			e.malformed++
			return out
		}
		req.Addr, req.Len = addr, l
		for i := 0; i < len(body); i += l + 1 {
			id := body[i]
			req.IDs = append(req.IDs, id)
			if s := e.find(id); s != nil {
				e.write(s, ft.InstrSyncWrite, addr, body[i+1:i+1+l])
			}
		}
	default:
		// Unknown instruction: no reply (§9.2).
		e.malformed++
	}
	return out
}

// reply appends s's status packet unless a fault swallows or mangles it.
func (e *Emulator) reply(s *servo, id byte, params []byte, out []byte) []byte {
	if s.silent {
		return out
	}
	var c Corruption
	if len(s.corrupt) > 0 {
		c = s.corrupt[0]
		s.corrupt = s.corrupt[1:]
	}
	if c == CorruptDrop {
		return out
	}
	if c == CorruptNoise {
		// Bytes that cannot start a header, then a lone FF (§1.5 resync).
		out = append(out, 0x00, 0x55, 0xFF, 0x13)
	}
	start := len(out)
	out, err := ft.Status{ID: id, Error: s.errBits, Params: params}.Append(out)
	if err != nil {
		return out[:start]
	}
	switch c {
	case CorruptChecksum:
		out[len(out)-1] ^= 0x5A
	case CorruptTruncate:
		out = out[:start+(len(out)-start)/2]
	}
	return out
}

// write applies a write to s and checks a Goal_Position it touches.
func (e *Emulator) write(s *servo, instr ft.Instr, addr int, data []byte) {
	now := e.cfg.Clock.Now()
	touchesGoal := s.write(addr, data, now)
	if !touchesGoal {
		return
	}
	id := s.id()
	lim, ok := e.limits[id]
	if !ok {
		return
	}
	goal := s.u16(ft.GoalPosition)
	if goal < lim[0] || goal > lim[1] {
		v := Violation{ID: id, Instr: instr, Goal: goal, Lo: lim[0], Hi: lim[1]}
		e.violations = append(e.violations, v)
		if e.cfg.OnViolation != nil {
			e.cfg.OnViolation(v)
		}
	}
}

// advance integrates motion up to the clock's now.
func (e *Emulator) advance() {
	now := e.cfg.Clock.Now()
	dt := now.Sub(e.last)
	if dt < 0 {
		dt = 0
	}
	e.last = now
	for _, s := range e.servos {
		if s.torqueOn() {
			s.step(dt, e.cfg.MaxSpeed)
		} else if e.cfg.Hand != nil {
			s.handMove(now, e.cfg.Hand)
		}
		s.refresh()
	}
}

func (e *Emulator) find(id byte) *servo {
	for _, s := range e.servos {
		if s.id() == id {
			return s
		}
	}
	return nil
}

func (e *Emulator) addressed(id byte) []*servo {
	if id == ft.BroadcastID {
		return e.servos
	}
	if s := e.find(id); s != nil {
		return []*servo{s}
	}
	return nil
}

func (e *Emulator) sorted() []*servo {
	out := append([]*servo(nil), e.servos...)
	sort.Slice(out, func(i, j int) bool { return out[i].id() < out[j].id() })
	return out
}

// Servo returns a handle on the servo that currently has id, or nil.
func (e *Emulator) Servo(id byte) *Servo {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.find(id)
	if s == nil {
		return nil
	}
	return &Servo{e: e, s: s}
}

// SetGoalLimits arms the safety assertion for id: every later
// Goal_Position write outside [lo, hi] is recorded as a Violation.
func (e *Emulator) SetGoalLimits(id byte, lo, hi int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.limits[id] = [2]int{lo, hi}
}

// Violations returns the out-of-range Goal_Position writes so far.
func (e *Emulator) Violations() []Violation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Violation(nil), e.violations...)
}

// Requests returns the instruction log (at most the last 4096 packets).
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Request, len(e.log))
	for i, r := range e.log {
		r.IDs = append([]byte(nil), r.IDs...)
		out[i] = r
	}
	return out
}

// Count returns how many packets of instr were received.
func (e *Emulator) Count(instr ft.Instr) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[instr]
}

// Malformed counts packets dropped without reply: bad checksum,
// inconsistent length, unknown instruction.
func (e *Emulator) Malformed() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.malformed
}

// ResetLog clears the request log and the counters.
func (e *Emulator) ResetLog() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = e.log[:0]
	e.counts = map[ft.Instr]int{}
	e.malformed = 0
}

// Servo is a test's hand on one emulated servo.
type Servo struct {
	e *Emulator
	s *servo
}

func (h *Servo) do(f func(s *servo)) {
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	h.e.advance()
	f(h.s)
	h.s.refresh()
}

// SetPosition moves the shaft to raw steps (any value; it wraps to one
// turn): the hand that moves a joint while torque is off.
func (h *Servo) SetPosition(raw int) {
	h.do(func(s *servo) {
		s.raw = float64(mod(raw, stepsTurn))
		s.vel = 0
		s.releaseHand(h.e.cfg.Clock.Now())
	})
}

// Raw is the shaft angle in steps, [0, 4096).
func (h *Servo) Raw() int {
	var r int
	h.do(func(s *servo) { r = mod(int(math.Round(s.raw)), stepsTurn) })
	return r
}

// Register reads a register's decoded value from the memory image.
func (h *Servo) Register(r ft.Register) int {
	var v int
	h.do(func(s *servo) { v = s.reg(r) })
	return v
}

// SetSilent makes the servo ignore every packet (unplugged or dead).
func (h *Servo) SetSilent(silent bool) { h.do(func(s *servo) { s.silent = silent }) }

// SetFault sets status-error bits (ft.ErrBitOverload, …): they appear in
// the Status register and in every reply's ERR byte; 0 clears them.
func (h *Servo) SetFault(bits byte) { h.do(func(s *servo) { s.errBits = bits }) }

// Corrupt queues faults for the servo's next replies, one per reply.
func (h *Servo) Corrupt(c ...Corruption) {
	h.do(func(s *servo) { s.corrupt = append(s.corrupt, c...) })
}

// ClearFaults undoes SetSilent, SetFault and pending corruptions.
func (h *Servo) ClearFaults() {
	h.do(func(s *servo) {
		s.silent, s.errBits, s.corrupt = false, 0, nil
	})
}

// PowerCycle reloads EEPROM from flash and resets RAM (§9.4).
func (h *Servo) PowerCycle() { h.do(func(s *servo) { s.powerCycle(h.e.cfg.Clock.Now()) }) }

// Close stops serving and releases the line. It waits for the serving
// goroutine.
func (e *Emulator) Close() error {
	var err error
	e.closeOnce.Do(func() {
		for _, c := range e.closers {
			if cerr := c.Close(); cerr != nil && err == nil && !isClosed(cerr) {
				err = cerr
			}
		}
		if e.done != nil {
			<-e.done
			if err == nil {
				err = e.serveErr
			}
		}
	})
	return err
}

// start runs Serve on conn in a goroutine owned by the emulator; closers
// are closed, in order, by Close.
func (e *Emulator) start(conn io.ReadWriter, closers ...io.Closer) {
	e.closers = closers
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		e.serveErr = e.Serve(conn)
	}()
}

// OpenPipe serves the bus on an in-memory line and returns the host's end.
// Closing the emulator closes the line.
func OpenPipe(cfg Config) (*Emulator, ft.Port, error) {
	e, err := New(cfg)
	if err != nil {
		return nil, nil, err
	}
	host, dev := ft.Pipe()
	e.start(dev, dev)
	return e, host, nil
}
