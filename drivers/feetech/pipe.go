package feetech

import (
	"io"
	"os"
	"sync"
	"time"
)

// Pipe returns the two ends of an in-memory serial line. Unlike net.Pipe it
// buffers like a UART driver: Write never blocks, bytes wait until read.
// Closing either end closes the line: reads on both ends return io.EOF once
// drained, writes return io.ErrClosedPipe.
func Pipe() (Port, Port) {
	ab, ba := newPipeBuffer(), newPipeBuffer()
	done := make(chan struct{})
	var once sync.Once
	closeFn := func() {
		once.Do(func() {
			close(done)
			ab.close()
			ba.close()
		})
	}
	return &pipeEnd{rx: ba, tx: ab, closeFn: closeFn}, &pipeEnd{rx: ab, tx: ba, closeFn: closeFn}
}

type pipeBuffer struct {
	mu     sync.Mutex
	buf    []byte
	closed bool
	// ready is closed and replaced whenever bytes arrive or the line closes.
	ready chan struct{}
}

func newPipeBuffer() *pipeBuffer { return &pipeBuffer{ready: make(chan struct{})} }

func (p *pipeBuffer) signal() {
	close(p.ready)
	p.ready = make(chan struct{})
}

func (p *pipeBuffer) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	p.buf = append(p.buf, b...)
	p.signal()
	return len(b), nil
}

func (p *pipeBuffer) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.signal()
	}
}

type pipeEnd struct {
	rx, tx  *pipeBuffer
	closeFn func()

	dlMu     sync.Mutex
	deadline time.Time
	// dlChanged is closed and replaced when the deadline moves, waking a
	// blocked Read so it re-arms its timer.
	dlChanged chan struct{}
}

func (e *pipeEnd) Read(b []byte) (int, error) {
	for {
		e.rx.mu.Lock()
		if len(e.rx.buf) > 0 {
			n := copy(b, e.rx.buf)
			e.rx.buf = e.rx.buf[n:]
			if len(e.rx.buf) == 0 {
				e.rx.buf = nil
			}
			e.rx.mu.Unlock()
			return n, nil
		}
		if e.rx.closed {
			e.rx.mu.Unlock()
			return 0, io.EOF
		}
		ready := e.rx.ready
		e.rx.mu.Unlock()

		e.dlMu.Lock()
		dl := e.deadline
		if e.dlChanged == nil {
			e.dlChanged = make(chan struct{})
		}
		changed := e.dlChanged
		e.dlMu.Unlock()

		var timer *time.Timer
		var timeout <-chan time.Time
		if !dl.IsZero() {
			left := time.Until(dl)
			if left <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(left)
			timeout = timer.C
		}
		expired := false
		select {
		case <-ready:
		case <-changed:
		case <-timeout:
			expired = true
		}
		if timer != nil {
			timer.Stop()
		}
		if expired {
			return 0, os.ErrDeadlineExceeded
		}
	}
}

func (e *pipeEnd) Write(b []byte) (int, error) { return e.tx.write(b) }

func (e *pipeEnd) Close() error {
	e.closeFn()
	return nil
}

func (e *pipeEnd) SetReadDeadline(t time.Time) error {
	e.dlMu.Lock()
	e.deadline = t
	if e.dlChanged != nil {
		close(e.dlChanged)
		e.dlChanged = nil
	}
	e.dlMu.Unlock()
	return nil
}

func (e *pipeEnd) ResetInputBuffer() error {
	e.rx.mu.Lock()
	e.rx.buf = nil
	e.rx.mu.Unlock()
	return nil
}
