package dataset

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Codebase version v2.1 (LeRobot ≤ 0.3, spec §1.1, §3.1): one data file and
// one mp4 per episode, and JSON-lines metadata that grows by a line per
// episode: tasks.jsonl, episodes.jsonl, episodes_stats.jsonl.

// stageV21 stages the v2.1 files of ep: its videos, its data file, the
// JSON-lines metadata, and the v2.1 totals of info.json.
func (w *Writer) stageV21(_ context.Context, c *commit, ep *Episode, pe *pendingEpisode, rec arrow.Record,
	tasks []string, info *Info) error {
	chunk := ep.Index / w.info.ChunksSize
	ep.DataChunk, ep.DataFile = chunk, ep.Index
	keys := info.VideoKeys()
	for _, key := range keys {
		part, ok := pe.videos[key]
		if !ok {
			return fmt.Errorf("internal: no video for %q", key)
		}
		seg := VideoSegment{Chunk: chunk, File: ep.Index, ToTimestamp: part.info.Duration}
		if ep.Videos == nil {
			ep.Videos = map[string]VideoSegment{}
		}
		ep.Videos[key] = seg
		final, err := info.VideoFile(*ep, key)
		if err != nil {
			return err
		}
		if err := c.stageFile(final, part); err != nil {
			return fmt.Errorf("video %q: %w", key, err)
		}
		if ep.Index == 0 {
			setVideoInfo(info, key, part.info)
		}
	}
	rel, err := info.DataFile(*ep)
	if err != nil {
		return err
	}
	// datasets 3.x writes row groups of 1000 rows, 100 with image columns.
	groupRows := int64(1000)
	for _, f := range w.features {
		if f.Dtype == "image" {
			groupRows = 100
		}
	}
	err = c.write(rel, func(out io.Writer) error {
		fw, err := newParquetWriter(out, w.dataSchema, w.mem)
		if err != nil {
			return err
		}
		defer fw.Close()
		for off := int64(0); off < rec.NumRows(); off += groupRows {
			s := rec.NewSlice(off, min(off+groupRows, rec.NumRows()))
			err := fw.Write(s)
			s.Release()
			if err != nil {
				return err
			}
		}
		return fw.Close()
	})
	if err != nil {
		return err
	}
	if len(tasks) != w.tasksOnDisk {
		if err := c.write(TasksPathV21, func(out io.Writer) error { return writeTasksJSONL(out, tasks) }); err != nil {
			return err
		}
	}
	episodes := append(append([]Episode(nil), w.episodes...), *ep)
	if err := c.write(EpisodesPathV21, func(out io.Writer) error { return writeEpisodesJSONL(out, episodes) }); err != nil {
		return err
	}
	if err := c.write(EpisodesStatsPathV21, func(out io.Writer) error { return writeEpisodesStatsJSONL(out, w.features, episodes) }); err != nil {
		return err
	}
	info.TotalVideos = len(episodes) * len(keys)
	info.TotalChunks = max(w.info.TotalChunks, chunk+1)
	return nil
}

// jsonLine is how the jsonlines library writes a line: json.dumps with
// ensure_ascii=False and the default separators.
func jsonLine(w io.Writer, v obj) error {
	b, err := pyJSON{}.marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

func writeTasksJSONL(w io.Writer, tasks []string) error {
	for i, t := range tasks {
		if err := jsonLine(w, obj{{"task_index", i}, {"task", t}}); err != nil {
			return err
		}
	}
	return nil
}

func writeEpisodesJSONL(w io.Writer, episodes []Episode) error {
	for _, e := range episodes {
		tasks := e.Tasks
		if tasks == nil {
			tasks = []string{}
		}
		if err := jsonLine(w, obj{{"episode_index", e.Index}, {"tasks", tasks}, {"length", e.Length}}); err != nil {
			return err
		}
	}
	return nil
}

func writeEpisodesStatsJSONL(w io.Writer, features []Feature, episodes []Episode) error {
	for _, e := range episodes {
		st := obj{}
		for _, f := range features {
			if s, ok := e.Stats[f.Name]; ok && f.hasStats() {
				st = append(st, member{f.Name, s.withoutQuantiles().statsJSON(f)})
			}
		}
		if err := jsonLine(w, obj{{"episode_index", e.Index}, {"stats", st}}); err != nil {
			return err
		}
	}
	return nil
}

// jsonlFile reads a JSON-lines file, calling fn with each line's object and
// its 1-based line number. Blank lines are skipped, as jsonlines does.
func jsonlFile(path string, fn func(line int, o obj) error) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return parseJSONL(filepath.Base(path), b, fn)
}

