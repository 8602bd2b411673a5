package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/e2hil/e2hil/dataset/video"
)

// pendingEpisode is an episode ready to be written: from the writer's
// buffers (SaveEpisode) or from another dataset (Convert).
type pendingEpisode struct {
	length     int
	frameTasks []string // task of every frame
	// record builds the data rows once the episode's index, first global
	// index and task indices are known.
	record func(epIndex int, from int64, taskIdx []int64) (arrow.Record, error)
	// stats of the user features, and of the defaults unless defaultStats
	// asks the writer to compute them.
	stats        map[string]Stats
	defaultStats bool
	videos       map[string]videoPart // by video key
}

// videoPart is an episode's mp4 for one video key.
type videoPart struct {
	path  string
	owned bool // a file under .e2hil the dataset may take over; else copied
	info  video.Info
}

const mib = 1 << 20

// appendEpisode writes pe as the next episode, all files or none.
func (w *Writer) appendEpisode(ctx context.Context, pe *pendingEpisode) error {
	epIndex := len(w.episodes)
	n := pe.length
	if n == 0 || len(pe.frameTasks) != n {
		return fmt.Errorf("internal: %d frames with %d tasks", n, len(pe.frameTasks))
	}
	// Tasks: new ones get the next task_index, in order of first appearance.
	tasks := slices.Clone(w.tasks)
	var epTasks []string
	taskIdx := make([]int64, n)
	for i, t := range pe.frameTasks {
		ti := slices.Index(tasks, t)
		if ti < 0 {
			ti = len(tasks)
			tasks = append(tasks, t)
		}
		if !slices.Contains(epTasks, t) {
			epTasks = append(epTasks, t)
		}
		taskIdx[i] = int64(ti)
	}
	from := w.frames
	rec, err := pe.record(epIndex, from, taskIdx)
	if err != nil {
		return err
	}
	defer rec.Release()
	if rec.NumRows() != int64(n) {
		return fmt.Errorf("internal: record has %d rows for %d frames", rec.NumRows(), n)
	}
	stats := maps.Clone(pe.stats)
	if pe.defaultStats {
		ts := make([]float64, n)
		frameIdx := make([]int64, n)
		for i := range ts {
			// LeRobot buffers timestamps as Python floats, so their stats are
			// of frame_index/fps, not of the stored float32.
			ts[i] = float64(i) / float64(w.info.FPS)
			frameIdx[i] = int64(i)
		}
		maps.Copy(stats, defaultStats(ts, frameIdx, epIndex, from, taskIdx, w.quantiles))
	}
	for _, f := range w.features {
		if _, ok := stats[f.Name]; f.hasStats() && !ok {
			return fmt.Errorf("internal: no stats for feature %q", f.Name)
		}
	}

	ep := Episode{
		Index:     epIndex,
		Length:    n,
		Tasks:     epTasks,
		FromIndex: from,
		ToIndex:   from + int64(n),
		Stats:     stats,
	}
	info := w.info
	info.Features = slices.Clone(w.info.Features)
	info.TotalEpisodes = epIndex + 1
	info.TotalFrames = int(from) + n
	info.TotalTasks = len(tasks)
	info.Splits = map[string]string{"train": fmt.Sprintf("0:%d", epIndex+1)}

	c := newCommit(w.root, epIndex)
	var (
		videos     map[string]videoFile
		data, meta openFile
	)
	if w.v21 {
		err = w.stageV21(ctx, c, &ep, pe, rec, tasks, &info)
	} else {
		videos, data, meta, err = w.stageV30(ctx, c, &ep, pe, rec, tasks, &info)
	}
	if err == nil {
		err = c.write(InfoPath, func(out io.Writer) error {
			b, err := info.EncodeJSON()
			if err != nil {
				return err
			}
			_, err = out.Write(b)
			return err
		})
	}
	if err != nil {
		c.abort()
		return err
	}
	if err := c.apply(); err != nil {
		if errors.Is(err, ErrInterrupted) {
			w.failed = err
		} else {
			c.abort()
		}
		return err
	}
	w.tasks, w.frames, w.info, w.tasksOnDisk = tasks, from+int64(n), info, len(tasks)
	w.episodes = append(w.episodes, ep)
	if !w.v21 {
		w.videos, w.data, w.meta = videos, data, meta
	}
	return nil
}

// setVideoInfo fills a video feature's "info" from its first episode's mp4,
// as LeRobot's update_video_info does, in the key style of LeRobot 0.3–0.5
// (spec §2), which every LeRobot version reads.
func setVideoInfo(info *Info, key string, vi video.Info) {
	for i, f := range info.Features {
		if f.Name != key || f.Info != nil {
			continue
		}
		o := obj{
			{"video.height", vi.Height},
			{"video.width", vi.Width},
			{"video.codec", vi.Codec},
			{"video.pix_fmt", vi.PixFmt},
			{"video.is_depth_map", false},
			{"video.fps", int(vi.FPS)},
			{"video.channels", vi.Channels()},
			{"has_audio", vi.HasAudio},
		}
		raw, err := rawJSON(o)
		if err == nil {
			f.Info = raw
			info.Features[i] = f
		}
	}
}

