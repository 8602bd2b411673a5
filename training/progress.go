package training

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/e2hil/e2hil/training/sac"
)

// progress prints a live line: rewritten in place on a terminal, one line
// every ~10 s otherwise (logs, CI).
type progress struct {
	w        io.Writer
	tty      bool
	total    int
	start    time.Time
	last     time.Time
	every    time.Duration
	lastStep int
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, start: time.Now(), every: 10 * time.Second}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.every = true, 200*time.Millisecond
		}
	}
	p.last = p.start
	return p
}

func (p *progress) update(r *Result, m sac.Metrics, success, ret float64) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	rate := float64(r.EnvSteps-p.lastStep) / now.Sub(p.last).Seconds()
	p.last, p.lastStep = now, r.EnvSteps
	eta := time.Duration(float64(p.total-r.EnvSteps) / rate * float64(time.Second)).Round(time.Second)
	line := fmt.Sprintf("train %5.1f%% step %d/%d | ep %d | success(last 20) %3.0f%% return(last 10) %.1f | critic %.4f actor %+.3f α %.4f H %+.2f | %.0f steps/s | eta %s",
		100*float64(r.EnvSteps)/float64(p.total), r.EnvSteps, p.total, r.Episodes, 100*success, ret,
		m.CriticLoss, m.ActorLoss, m.Temperature, m.Entropy, rate, eta)
	if m.Selection {
		line += fmt.Sprintf(" | e2hil keep %.0f%%", 100*m.KeepRatio)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done(r *Result, m sac.Metrics) {
	if p.w == nil {
		return
	}
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "trained: %d env steps, %d episodes, %d updates in %s (last 20 training episodes: success %.0f%%; last 10: mean return %.1f)\n",
		r.EnvSteps, r.Episodes, r.Updates, r.Duration.Round(time.Second), 100*r.RecentSuccessRate, r.RecentReturn)
}
