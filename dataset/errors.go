package dataset

import (
	"errors"
	"strings"
)

// Errors a caller can act on.
var (
	ErrNotEmpty      = errors.New("dataset directory exists and is not empty")
	ErrEmptyEpisode  = errors.New("episode has no frames")
	ErrClosed        = errors.New("writer is closed")
	ErrUnsavedFrames = errors.New("unsaved frames discarded")
	ErrInvalidFrame  = errors.New("invalid frame")
	ErrInvalidConfig = errors.New("invalid writer config")
	ErrUnsupported   = errors.New("unsupported dataset")
	ErrInconsistent  = errors.New("inconsistent dataset")
	// ErrLocked: another writer has the dataset open (lock.go).
	ErrLocked = errors.New("dataset is being written by another writer")
	// ErrInterrupted: an episode save stopped half-way; Recover completes it (commit.go).
	ErrInterrupted = errors.New("interrupted episode save")
	// ErrInvalidDataset: Validate found problems.
	ErrInvalidDataset = errors.New("invalid dataset")
)

// problems is several errors reported together on one line ("a; b"), so
// that a command can print any error of this package as a single line.
type problems []error

func (p problems) Error() string {
	msgs := make([]string, len(p))
	for i, err := range p {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (p problems) Unwrap() []error { return p }

// joinProblems is nil for no errors, the error itself for one.
func joinProblems(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return problems(errs)
}