// stageV30 stages the v3.0 files of ep: each video appended to (or starting)
// its mp4, tasks.parquet, the data file, the episodes file and stats.json
// (spec §1.2). It returns the streams' new states.
func (w *Writer) stageV30(ctx context.Context, c *commit, ep *Episode, pe *pendingEpisode, rec arrow.Record,
	tasks []string, info *Info) (map[string]videoFile, openFile, openFile, error) {
	videos := maps.Clone(w.videos)
	for _, f := range w.features {
		if !f.isVideo() {
			continue
		}
		part, ok := pe.videos[f.Name]
		if !ok {
			return nil, openFile{}, openFile{}, fmt.Errorf("internal: no video for %q", f.Name)
		}
		vf, seg, err := w.stageVideoV30(ctx, c, ep, f.Name, part, videos[f.Name])
		if err != nil {
			return nil, openFile{}, openFile{}, fmt.Errorf("video %q: %w", f.Name, err)
		}
		videos[f.Name] = vf
		if ep.Videos == nil {
			ep.Videos = map[string]VideoSegment{}
		}
		ep.Videos[f.Name] = seg
		if ep.Index == 0 {
			setVideoInfo(info, f.Name, part.info)
		}
	}
	if len(tasks) != w.tasksOnDisk {
		if err := c.write(TasksPath, func(out io.Writer) error { return writeTasks(out, tasks, w.mem) }); err != nil {
			return nil, openFile{}, openFile{}, err
		}
	}
	data, err := w.stageData(c, rec)
	if err != nil {
		return nil, openFile{}, openFile{}, err
	}
	ep.DataChunk, ep.DataFile = data.loc.chunk, data.loc.file
	episodes := append(slices.Clip(w.episodes), *ep)
	meta, err := w.stageEpisodes(c, episodes)
	if err != nil {
		return nil, openFile{}, openFile{}, err
	}
	*ep = episodes[len(episodes)-1] // with its meta/episodes location
	b, err := w.statsJSON(episodes)
	if err != nil {
		return nil, openFile{}, openFile{}, err
	}
	if err := c.write(StatsPath, writeBytes(b)); err != nil {
		return nil, openFile{}, openFile{}, err
	}
	return videos, data, meta, nil
}

// stageVideoV30 places one episode's mp4: in a new file when the key has
// none yet or the current one would reach video_files_size_in_mb, else
// concatenated to the current one (stream copy). from_timestamp is the
// current file's duration; with episodes encoded here every duration is
// frames/fps, computed without accumulating rounding (lerobot#3177).
func (w *Writer) stageVideoV30(ctx context.Context, c *commit, ep *Episode, key string, part videoPart, cur videoFile) (videoFile, VideoSegment, error) {
	dur := part.info.Duration
	n := ep.Length
	exact := closeTo(dur, float64(n)/float64(w.info.FPS), 1e-9)
	finalOf := func(loc fileLoc) (string, error) {
		return formatPath(w.info.VideoPath, map[string]any{"video_key": key, "chunk_index": loc.chunk, "file_index": loc.file})
	}
	sizeMB := float64(part.info.Size) / mib
	if !cur.started || float64(cur.bytes)/mib+sizeMB >= w.videoLimitMB {
		loc := fileLoc{}
		if cur.started {
			loc = cur.loc.next(w.info.ChunksSize)
		}
		final, err := finalOf(loc)
		if err != nil {
			return videoFile{}, VideoSegment{}, err
		}
		if err := c.stageFile(final, part); err != nil {
			return videoFile{}, VideoSegment{}, err
		}
		return videoFile{started: true, loc: loc, frames: n, end: dur, bytes: part.info.Size},
			VideoSegment{Chunk: loc.chunk, File: loc.file, FromTimestamp: 0, ToTimestamp: dur}, nil
	}
	final, err := finalOf(cur.loc)
	if err != nil {
		return videoFile{}, VideoSegment{}, err
	}
	out := c.abs(c.stagePath(final))
	err = video.Concat(ctx, out, []video.Segment{
		{Path: filepath.Join(w.root, final), Duration: cur.end},
		{Path: part.path, Duration: dur},
	})
	if err == nil {
		err = fsyncFile(out)
	}
	if err != nil {
		os.Remove(out)
		return videoFile{}, VideoSegment{}, err
	}
	if err := c.move(out, final, true); err != nil {
		return videoFile{}, VideoSegment{}, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return videoFile{}, VideoSegment{}, err
	}
	from, to := cur.end, cur.end+dur
	if exact && cur.end == float64(cur.frames)/float64(w.info.FPS) {
		to = float64(cur.frames+n) / float64(w.info.FPS)
	}
	return videoFile{started: true, loc: cur.loc, frames: cur.frames + n, end: to, bytes: st.Size()},
		VideoSegment{Chunk: cur.loc.chunk, File: cur.loc.file, FromTimestamp: from, ToTimestamp: to}, nil
}

