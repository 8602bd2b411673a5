package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// Report summarises a dataset for people (WriteText) and tools (JSON).
type Report struct {
	Root            string          `json:"root"`
	CodebaseVersion string          `json:"codebase_version"`
	RobotType       *string         `json:"robot_type"`
	FPS             int             `json:"fps"`
	TotalEpisodes   int             `json:"total_episodes"`
	TotalFrames     int             `json:"total_frames"`
	TotalTasks      int             `json:"total_tasks"`
	Features        ReportFeatures  `json:"features"`
	Tasks           []string        `json:"tasks"`
	Episodes        []ReportEpisode `json:"episodes"`
	Videos          []ReportVideo   `json:"videos"`
	// Stats are the dataset's statistics by feature (stats.json in v3.0,
	// the aggregate of episodes_stats.jsonl in v2.1).
	Stats map[string]ReportStats `json:"stats"`
	// Episode is the episode asked for with InspectOptions.Episode.
	Episode  *ReportEpisodeDetail `json:"episode,omitempty"`
	Warnings []string             `json:"warnings"`
}

// ReportFeatures marshals as a JSON object name → {dtype, shape, names} in
// info.json order.
type ReportFeatures []Feature

// ReportEpisode is one episode line of the report. Success and intervention
// rate come from the episode's stats: success when next.reward reaches a
// positive value (HIL-SERL rewards 1 on success), intervention rate the mean
// of complementary_info.is_intervention; nil without those features.
type ReportEpisode struct {
	Index            int      `json:"episode_index"`
	Length           int      `json:"length"`
	Tasks            []string `json:"tasks"`
	Success          *bool    `json:"success"`
	InterventionRate *float64 `json:"intervention_rate"`
}

// ReportVideo summarises one video feature.
type ReportVideo struct {
	Feature      string  `json:"feature"`
	Codec        string  `json:"codec"`
	Width        int     `json:"width"`
	Height       int     `json:"height"`
	Files        int     `json:"files"`
	MissingFiles int     `json:"missing_files"`
	SizeBytes    int64   `json:"size_bytes"` // of the files present
	DurationS    float64 `json:"duration_s"` // of every episode's segment
}

// ReportStats are one feature's statistics.
type ReportStats struct {
	Min   []float64 `json:"min"`
	Max   []float64 `json:"max"`
	Mean  []float64 `json:"mean"`
	Std   []float64 `json:"std"`
	Count int64     `json:"count"`
}

// ReportEpisodeDetail is one episode in full.
type ReportEpisodeDetail struct {
	ReportEpisode
	FromIndex int64                    `json:"dataset_from_index"`
	ToIndex   int64                    `json:"dataset_to_index"`
	DataFile  string                   `json:"data_file"`
	Videos    map[string]ReportSegment `json:"videos"`
	Stats     map[string]ReportStats   `json:"stats"`
}

// ReportSegment locates an episode's frames in one video file.
type ReportSegment struct {
	File          string  `json:"file"`
	FromTimestamp float64 `json:"from_timestamp"`
	ToTimestamp   float64 `json:"to_timestamp"`
}

// InspectOptions tune InspectContext.
type InspectOptions struct {
	Episode int // episode to detail; -1 for none
}

// Inspect reads a dataset's metadata and summarises it.
func Inspect(root string) (*Report, error) {
	return InspectContext(context.Background(), root, InspectOptions{Episode: -1})
}

// InspectContext reads a dataset's metadata (not its data or video files)
// and summarises it. When only info.json is readable, the report holds its
// summary and a warning saying why the rest is missing.
func InspectContext(ctx context.Context, root string, opts InspectOptions) (*Report, error) {
	b, err := os.ReadFile(filepath.Join(root, InfoPath))
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", root, err)
	}
	info, err := ParseInfo(b)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", root, err)
	}
	r := &Report{
		Root:            root,
		CodebaseVersion: info.CodebaseVersion,
		FPS:             info.FPS,
		TotalEpisodes:   info.TotalEpisodes,
		TotalFrames:     info.TotalFrames,
		TotalTasks:      info.TotalTasks,
		Features:        info.Features,
		Tasks:           []string{},
		Episodes:        []ReportEpisode{},
		Videos:          []ReportVideo{},
		Stats:           map[string]ReportStats{},
		Warnings:        []string{},
	}
	if info.RobotType != "" {
		r.RobotType = &info.RobotType
	}
	for _, x := range info.Extra {
		r.Warnings = append(r.Warnings, fmt.Sprintf("info.json: key %q is not part of the format this tool knows; kept as is", x.Key))
	}
	if err := info.checkSupported(); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", root, err)
	}
	d, err := Open(root)
	if err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("only info.json was read: %v", err))
		if opts.Episode >= 0 {
			return nil, fmt.Errorf("inspect %s: episode %d: %w", root, opts.Episode, err)
		}
		return r, nil
	}
	r.Tasks = append(r.Tasks, d.Tasks...)
	for _, e := range d.Episodes {
		r.Episodes = append(r.Episodes, reportEpisode(e))
	}
	r.Videos = d.reportVideos()
	for name, s := range d.Stats {
		r.Stats[name] = reportStats(s)
	}
	if d.Stats == nil && !info.isV2() {
		r.Warnings = append(r.Warnings, "meta/stats.json is missing")
	}
	if opts.Episode >= 0 {
		if opts.Episode >= len(d.Episodes) {
			return nil, fmt.Errorf("inspect %s: no episode %d (it has %d)", root, opts.Episode, len(d.Episodes))
		}
		r.Episode = d.reportEpisodeDetail(opts.Episode)
	}
	return r, ctx.Err()
}

