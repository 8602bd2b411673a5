package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/e2hil/e2hil/internal/atomicfile"
)

// writerLock is an exclusive flock(2) on .e2hil/writer.lock. The kernel
// drops it when the process dies, so a crashed writer never blocks the
// next one; the file records the holder for the error message.
type writerLock struct {
	path string
	f    *os.File
}

func lockDataset(root string) (*writerLock, error) {
	dir := filepath.Join(root, privateDir)
	if err := atomicfile.MkdirAll(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, lockName)
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", root, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			holder, _ := os.ReadFile(path)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w: %s is locked by %s (lock file %s); wait for it to close or stop it",
					ErrLocked, root, describeHolder(string(holder)), path)
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// The previous holder may have removed the file between our open and
		// our flock; then we hold a lock on a deleted file. Check and retry.
		var a, b unix.Stat_t
		if unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat(path, &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
			host, _ := os.Hostname()
			f.Truncate(0)
			fmt.Fprintf(f, "pid %d on %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
			return &writerLock{path: path, f: f}, nil
		}
		f.Close()
		if attempt > 10 {
			return nil, fmt.Errorf("lock %s: lock file keeps changing", path)
		}
	}
}

func describeHolder(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "another process"
	}
	if pid, _, ok := strings.Cut(strings.TrimPrefix(s, "pid "), " "); ok {
		if _, err := strconv.Atoi(pid); err == nil {
			return "process " + s
		}
	}
	return s
}

// release removes the lock file while still holding the lock, then drops it.
func (l *writerLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	rmErr := os.Remove(l.path)
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	if rmErr != nil {
		return rmErr
	}
	return err
}
