package feetech

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// Port is the byte stream a Bus talks over: a serial device (OpenSerial), a
// pseudo-terminal (FilePort) or an in-memory Pipe.
//
// Read must return an error wrapping os.ErrDeadlineExceeded once the read
// deadline has passed (a zero time means no deadline). ResetInputBuffer
// discards bytes received but not yet read.
type Port interface {
	io.ReadWriteCloser
	SetReadDeadline(t time.Time) error
	ResetInputBuffer() error
}

// OpenSerial opens a serial device 8N1, raw, no flow control (§1.1).
func OpenSerial(path string, baud int) (Port, error) {
	if baud <= 0 {
		baud = DefaultBaud
	}
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("open serial port %s at %d baud: %w", path, baud, err)
	}
	return &serialPort{p: p}, nil
}

// serialPort adapts go.bug.st/serial (a read timeout per call, (0, nil) on
// expiry) to deadline semantics.
type serialPort struct {
	p        serial.Port
	mu       sync.Mutex
	deadline time.Time
}

// serialPoll bounds one blocking select so that a deadline moved by another
// goroutine (context cancellation) takes effect promptly.
const serialPoll = 20 * time.Millisecond

func (s *serialPort) Read(b []byte) (int, error) {
	for {
		s.mu.Lock()
		dl := s.deadline
		s.mu.Unlock()
		wait := serialPoll
		if !dl.IsZero() {
			left := time.Until(dl)
			if left <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			wait = min(wait, left)
		}
		if err := s.p.SetReadTimeout(wait); err != nil {
			return 0, err
		}
		n, err := s.p.Read(b)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (s *serialPort) Write(b []byte) (int, error) { return s.p.Write(b) }
func (s *serialPort) Close() error                { return s.p.Close() }
func (s *serialPort) ResetInputBuffer() error     { return s.p.ResetInputBuffer() }

func (s *serialPort) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	return nil
}

// FilePort wraps a terminal file, such as a pty end, as a Port. The file must
// support deadlines (opened non-blocking, so the runtime poller owns it).
func FilePort(f *os.File) Port { return filePort{f} }

type filePort struct{ *os.File }

func (f filePort) ResetInputBuffer() error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	if err := sc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetInt(int(fd), unix.TCFLSH, unix.TCIFLUSH)
	}); err != nil {
		return err
	}
	if errors.Is(ioErr, unix.ENOTTY) {
		return nil // not a terminal: nothing buffered by a line discipline
	}
	return ioErr
}
