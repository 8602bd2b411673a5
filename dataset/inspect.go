package dataset

import (
	"bytes"
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
	Warnings        []string        `json:"warnings"`
}

// ReportFeatures marshals as a JSON object name → {dtype, shape, names} in
// info.json order.
type ReportFeatures []Feature

// ReportEpisode is one episode line of the report.
type ReportEpisode struct {
	Index  int      `json:"episode_index"`
	Length int      `json:"length"`
	Tasks  []string `json:"tasks"`
}

// Inspect reads a dataset's metadata and summarises it. A v2.1 dataset gets
// the summary of its info.json, with a warning that its episodes were not read.
func Inspect(root string) (*Report, error) {
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
		Warnings:        []string{},
	}
	if info.RobotType != "" {
		r.RobotType = &info.RobotType
	}
	for _, x := range info.Extra {
		r.Warnings = append(r.Warnings, fmt.Sprintf("info.json: key %q is not part of the format this tool knows; kept as is", x.Key))
	}
	if major, _ := info.major(); major != 3 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("codebase_version %s: only info.json was read (this tool reads v3.x episodes and tasks)", info.CodebaseVersion))
		return r, nil
	}
	d, err := Open(root)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	r.Tasks = append(r.Tasks, d.Tasks...)
	for _, e := range d.Episodes {
		r.Episodes = append(r.Episodes, ReportEpisode{Index: e.Index, Length: e.Length, Tasks: e.Tasks})
	}
	if d.Stats == nil {
		r.Warnings = append(r.Warnings, "meta/stats.json is missing")
	}
	return r, nil
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
		fmt.Fprintf(tw, "\nEPISODE\tLENGTH\tTASKS\n")
		for _, e := range r.Episodes {
			fmt.Fprintf(tw, "%d\t%d\t%s\n", e.Index, e.Length, strings.Join(e.Tasks, " | "))
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
