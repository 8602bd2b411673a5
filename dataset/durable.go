package dataset

import (
	"bufio"
	"io"
	"path/filepath"

	"github.com/e2hil/e2hil/internal/atomicfile"
)

// replaceFile makes path hold exactly what write produces, or leaves it as it
// was (temporary file, fsync, rename, directory fsync: internal/atomicfile),
// creating missing directories durably.
func replaceFile(path string, write func(w io.Writer) error) error {
	if err := atomicfile.MkdirAll(filepath.Dir(path)); err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(f io.Writer) error {
		sink := &sinkWriter{w: bufio.NewWriterSize(f, 1<<20)}
		if err := write(sink); err != nil {
			return err
		}
		if sink.err != nil {
			return sink.err
		}
		return sink.w.Flush()
	})
}

// sinkWriter records the first write error. It deliberately has no Close
// method: arrow-go's Parquet writer closes a sink that has one, and in v17 its
// Close drops the footer-write error, so we check err ourselves.
type sinkWriter struct {
	w   *bufio.Writer
	err error
}

func (s *sinkWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}
