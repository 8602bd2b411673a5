package dataset

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/e2hil/e2hil/internal/atomicfile"
)

// Saving an episode changes several files (videos, tasks, data, episodes
// metadata, stats, info.json). Each is written in full to a staging file and
// fsynced first; then a journal listing the renames is made durable; then
// the renames run, in an order that leaves info.json last; then the journal
// goes. A crash before the journal leaves the dataset as it was (staged
// files are ignored: they live under .e2hil/). A crash after it leaves the
// journal, and Recover finishes the renames: a save is all or nothing.
//
// The writer's private directory, .e2hil/ in the dataset root, holds the
// journal, the staging files, the videos being encoded and the lock file.
// LeRobot never looks there (it globs data/*/*.parquet and reads the paths
// in the metadata); Writer.Close removes it.
const (
	privateDir  = ".e2hil"
	journalName = "journal.json"
	stagingDir  = "staging"
	lockName    = "writer.lock"
)

// journal is what .e2hil/journal.json holds: the renames of one save,
// paths relative to the dataset root.
type journal struct {
	Episode int         `json:"episode"`
	Moves   [][2]string `json:"moves"` // [staged, final]
}

// commit collects the staged files of one episode save.
type commit struct {
	root    string
	episode int
	moves   [][2]string // relative [staged, final]
	ours    []bool      // moves[i] was written by the commit (abort removes it)
	seq     int
}

func newCommit(root string, episode int) *commit { return &commit{root: root, episode: episode} }

func (c *commit) abs(rel string) string { return filepath.Join(c.root, rel) }

// stagePath returns a fresh staging path (relative) for final.
func (c *commit) stagePath(final string) string {
	c.seq++
	base := strings.NewReplacer("/", "_", string(filepath.Separator), "_").Replace(final)
	return filepath.Join(privateDir, stagingDir, fmt.Sprintf("ep%06d-%02d-%s", c.episode, c.seq, base))
}

// write stages the new content of the file final (relative to the root).
// A staged file needs no rename of its own: it is written and fsynced in
// place, and apply makes the staging directory durable before the journal.
func (c *commit) write(final string, fill func(io.Writer) error) error {
	staged := c.stagePath(final)
	if err := writeDurable(c.abs(staged), fill); err != nil {
		return err
	}
	c.moves = append(c.moves, [2]string{staged, final})
	c.ours = append(c.ours, true)
	return nil
}

// move stages an existing file at path (absolute) to become final. The file
// must already be durable (fsynced) and lie under the dataset's private
// directory. With ours, abort removes it; otherwise its owner keeps it (a
// retried save reuses it).
func (c *commit) move(path, final string, ours bool) error {
	rel, err := filepath.Rel(c.root, path)
	if err != nil || !strings.HasPrefix(rel, privateDir+string(filepath.Separator)) {
		return fmt.Errorf("internal: staged file %s is not under %s", path, filepath.Join(c.root, privateDir))
	}
	c.moves = append(c.moves, [2]string{rel, final})
	c.ours = append(c.ours, ours)
	return nil
}

// stagedPath returns the absolute staged path of final, if staged.
func (c *commit) stagedPath(final string) (string, bool) {
	for _, m := range c.moves {
		if m[1] == final {
			return c.abs(m[0]), true
		}
	}
	return "", false
}

// abort removes the staged files of a commit that will not be applied.
func (c *commit) abort() {
	for i, m := range c.moves {
		if c.ours[i] {
			os.Remove(c.abs(m[0]))
		}
	}
	c.moves, c.ours = nil, nil
}

// commitHook lets tests stop apply after a number of renames, as a crash would.
var commitHook func(renamed int) error

// apply makes the staged files current: journal, renames, journal removal.
func (c *commit) apply() error {
	j, err := json.Marshal(journal{Episode: c.episode, Moves: c.moves})
	if err != nil {
		return err
	}
	// Every staged file's name must survive a crash before the journal
	// names it: Recover takes a missing staged file for one already renamed.
	var dirs []string
	for _, m := range c.moves {
		if d := filepath.Dir(c.abs(m[0])); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	jpath := filepath.Join(c.root, privateDir, journalName)
	if err := atomicfile.WriteFile(jpath, j, 0o644); err != nil {
		return err
	}
	if err := runMoves(c.root, c.moves, commitHook); err != nil {
		return fmt.Errorf("%w of episode %d (%s remains; Recover completes it): %w", ErrInterrupted, c.episode, jpath, err)
	}
	c.moves, c.ours = nil, nil
	if err := os.Remove(jpath); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(jpath))
}

// runMoves renames each staged file that still exists onto its final path
// (a missing one was renamed before a crash), then fsyncs every directory
// involved.
func runMoves(root string, moves [][2]string, hook func(int) error) error {
	var dirs []string
	for i, m := range moves {
		if hook != nil {
			if err := hook(i); err != nil {
				return err
			}
		}
		src, dst := filepath.Join(root, m[0]), filepath.Join(root, m[1])
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := atomicfile.MkdirAll(filepath.Dir(dst)); err != nil {
			return err
		}
		if err := os.Rename(src, dst); err != nil {
			return err
		}
		for _, d := range []string{filepath.Dir(src), filepath.Dir(dst)} {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	for _, d := range dirs {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// Recover completes an episode save that a crash interrupted after it began
// replacing files (see ErrInterrupted), and reports whether there was one.
// It then removes what a crashed writer left in the dataset's private
// directory (staged files, partial videos, the lock file). It refuses, with
// ErrLocked, while a writer has the dataset open.
func Recover(root string) (bool, error) {
	priv := filepath.Join(root, privateDir)
	if _, err := os.Stat(priv); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	lock, err := lockDataset(root)
	if err != nil {
		return false, err
	}
	done, err := replayJournal(root)
	if err == nil {
		err = os.RemoveAll(filepath.Join(priv, stagingDir))
	}
	if rerr := lock.release(); err == nil {
		err = rerr
	}
	if err != nil {
		return done, fmt.Errorf("recover %s: %w", root, err)
	}
	os.Remove(priv) // only if empty
	return done, nil
}

// replayJournal finishes the renames of .e2hil/journal.json, if any.
func replayJournal(root string) (bool, error) {
	jpath := filepath.Join(root, privateDir, journalName)
	b, err := os.ReadFile(jpath)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return false, fmt.Errorf("%s: %w", jpath, err)
	}
	for _, m := range j.Moves {
		for _, p := range m {
			if filepath.IsAbs(p) || strings.HasPrefix(filepath.Clean(p), "..") {
				return false, fmt.Errorf("%s: path %q leaves the dataset", jpath, p)
			}
		}
	}
	if err := runMoves(root, j.Moves, nil); err != nil {
		return false, err
	}
	if err := os.Remove(jpath); err != nil {
		return false, err
	}
	return true, atomicfile.SyncDir(filepath.Dir(jpath))
}

// writeDurable creates path (which must not exist) with what fill writes,
// and fsyncs it; on error the file is removed.
func writeDurable(path string, fill func(io.Writer) error) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	sink := &sinkWriter{w: bufio.NewWriterSize(f, 1<<20)}
	if err := fill(sink); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if sink.err != nil {
		return fmt.Errorf("write %s: %w", path, sink.err)
	}
	if err := sink.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	return f.Close()
}

// pendingJournal reports whether root has an unfinished save.
func pendingJournal(root string) bool {
	_, err := os.Stat(filepath.Join(root, privateDir, journalName))
	return err == nil
}
