package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestInspect(t *testing.T) {
	root, _ := writeTestDataset(t, []int{37, 5, 120})
	r, err := Inspect(root)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`codebase_version\s+v3\.0`,
		`robot_type\s+so101_follower`,
		`fps\s+30`,
		`episodes\s+3`,
		`frames\s+162`,
		`tasks\s+2`,
		`FEATURE\s+DTYPE\s+SHAPE\s+NAMES`,
		`observation\.state\s+float32\s+\[12\]\s+shoulder_pan\.pos, shoulder_pan\.pos\.vel, .*`,
		`action\s+float32\s+\[4\]\s+delta_x_ee, delta_y_ee, delta_z_ee, gripper_delta`,
		`next\.done\s+bool\s+\[1\]\s+-`,
		`task_index\s+int64\s+\[1\]\s+-`,
		`1\s+Place the cube in the box`,
		`EPISODE\s+LENGTH\s+SUCCESS\s+INTERVENTION\s+TASKS`,
		`0\s+37\s+yes\s+-\s+Pick the orange cube`,
		`2\s+120\s+yes\s+-\s+Pick the orange cube \| Place the cube in the box`,
		`STATS\s+MIN\s+MAX\s+MEAN\s+STD\s+COUNT`,
		`next\.reward\s+0\s+1\s+0\.01852\s+0\.1348\s+162`,
		`index\s+0\s+161\s+80\.5\s+46\.76\s+162`,
	} {
		if !regexp.MustCompile(`(?m)^` + line + `$`).Match(text.Bytes()) {
			t.Errorf("text report has no line matching %q:\n%s", line, text.String())
		}
	}

	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		CodebaseVersion string  `json:"codebase_version"`
		RobotType       *string `json:"robot_type"`
		FPS             int     `json:"fps"`
		TotalEpisodes   int     `json:"total_episodes"`
		TotalFrames     int     `json:"total_frames"`
		TotalTasks      int     `json:"total_tasks"`
		Features        map[string]struct {
			Dtype string   `json:"dtype"`
			Shape []int    `json:"shape"`
			Names []string `json:"names"`
		} `json:"features"`
		Tasks    []string        `json:"tasks"`
		Episodes []ReportEpisode `json:"episodes"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.CodebaseVersion != "v3.0" || got.RobotType == nil || *got.RobotType != "so101_follower" || got.FPS != 30 ||
		got.TotalEpisodes != 3 || got.TotalFrames != 162 || got.TotalTasks != 2 || len(got.Features) != 9 ||
		!slices.Equal(got.Tasks, testTasks) || len(got.Episodes) != 3 || got.Episodes[2].Length != 120 {
		t.Errorf("JSON report %s", b)
	}
	if f := got.Features["action"]; f.Dtype != "float32" || !slices.Equal(f.Shape, []int{4}) || len(f.Names) != 4 {
		t.Errorf("features.action = %+v", f)
	}
	if f := got.Features["next.done"]; f.Dtype != "bool" || !slices.Equal(f.Shape, []int{1}) || f.Names != nil {
		t.Errorf("features.next.done = %+v", f)
	}
	// Features keep info.json order in the JSON object.
	if s := string(b); strings.Index(s, `"observation.state":`) > strings.Index(s, `"action":`) || strings.Index(s, `"action":`) > strings.Index(s, `"timestamp":`) {
		t.Errorf("features out of order: %s", s)
	}
}

func TestInspectFixtures(t *testing.T) {
	tests := []struct {
		name             string
		version          string
		episodes, frames int
		feature, dtype   string
		shape            []int
		warning          string
	}{
		{"record-test", "v3.0", 4, 1492, "observation.images.front", "video", []int{480, 640, 3}, ""},
		{"oc_models", "v3.0", 50, 22449, "action", "float32", []int{6}, ""},
		{"hilserl-v2.1-card", "v2.1", 30, 802, "complementary_info.discrete_penalty", "float32", []int{1}, "only info.json was read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Inspect(fixture(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if r.CodebaseVersion != tc.version || r.TotalEpisodes != tc.episodes || r.TotalFrames != tc.frames {
				t.Errorf("version %s episodes %d frames %d", r.CodebaseVersion, r.TotalEpisodes, r.TotalFrames)
			}
			i := slices.IndexFunc(r.Features, func(f Feature) bool { return f.Name == tc.feature })
			if i < 0 || r.Features[i].Dtype != tc.dtype || !slices.Equal(r.Features[i].Shape, tc.shape) {
				t.Errorf("feature %s missing or wrong: %+v", tc.feature, r.Features)
			}
			if tc.warning != "" && !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, tc.warning) }) {
				t.Errorf("warnings %q, want one containing %q", r.Warnings, tc.warning)
			}
			if tc.version == "v3.0" && len(r.Episodes) != tc.episodes {
				t.Errorf("%d episode lines, want %d", len(r.Episodes), tc.episodes)
			}
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), tc.feature) {
				t.Errorf("text report: %v\n%s", err, text.String())
			}
		})
	}
}

func TestInspectEpisodeAndVideos(t *testing.T) {
	root, _ := writeCameraDataset(t, CodebaseVersion, []int{12, 7})
	r, err := InspectContext(context.Background(), root, InspectOptions{Episode: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Videos) != 2 {
		t.Fatalf("videos %+v", r.Videos)
	}
	for _, v := range r.Videos {
		if v.Codec != "av1" || v.Width != 128 || v.Height != 128 || v.Files != 1 || v.MissingFiles != 0 || v.SizeBytes == 0 ||
			math.Abs(v.DurationS-19.0/30) > 1e-9 {
			t.Errorf("video %+v", v)
		}
	}
	e := r.Episode
	if e == nil || e.Index != 1 || e.Length != 7 || e.FromIndex != 12 || e.ToIndex != 19 || e.DataFile != "data/chunk-000/file-000.parquet" {
		t.Fatalf("episode detail %+v", e)
	}
	if seg := e.Videos["observation.images.wrist"]; seg.File != "videos/observation.images.wrist/chunk-000/file-000.mp4" || seg.FromTimestamp != 12.0/30 {
		t.Errorf("segment %+v", seg)
	}
	if s := e.Stats["observation.images.front"]; len(s.Mean) != 3 || s.Count != 7 {
		t.Errorf("episode image stats %+v", s)
	}
	if e.Success == nil || !*e.Success {
		t.Errorf("success %v, want yes (next.reward reaches 1)", e.Success)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`VIDEO\s+CODEC\s+SIZE\s+FILES\s+BYTES\s+DURATION`,
		`observation\.images\.front\s+av1\s+128x128\s+1\s+\d+\s+0\.6s`,
		`EPISODE 1`,
		`index range\s+\[12, 19\)`,
		`video observation\.images\.wrist\s+videos/observation\.images\.wrist/chunk-000/file-000\.mp4 \[0\.400000, 0\.633333\]`,
	} {
		if !regexp.MustCompile(`(?m)^` + line + `$`).Match(text.Bytes()) {
			t.Errorf("text report has no line matching %q:\n%s", line, text.String())
		}
	}
	if _, err := InspectContext(context.Background(), root, InspectOptions{Episode: 2}); err == nil {
		t.Error("episode 2 of 2 accepted")
	}
}