func parseJSONL(name string, b []byte, fn func(line int, o obj) error) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		v, err := decodeOrdered(text)
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", name, line, err)
		}
		o, ok := v.(obj)
		if !ok {
			return fmt.Errorf("%s: line %d: is %s, want an object", name, line, jsonKind(v))
		}
		if err := fn(line, o); err != nil {
			return fmt.Errorf("%s: line %d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (o obj) get(key string) (any, bool) {
	for _, m := range o {
		if m.key == key {
			return m.val, true
		}
	}
	return nil, false
}

// ParseTasksJSONL parses meta/tasks.jsonl and returns the tasks by
// task_index, which must run 0..T-1.
func ParseTasksJSONL(b []byte) ([]string, error) {
	byIndex := map[int]string{}
	err := parseJSONL("tasks.jsonl", b, func(_ int, o obj) error {
		iv, ok1 := o.get("task_index")
		tv, ok2 := o.get("task")
		if !ok1 {
			return errors.New("task_index: missing")
		}
		if !ok2 {
			return errors.New("task: missing")
		}
		i, err := asCount(iv)
		if err != nil {
			return fmt.Errorf("task_index: %w", err)
		}
		t, err := asString(tv)
		if err != nil {
			return fmt.Errorf("task: %w", err)
		}
		if _, dup := byIndex[i]; dup {
			return fmt.Errorf("task_index: %d appears twice", i)
		}
		byIndex[i] = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	tasks := make([]string, len(byIndex))
	for i := range tasks {
		t, ok := byIndex[i]
		if !ok {
			return nil, fmt.Errorf("tasks.jsonl: task_index: %d tasks but no task_index %d", len(byIndex), i)
		}
		tasks[i] = t
	}
	return tasks, nil
}

// ParseEpisodesJSONL parses meta/episodes.jsonl (episode_index, tasks,
// length per line) and returns the episodes in file order.
func ParseEpisodesJSONL(b []byte) ([]Episode, error) {
	var eps []Episode
	err := parseJSONL("episodes.jsonl", b, func(_ int, o obj) error {
		var e Episode
		seen := map[string]bool{}
		for _, m := range o {
			seen[m.key] = true
			var err error
			switch m.key {
			case "episode_index":
				e.Index, err = asCount(m.val)
			case "length":
				e.Length, err = asCount(m.val)
				if err == nil && e.Length == 0 {
					err = errors.New("must be > 0")
				}
			case "tasks":
				e.Tasks, err = asStrings(m.val)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", m.key, err)
			}
		}
		for _, k := range []string{"episode_index", "tasks", "length"} {
			if !seen[k] {
				return fmt.Errorf("%s: missing", k)
			}
		}
		eps = append(eps, e)
		return nil
	})
	return eps, err
}

// ParseEpisodesStatsJSONL parses meta/episodes_stats.jsonl into stats by
// episode index.
func ParseEpisodesStatsJSONL(b []byte) (map[int]map[string]Stats, error) {
	out := map[int]map[string]Stats{}
	err := parseJSONL("episodes_stats.jsonl", b, func(_ int, o obj) error {
		iv, ok1 := o.get("episode_index")
		sv, ok2 := o.get("stats")
		if !ok1 {
			return errors.New("episode_index: missing")
		}
		if !ok2 {
			return errors.New("stats: missing")
		}
		i, err := asCount(iv)
		if err != nil {
			return fmt.Errorf("episode_index: %w", err)
		}
		if _, dup := out[i]; dup {
			return fmt.Errorf("episode_index: %d appears twice", i)
		}
		st, err := parseStatsObject(sv)
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		out[i] = st
		return nil
	})
	return out, err
}

func asStrings(v any) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("is %s, want a list of strings", jsonKind(v))
	}
	out := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("[%d]: is %s, want a string", i, jsonKind(e))
		}
		out[i] = s
	}
	return out, nil
}

// openV21 reads a v2.1 dataset's JSON-lines metadata (spec §7.2).
func openV21(root string, info Info, mem memory.Allocator) (*Dataset, error) {
	d := &Dataset{Root: root, Info: info, mem: mem}
	var err error
	tb, err := os.ReadFile(filepath.Join(root, TasksPathV21))
	if err != nil {
		return nil, err
	}
	if d.Tasks, err = ParseTasksJSONL(tb); err != nil {
		return nil, fmt.Errorf("%s: %w", TasksPathV21, err)
	}
	eb, err := os.ReadFile(filepath.Join(root, EpisodesPathV21))
	if err != nil {
		return nil, err
	}
	eps, err := ParseEpisodesJSONL(eb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EpisodesPathV21, err)
	}
	sb, err := os.ReadFile(filepath.Join(root, EpisodesStatsPathV21))
	if err != nil {
		return nil, err
	}
	stats, err := ParseEpisodesStatsJSONL(sb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EpisodesStatsPathV21, err)
	}
	// legacy_load_episodes sorts by episode_index; indices must be 0..N-1.
	byIndex := make([]*Episode, len(eps))
	for i := range eps {
		e := &eps[i]
		if e.Index >= len(eps) || byIndex[e.Index] != nil {
			return nil, fmt.Errorf("%w: %s: episode_index %d: indices must be 0..%d, each once", ErrInconsistent, EpisodesPathV21, e.Index, len(eps)-1)
		}
		byIndex[e.Index] = e
	}
	var from int64
	keys := info.VideoKeys()
	for _, e := range byIndex {
		e.FromIndex, e.ToIndex = from, from+int64(e.Length)
		from = e.ToIndex
		e.DataChunk, e.DataFile = e.Index/max(info.ChunksSize, 1), e.Index
		e.Stats = stats[e.Index]
		for _, k := range keys {
			if e.Videos == nil {
				e.Videos = map[string]VideoSegment{}
			}
			e.Videos[k] = VideoSegment{Chunk: e.DataChunk, File: e.Index, ToTimestamp: float64(e.Length) / float64(info.FPS)}
		}
		d.Episodes = append(d.Episodes, *e)
	}
	// LeRobot ≤ 0.3 aggregates the episode stats on load (stats.json is v2.0's).
	if len(d.Episodes) > 0 {
		if d.Stats, err = aggregateEpisodes(info.Features, d.Episodes); err != nil {
			return nil, fmt.Errorf("%s: %w", EpisodesStatsPathV21, err)
		}
	}
	return d, nil
}
