package emulator

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/creack/pty"
	ft "github.com/e2hil/e2hil/drivers/feetech"
	"golang.org/x/sys/unix"
)

// Open serves the bus on a new pseudo-terminal (§9.1) and returns the
// emulator; a host opens Path() like a USB serial adapter. Both ends are
// raw: no echo, no line editing, no CR/LF translation. The emulator keeps
// the terminal end open too, so hosts may come and go.
func Open(cfg Config) (*Emulator, error) {
	e, err := New(cfg)
	if err != nil {
		return nil, err
	}
	master, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("emulator: open pty: %w", err)
	}
	for _, f := range []*os.File{tty, master} {
		if err := makeRaw(f); err != nil {
			master.Close()
			tty.Close()
			return nil, fmt.Errorf("emulator: raw mode on %s: %w", f.Name(), err)
		}
	}
	e.path = tty.Name()
	e.start(master, master, tty)
	return e, nil
}

// Path is the terminal a host opens (a /dev/pts/N path), or "" when the
// emulator does not serve a pty.
func (e *Emulator) Path() string { return e.path }

// makeRaw is cfmakeraw(3): 8N1, no echo, no canonical mode, no signals, no
// input or output processing; reads return as soon as one byte is there.
func makeRaw(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	err = sc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			ioErr = err
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CRTSCTS
		t.Cflag |= unix.CS8 | unix.CLOCAL | unix.CREAD
		t.Cc[unix.VMIN] = 1
		t.Cc[unix.VTIME] = 0
		ioErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	})
	if err != nil {
		return err
	}
	return ioErr
}

// isClosed: reading a closed file, or a pty master whose other side went
// away (EIO).
func isClosed(err error) bool {
	return errors.Is(err, os.ErrClosed) || errors.Is(err, fs.ErrClosed) || errors.Is(err, syscall.EIO)
}

// Scheme is the port prefix that selects the emulator: emu://so101.
const Scheme = "emu://"

// IsURL reports whether a port name selects the emulator.
func IsURL(port string) bool { return strings.HasPrefix(port, Scheme) }

// presets are the buses emu://NAME can run.
var presets = map[string]func() Config{
	"so101": SO101,
}

// OpenURL starts the emulator a port URL names (emu://so101) on a pty and
// opens it as a serial port at baud. Closing the port stops the emulator.
func OpenURL(port string, baud int) (ft.Port, *Emulator, error) {
	u, err := url.Parse(port)
	if err != nil || u.Scheme+"://" != Scheme {
		return nil, nil, fmt.Errorf("emulator: port %q: want %sNAME", port, Scheme)
	}
	preset, ok := presets[u.Host]
	if !ok {
		return nil, nil, fmt.Errorf("emulator: port %q: unknown bus %q (known: so101)", port, u.Host)
	}
	e, err := Open(preset())
	if err != nil {
		return nil, nil, err
	}
	p, err := ft.OpenSerial(e.Path(), baud)
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	return &emuPort{Port: p, e: e}, e, nil
}

// emuPort is a serial port whose Close also stops its emulator.
type emuPort struct {
	ft.Port
	e *Emulator
}

func (p *emuPort) Close() error {
	err := p.Port.Close()
	if cerr := p.e.Close(); err == nil {
		err = cerr
	}
	return err
}