func reportEpisode(e Episode) ReportEpisode {
	re := ReportEpisode{Index: e.Index, Length: e.Length, Tasks: e.Tasks}
	if re.Tasks == nil {
		re.Tasks = []string{}
	}
	if s, ok := e.Stats["next.reward"]; ok && len(s.Max) == 1 {
		success := s.Max[0] > 0
		re.Success = &success
	}
	if s, ok := e.Stats["complementary_info.is_intervention"]; ok && len(s.Mean) == 1 {
		rate := s.Mean[0]
		re.InterventionRate = &rate
	}
	return re
}

func reportStats(s Stats) ReportStats {
	return ReportStats{Min: s.Min, Max: s.Max, Mean: s.Mean, Std: s.Std, Count: s.Count}
}

// reportVideos summarises each video feature from info.json and the files
// the episodes name.
func (d *Dataset) reportVideos() []ReportVideo {
	var out []ReportVideo
	for _, key := range d.Info.VideoKeys() {
		f, _ := d.Info.Feature(key)
		rv := ReportVideo{Feature: key}
		var vi struct {
			Codec  string `json:"video.codec"`
			Width  int    `json:"video.width"`
			Height int    `json:"video.height"`
		}
		if f.Info != nil && json.Unmarshal(f.Info, &vi) == nil {
			rv.Codec, rv.Width, rv.Height = vi.Codec, vi.Width, vi.Height
		}
		seen := map[string]bool{}
		for _, e := range d.Episodes {
			seg := e.Videos[key]
			rv.DurationS += seg.ToTimestamp - seg.FromTimestamp
			rel, err := d.Info.VideoFile(e, key)
			if err != nil || seen[rel] {
				continue
			}
			seen[rel] = true
			rv.Files++
			if st, err := os.Stat(filepath.Join(d.Root, rel)); err == nil {
				rv.SizeBytes += st.Size()
			} else {
				rv.MissingFiles++
			}
		}
		out = append(out, rv)
	}
	return out
}

func (d *Dataset) reportEpisodeDetail(i int) *ReportEpisodeDetail {
	e := d.Episodes[i]
	det := &ReportEpisodeDetail{
		ReportEpisode: reportEpisode(e),
		FromIndex:     e.FromIndex,
		ToIndex:       e.ToIndex,
		Videos:        map[string]ReportSegment{},
		Stats:         map[string]ReportStats{},
	}
	det.DataFile, _ = d.Info.DataFile(e)
	for _, key := range d.Info.VideoKeys() {
		rel, _ := d.Info.VideoFile(e, key)
		seg := e.Videos[key]
		det.Videos[key] = ReportSegment{File: rel, FromTimestamp: seg.FromTimestamp, ToTimestamp: seg.ToTimestamp}
	}
	for name, s := range e.Stats {
		det.Stats[name] = reportStats(s)
	}
	return det
}

