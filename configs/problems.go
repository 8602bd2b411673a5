package configs

import (
	"fmt"
	"strings"
)

// Problems collects validation problems, each prefixed by its JSON path
// ("policy.utd_ratio: must be ≥ 1, got 0").
type Problems []string

func (p *Problems) check(ok bool, path, format string, args ...any) {
	if !ok {
		*p = append(*p, path+": "+fmt.Sprintf(format, args...))
	}
}

func (p *Problems) merge(prefix string, sub Problems) {
	for _, s := range sub {
		*p = append(*p, prefix+"."+s)
	}
}

// Err returns nil when there are no problems, else an error listing them all.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}

// ValidationError lists every problem found in a config.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid config: " + e.Problems[0]
	}
	return "invalid config:\n  " + strings.Join(e.Problems, "\n  ")
}