// stageFile stages an episode mp4 as the file final: taken over when the
// dataset owns it, else copied.
func (c *commit) stageFile(final string, part videoPart) error {
	if part.owned {
		return c.move(part.path, final, false)
	}
	return c.write(final, func(out io.Writer) error {
		f, err := os.Open(part.path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(out, f)
		return err
	})
}

// stageData stages the data file with rec appended as a new row group, or a
// new file when the current one would reach data_files_size_in_mb
// (LeRobot's rule: size + mean size per frame × frames of the episode ≥
// limit, spec §1.2).
//
// Appending rewrites the file: its row groups are decoded and re-encoded,
// with rec added, into a staged file that then replaces it, so a crash never
// leaves a file without its footer. That costs O(file size) per episode; the
// rollover bounds it by data_files_size_in_mb.
func (w *Writer) stageData(c *commit, rec arrow.Record) (openFile, error) {
	cur := w.data
	if cur.units > 0 {
		sizeMB := float64(cur.bytes) / mib
		perFrame := sizeMB / float64(w.framesInDataFile(cur.loc))
		if sizeMB+perFrame*float64(rec.NumRows()) >= w.dataLimitMB {
			cur = openFile{loc: cur.loc.next(w.info.ChunksSize)}
		}
	}
	rel, err := cur.loc.path(w.info.DataPath)
	if err != nil {
		return openFile{}, err
	}
	path := filepath.Join(w.root, rel)
	keep := cur.units
	err = c.write(rel, func(out io.Writer) error {
		fw, err := newParquetWriter(out, w.dataSchema, w.mem)
		if err != nil {
			return err
		}
		defer fw.Close()
		if keep > 0 {
			if err := copyRowGroups(fw, path, keep, w.dataSchema, w.mem); err != nil {
				return err
			}
		}
		if err := fw.Write(rec); err != nil {
			return err
		}
		return fw.Close()
	})
	if err != nil {
		return openFile{}, err
	}
	staged, _ := c.stagedPath(rel)
	st, err := os.Stat(staged)
	if err != nil {
		return openFile{}, err
	}
	cur.units++
	cur.bytes = st.Size()
	return cur, nil
}

func (w *Writer) framesInDataFile(loc fileLoc) int64 {
	var n int64
	for _, e := range w.episodes {
		if e.DataChunk == loc.chunk && e.DataFile == loc.file {
			n += int64(e.Length)
		}
	}
	return max(n, 1)
}

// stageEpisodes stages the current episodes metadata file with the rows
// that belong to it, the last of episodes being new; rows go in row groups
// of 10 as LeRobot buffers them. The file rolls over by the same rule as data.
func (w *Writer) stageEpisodes(c *commit, episodes []Episode) (openFile, error) {
	cur := w.meta
	if cur.units > 0 {
		sizeMB := float64(cur.bytes) / mib
		if sizeMB+sizeMB/float64(cur.units) >= w.metaLimitMB {
			cur = openFile{loc: cur.loc.next(w.info.ChunksSize)}
		}
	}
	last := &episodes[len(episodes)-1]
	last.MetaChunk, last.MetaFile = cur.loc.chunk, cur.loc.file
	rows := episodes[len(episodes)-1-cur.units:]

	rel, err := cur.loc.path(DefaultEpisodesPath)
	if err != nil {
		return openFile{}, err
	}
	err = c.write(rel, func(out io.Writer) error {
		var recs []arrow.Record
		defer func() {
			for _, r := range recs {
				r.Release()
			}
		}()
		for start := 0; start < len(rows); start += episodesPerRowGroup {
			r, err := buildEpisodesRecord(w.mem, w.episodesSchema, w.features, rows[start:min(start+episodesPerRowGroup, len(rows))], w.quantiles)
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		return writeRecords(out, w.episodesSchema, w.mem, recs...)
	})
	if err != nil {
		return openFile{}, err
	}
	staged, _ := c.stagedPath(rel)
	st, err := os.Stat(staged)
	if err != nil {
		return openFile{}, err
	}
	cur.units++
	cur.bytes = st.Size()
	return cur, nil
}

// statsJSON renders meta/stats.json as the aggregate of every episode's stats.
func (w *Writer) statsJSON(episodes []Episode) ([]byte, error) {
	agg, err := aggregateEpisodes(w.features, episodes)
	if err != nil {
		return nil, err
	}
	return encodeStatsJSON(w.features, agg)
}

// aggregateEpisodes aggregates the per-episode stats of every feature that
// has stats (aggregate_stats, spec §5).
func aggregateEpisodes(features []Feature, episodes []Episode) (map[string]Stats, error) {
	agg := make(map[string]Stats, len(features))
	for _, f := range features {
		if !f.hasStats() {
			continue
		}
		var list []Stats
		for _, e := range episodes {
			if s, ok := e.Stats[f.Name]; ok {
				list = append(list, s)
			}
		}
		if len(list) == 0 {
			continue
		}
		s, err := aggregateStats(list)
		if err != nil {
			return nil, fmt.Errorf("stats of %q: %w", f.Name, err)
		}
		agg[f.Name] = s
	}
	return agg, nil
}