// MarshalJSON writes the features as an object in info.json order.
func (fs ReportFeatures) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, err := json.Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		var names any = f.Names
		if f.RawNames != nil {
			names = f.RawNames
		}
		spec, err := json.Marshal(struct {
			Dtype string `json:"dtype"`
			Shape []int  `json:"shape"`
			Names any    `json:"names"`
		}{f.Dtype, f.Shape, names})
		if err != nil {
			return nil, err
		}
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(spec)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// WriteText writes the report as aligned tables.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	robot := "(none)"
	if r.RobotType != nil {
		robot = *r.RobotType
	}
	fmt.Fprintf(tw, "dataset\t%s\n", r.Root)
	fmt.Fprintf(tw, "codebase_version\t%s\n", r.CodebaseVersion)
	fmt.Fprintf(tw, "robot_type\t%s\n", robot)
	fmt.Fprintf(tw, "fps\t%d\n", r.FPS)
	fmt.Fprintf(tw, "episodes\t%d\n", r.TotalEpisodes)
	fmt.Fprintf(tw, "frames\t%d\n", r.TotalFrames)
	fmt.Fprintf(tw, "tasks\t%d\n", r.TotalTasks)
	fmt.Fprintf(tw, "\nFEATURE\tDTYPE\tSHAPE\tNAMES\n")
	for _, f := range r.Features {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", f.Name, f.Dtype, f.Shape, namesText(f))
	}
	if len(r.Tasks) > 0 {
		fmt.Fprintf(tw, "\nTASK_INDEX\tTASK\n")
		for i, t := range r.Tasks {
			fmt.Fprintf(tw, "%d\t%s\n", i, t)
		}
	}
	if len(r.Episodes) > 0 {
		fmt.Fprintf(tw, "\nEPISODE\tLENGTH\tSUCCESS\tINTERVENTION\tTASKS\n")
		for _, e := range r.Episodes {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", e.Index, e.Length, successText(e.Success), rateText(e.InterventionRate), strings.Join(e.Tasks, " | "))
		}
	}
	if len(r.Videos) > 0 {
		fmt.Fprintf(tw, "\nVIDEO\tCODEC\tSIZE\tFILES\tBYTES\tDURATION\n")
		for _, v := range r.Videos {
			files := fmt.Sprint(v.Files)
			if v.MissingFiles > 0 {
				files = fmt.Sprintf("%d (%d missing)", v.Files, v.MissingFiles)
			}
			fmt.Fprintf(tw, "%s\t%s\t%dx%d\t%s\t%d\t%.1fs\n", v.Feature, v.Codec, v.Width, v.Height, files, v.SizeBytes, v.DurationS)
		}
	}
	if len(r.Stats) > 0 {
		fmt.Fprintf(tw, "\nSTATS\tMIN\tMAX\tMEAN\tSTD\tCOUNT\n")
		for _, f := range r.Features {
			s, ok := r.Stats[f.Name]
			if !ok {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", f.Name, vecText(s.Min), vecText(s.Max), vecText(s.Mean), vecText(s.Std), s.Count)
		}
	}
	if e := r.Episode; e != nil {
		fmt.Fprintf(tw, "\nEPISODE %d\n", e.Index)
		fmt.Fprintf(tw, "length\t%d\n", e.Length)
		fmt.Fprintf(tw, "index range\t[%d, %d)\n", e.FromIndex, e.ToIndex)
		fmt.Fprintf(tw, "tasks\t%s\n", strings.Join(e.Tasks, " | "))
		fmt.Fprintf(tw, "success\t%s\n", successText(e.Success))
		fmt.Fprintf(tw, "intervention rate\t%s\n", rateText(e.InterventionRate))
		fmt.Fprintf(tw, "data file\t%s\n", e.DataFile)
		for _, f := range r.Features {
			if seg, ok := e.Videos[f.Name]; ok {
				fmt.Fprintf(tw, "video %s\t%s [%.6f, %.6f]\n", f.Name, seg.File, seg.FromTimestamp, seg.ToTimestamp)
			}
		}
		for _, f := range r.Features {
			if s, ok := e.Stats[f.Name]; ok {
				fmt.Fprintf(tw, "stats %s\tmin %s max %s mean %s std %s count %d\n", f.Name, vecText(s.Min), vecText(s.Max), vecText(s.Mean), vecText(s.Std), s.Count)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, warn := range r.Warnings {
		if _, err := fmt.Fprintf(w, "warning: %s\n", warn); err != nil {
			return err
		}
	}
	return nil
}

func successText(b *bool) string {
	switch {
	case b == nil:
		return "-"
	case *b:
		return "yes"
	}
	return "no"
}

func rateText(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100**r)
}

// vecText prints a statistic compactly: one value, or the range of a vector.
func vecText(v []float64) string {
	switch len(v) {
	case 0:
		return "-"
	case 1:
		return fmt.Sprintf("%.4g", v[0])
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return fmt.Sprintf("[%d: %.3g..%.3g]", len(v), lo, hi)
}

func namesText(f Feature) string {
	switch {
	case f.RawNames != nil:
		return string(f.RawNames)
	case f.Names == nil:
		return "-"
	}
	s := strings.Join(f.Names, ", ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
