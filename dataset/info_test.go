package dataset

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestParseInfoErrors(t *testing.T) {
	valid := `{"codebase_version": "v3.0", "fps": 30, "total_episodes": 0, "total_frames": 0, "total_tasks": 0, "data_path": "d", "features": {"a": {"dtype": "float32", "shape": [2], "names": null}}}`
	tests := []struct {
		name, json string
		want       []string // substrings of the error; none: must parse
	}{
		{"valid", valid, nil},
		{"not an object", `[1]`, []string{"top level is a list"}},
		{"not JSON", `{"fps": `, []string{"info.json:"}},
		{"trailing data", valid + ` {}`, []string{"trailing data"}},
		{"missing keys", `{"robot_type": null}`, []string{"codebase_version: missing", "fps: missing", "features: missing", "data_path: missing"}},
		{"fps zero", strings.Replace(valid, `"fps": 30`, `"fps": 0`, 1), []string{"fps: must be > 0, got 0"}},
		{"fps fraction", strings.Replace(valid, `"fps": 30`, `"fps": 29.97`, 1), []string{"fps: 29.97 is not an integer"}},
		{"fps string", strings.Replace(valid, `"fps": 30`, `"fps": "30"`, 1), []string{"fps: is a string, want an integer"}},
		{"negative total", strings.Replace(valid, `"total_frames": 0`, `"total_frames": -1`, 1), []string{"total_frames: must be ≥ 0, got -1"}},
		{"huge total", strings.Replace(valid, `"total_frames": 0`, `"total_frames": 1e30`, 1), []string{"total_frames: 1e30 is not an integer"}},
		{"bad version", strings.Replace(valid, `"v3.0"`, `"three"`, 1), []string{`codebase_version "three": not of the form vX.Y`}},
		{"no dtype", strings.Replace(valid, `"dtype": "float32", `, ``, 1), []string{"features: a: dtype: missing"}},
		{"empty shape", strings.Replace(valid, `[2]`, `[]`, 1), []string{"features: a: shape: must not be empty"}},
		{"zero dim", strings.Replace(valid, `[2]`, `[2, 0]`, 1), []string{"features: a: shape: [1]: must be ≥ 1, got 0"}},
		{"duplicate key", strings.Replace(valid, `"fps": 30`, `"fps": 30, "fps": 31`, 1), []string{`duplicate key "fps"`}},
		{"deep", `{"x": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, []string{"nested deeper than 64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseInfo([]byte(tc.json))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ParseInfo: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("ParseInfo accepted it")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestParseInfoKeepsWhatItDoesNotModel(t *testing.T) {
	in, err := ParseInfo([]byte(`{"codebase_version": "v3.0", "fps": 30, "total_episodes": 0, "total_frames": 0, "data_path": "d",
		"features": {"x": {"dtype": "float32", "shape": [2], "names": {"motors": ["a", "b"]}, "fps": 30}}, "tools": [{"type": "function"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	f := in.Features[0]
	if f.Names != nil || string(f.RawNames) != `{"motors": ["a", "b"]}` || len(f.Extra) != 1 || f.Extra[0].Key != "fps" {
		t.Errorf("feature = %+v", f)
	}
	if len(in.Extra) != 1 || in.Extra[0].Key != "tools" || in.ChunksSize != DefaultChunksSize {
		t.Errorf("info extra %v, chunks_size %d", in.Extra, in.ChunksSize)
	}
	out, err := in.EncodeJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"\"names\": {\n                \"motors\": [\n                    \"a\",", "\"fps\": 30\n        }", "\"tools\": [\n        {\n            \"type\": \"function\""} {
		if !strings.Contains(string(out), s) {
			t.Errorf("re-encoded info.json lacks %q:\n%s", s, out)
		}
	}
}

func TestPyFloat(t *testing.T) {
	tests := []struct {
		f    float64
		want string // Python's repr
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{1e-4, "0.0001"},
		{1e-5, "1e-05"},
		{1.5e-7, "1.5e-07"},
		{3.9999999999994176e-16, "3.9999999999994176e-16"},
		{12.433333333333334, "12.433333333333334"},
		{float64(float32(0.1)), "0.10000000149011612"},
		{123456789012345, "123456789012345.0"},
		{9999999999999998, "9999999999999998.0"},
		{1e16, "1e+16"},
		{1.2345e20, "1.2345e+20"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
	}
	for _, tc := range tests {
		got, err := pyFloat(tc.f)
		if err != nil || got != tc.want {
			t.Errorf("pyFloat(%v) = %q, %v; want %q", tc.f, got, err, tc.want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := pyFloat(f); err == nil {
			t.Errorf("pyFloat(%v) accepted a non-finite number", f)
		}
	}
}

func TestPyJSON(t *testing.T) {
	v := obj{
		{"s", "é \"q\" \\ \n\x01 😀"},
		{"l", []any{1, 2.0, true, nil}},
		{"e", []any{}},
		{"o", obj{}},
		{"n", obj{{"k", []int64{3}}}},
	}
	tests := []struct {
		enc  pyJSON
		want string
	}{
		// json.dumps(v)
		{pyJSON{ensureASCII: true}, `{"s": "\u00e9 \"q\" \\ \n\u0001 \ud83d\ude00", "l": [1, 2.0, true, null], "e": [], "o": {}, "n": {"k": [3]}}`},
		// json.dump(v, indent=4, ensure_ascii=False)
		{pyJSON{indent: 4}, "{\n    \"s\": \"é \\\"q\\\" \\\\ \\n\\u0001 😀\",\n    \"l\": [\n        1,\n        2.0,\n        true,\n        null\n    ],\n    \"e\": [],\n    \"o\": {},\n    \"n\": {\n        \"k\": [\n            3\n        ]\n    }\n}"},
	}
	for _, tc := range tests {
		got, err := tc.enc.marshal(v)
		if err != nil || string(got) != tc.want {
			t.Errorf("marshal(%+v) =\n%s\nwant\n%s (%v)", tc.enc, got, tc.want, err)
		}
	}
}

func TestFormatPath(t *testing.T) {
	tests := []struct {
		template string
		args     map[string]any
		want     string
		err      string
	}{
		{DefaultDataPath, map[string]any{"chunk_index": 3, "file_index": 7}, "data/chunk-003/file-007.parquet", ""},
		{DefaultDataPath, map[string]any{"chunk_index": 1234, "file_index": 0}, "data/chunk-1234/file-000.parquet", ""},
		{DefaultVideoPath, map[string]any{"video_key": "observation.images.front", "chunk_index": 0, "file_index": 12}, "videos/observation.images.front/chunk-000/file-012.mp4", ""},
		{"data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet", map[string]any{"episode_chunk": 0, "episode_index": 42}, "data/chunk-000/episode_000042.parquet", ""},
		{"{{literal}}/{chunk_index}", map[string]any{"chunk_index": 5}, "{literal}/5", ""},
		{"{nope:03d}", map[string]any{}, "", "unknown field {nope}"},
		{"{chunk_index", map[string]any{"chunk_index": 1}, "", "unclosed"},
		{"{chunk_index:>3}", map[string]any{"chunk_index": 1}, "", "unsupported format spec"},
		{"{chunk_index:0999d}", map[string]any{"chunk_index": 1}, "", "unsupported format spec"},
	}
	for _, tc := range tests {
		got, err := formatPath(tc.template, tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("formatPath(%q) error %v, want %q", tc.template, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("formatPath(%q) = %q, %v; want %q", tc.template, got, err, tc.want)
		}
	}
}

// FuzzParseInfo feeds ParseInfo arbitrary bytes (seed corpus:
// testdata/fuzz/FuzzParseInfo, the fixtures' info.json files and edge
// cases). It must never panic, and what it accepts must re-encode to a file
// that parses and re-encodes to the same bytes.
func FuzzParseInfo(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseInfo(data)
		if err != nil {
			return
		}
		out, err := in.EncodeJSON()
		if err != nil {
			t.Fatalf("EncodeJSON of a parsed info.json: %v", err)
		}
		again, err := ParseInfo(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		out2, err := again.EncodeJSON()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("re-encoding is not stable (%v):\n%s\n---\n%s", err, out, out2)
		}
		// What readers do next with it: version check, file names, features.
		_ = in.checkSupported()
		ep := Episode{Index: 7, DataChunk: 1, DataFile: 2, Videos: map[string]VideoSegment{}}
		_, _ = in.DataFile(ep)
		for _, k := range in.VideoKeys() {
			_, _ = in.VideoFile(ep, k)
		}
		for _, f := range in.Features {
			_, _ = f.arrowType()
			_, _, _ = f.imageSize()
			_, _ = f.hfFeatureJSON(in.isV2())
		}
	})
}
