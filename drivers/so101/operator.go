package so101

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Operator is the person at the arm during calibration.
type Operator interface {
	// Say shows a message.
	Say(msg string)
	// Prompt shows msg (which may be empty) and waits for one line of
	// input, returned without its newline. It returns ctx's error when ctx
	// ends first.
	Prompt(ctx context.Context, msg string) (string, error)
	// ShowRanges shows the live table while ranges are recorded.
	ShowRanges(rows []RangeRow)
}

// Console is an Operator on a terminal (or any reader and writer). Lines
// are read by one goroutine, started at the first Prompt, that ends when
// the input ends or fails: a blocked read of a terminal cannot be
// interrupted, so a Prompt cancelled by its context leaves the next line
// to the next Prompt.
type Console struct {
	in  io.Reader
	out io.Writer
	tty bool

	once  sync.Once
	lines chan string
	end   error // why the input ended; set before lines is closed

	mu        sync.Mutex
	tableRows int // lines of the last table, for redrawing in place
}

// NewConsole returns an Operator reading lines from in and writing to out.
func NewConsole(in io.Reader, out io.Writer) *Console {
	return &Console{in: in, out: out, tty: isTerminal(out)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Say prints msg on its own line.
func (c *Console) Say(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tableRows = 0
	fmt.Fprintln(c.out, msg)
}

// Prompt prints msg and waits for a line.
func (c *Console) Prompt(ctx context.Context, msg string) (string, error) {
	if msg != "" {
		c.mu.Lock()
		c.tableRows = 0
		fmt.Fprint(c.out, msg)
		c.mu.Unlock()
	}
	c.once.Do(func() {
		c.lines = make(chan string)
		go func() {
			sc := bufio.NewScanner(c.in)
			for sc.Scan() {
				c.lines <- strings.TrimRight(sc.Text(), "\r")
			}
			err := sc.Err()
			if err == nil {
				err = io.EOF
			}
			// Every later Prompt sees the end of the input.
			c.end = fmt.Errorf("reading the operator's answer: %w", err)
			close(c.lines)
		}()
	})
	select {
	case l, ok := <-c.lines:
		if !ok {
			return "", c.end
		}
		return l, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// ShowRanges prints LeRobot's NAME | MIN | POS | MAX table, redrawing it in
// place on a terminal.
func (c *Console) ShowRanges(rows []RangeRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	if c.tty && c.tableRows > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", c.tableRows)
	}
	b.WriteString("\n-------------------------------------------\n")
	fmt.Fprintf(&b, "%-15s | %6s | %6s | %6s\n", "NAME", "MIN", "POS", "MAX")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-15s | %6d | %6d | %6d\n", r.Motor, r.Min, r.Pos, r.Max)
	}
	c.tableRows = len(rows) + 3
	io.WriteString(c.out, b.String())
}
