package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Format constants of codebase version v3.0 (spec §1.2).
const (
	CodebaseVersion = "v3.0"

	DefaultChunksSize         = 1000
	DefaultDataFilesSizeInMB  = 100
	DefaultVideoFilesSizeInMB = 200

	DefaultDataPath     = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
	DefaultVideoPath    = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
	DefaultEpisodesPath = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"

	InfoPath  = "meta/info.json"
	StatsPath = "meta/stats.json"
	TasksPath = "meta/tasks.parquet"
)

// Format constants of codebase version v2.1 (spec §1.1).
const (
	CodebaseVersionV21 = "v2.1"

	DefaultDataPathV21  = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
	DefaultVideoPathV21 = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"

	TasksPathV21         = "meta/tasks.jsonl"
	EpisodesPathV21      = "meta/episodes.jsonl"
	EpisodesStatsPathV21 = "meta/episodes_stats.jsonl"
)

// Info is meta/info.json (spec §2).
type Info struct {
	CodebaseVersion    string
	RobotType          string // "" is JSON null
	TotalEpisodes      int
	TotalFrames        int
	TotalTasks         int
	TotalVideos        int // v2.1 only
	TotalChunks        int // v2.1 only
	ChunksSize         int
	DataFilesSizeInMB  int // v3.0 only
	VideoFilesSizeInMB int // v3.0 only
	FPS                int
	Splits             map[string]string // {"train": "0:N"}
	DataPath           string
	VideoPath          string // "" is JSON null (no video features)
	// Features in file order: user features, then the five defaults.
	Features []Feature
	// Extra holds top-level keys this package does not model (main's "tools",
	// say), kept verbatim.
	Extra []RawField
}

// Feature returns the feature called name.
func (in Info) Feature(name string) (Feature, bool) {
	for _, f := range in.Features {
		if f.Name == name {
			return f, true
		}
	}
	return Feature{}, false
}

// isV2 reports a v2.x info.json, which has total_videos and total_chunks
// and no file sizes.
func (in Info) isV2() bool { return strings.HasPrefix(in.CodebaseVersion, "v2") }

// version returns the major and minor version of CodebaseVersion.
func (in Info) version() (major, minor int, err error) {
	v := strings.TrimPrefix(in.CodebaseVersion, "v")
	a, b, _ := strings.Cut(v, ".")
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(b)
	if err1 != nil || (b != "" && err2 != nil) {
		return 0, 0, fmt.Errorf("codebase_version %q: not of the form vX.Y", in.CodebaseVersion)
	}
	return major, minor, nil
}

// checkSupported accepts the versions this package reads: v2.1 (and later
// v2.x) and v3.x — what LeRobot ≤ 0.3 and ≥ 0.4 load (spec §7.1).
func (in Info) checkSupported() error {
	major, minor, err := in.version()
	if err != nil {
		return err
	}
	if (major == 2 && minor >= 1) || major == 3 {
		return nil
	}
	return fmt.Errorf("%w: codebase_version %s; e2hil reads v2.1 and v3.0 (LeRobot converts v2.0 with convert_dataset_v20_to_v21)", ErrUnsupported, in.CodebaseVersion)
}

// VideoKeys are the names of the video features, in order.
func (in Info) VideoKeys() []string {
	var keys []string
	for _, f := range in.Features {
		if f.isVideo() {
			keys = append(keys, f.Name)
		}
	}
	return keys
}

// pathArgs are the template fields of data_path and video_path for an
// episode: v2.1 names files by episode, v3.0 by (chunk, file).
func (in Info) pathArgs(ep Episode, chunk, file int, key string) map[string]any {
	if in.isV2() {
		return map[string]any{"episode_chunk": ep.Index / max(in.ChunksSize, 1), "episode_index": ep.Index, "video_key": key}
	}
	return map[string]any{"chunk_index": chunk, "file_index": file, "video_key": key}
}

// DataFile is the path, relative to the root, of the file holding ep's rows.
func (in Info) DataFile(ep Episode) (string, error) {
	return formatPath(in.DataPath, in.pathArgs(ep, ep.DataChunk, ep.DataFile, ""))
}

// VideoFile is the path, relative to the root, of the mp4 holding ep's
// frames of the video feature key.
func (in Info) VideoFile(ep Episode, key string) (string, error) {
	if in.VideoPath == "" {
		return "", fmt.Errorf("info.json: video_path is null but %q is a video feature", key)
	}
	seg := ep.Videos[key]
	return formatPath(in.VideoPath, in.pathArgs(ep, seg.Chunk, seg.File, key))
}

// major returns the major version of CodebaseVersion ("v3.0" → 3).
func (in Info) major() (int, error) {
	v := strings.TrimPrefix(in.CodebaseVersion, "v")
	maj, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(maj)
	if err != nil {
		return 0, fmt.Errorf("codebase_version %q: not of the form vX.Y", in.CodebaseVersion)
	}
	return n, nil
}

// ParseInfo parses meta/info.json. It accepts v2.1 and v3.0 files, with or
// without total_videos/total_chunks, per-feature "fps" and either video-info
// key style (spec §8); keys it does not model are kept in Extra. It checks
// what LeRobot's DatasetInfo checks: codebase_version, fps and features are
// present; fps, chunks_size and the file sizes are > 0.
func ParseInfo(data []byte) (Info, error) {
	v, err := decodeOrdered(data)
	if err != nil {
		return Info{}, fmt.Errorf("info.json: %w", err)
	}
	top, ok := v.(obj)
	if !ok {
		return Info{}, fmt.Errorf("info.json: top level is %s, want an object", jsonKind(v))
	}
	var (
		in   Info
		errs []error
		seen = map[string]bool{}
	)
	bad := func(key string, err error) { errs = append(errs, fmt.Errorf("info.json: %s: %w", key, err)) }
	for _, m := range top {
		seen[m.key] = true
		var err error
		switch m.key {
		case "codebase_version":
			in.CodebaseVersion, err = asString(m.val)
		case "robot_type":
			in.RobotType, err = asStringOrNull(m.val)
		case "total_episodes":
			in.TotalEpisodes, err = asCount(m.val)
		case "total_frames":
			in.TotalFrames, err = asCount(m.val)
		case "total_tasks":
			in.TotalTasks, err = asCount(m.val)
		case "total_videos":
			in.TotalVideos, err = asCount(m.val)
		case "total_chunks":
			in.TotalChunks, err = asCount(m.val)
		case "chunks_size":
			in.ChunksSize, err = asPositive(m.val)
		case "data_files_size_in_mb":
			in.DataFilesSizeInMB, err = asPositive(m.val)
		case "video_files_size_in_mb":
			in.VideoFilesSizeInMB, err = asPositive(m.val)
		case "fps":
			in.FPS, err = asPositive(m.val)
		case "splits":
			in.Splits, err = asSplits(m.val)
		case "data_path":
			in.DataPath, err = asString(m.val)
		case "video_path":
			in.VideoPath, err = asStringOrNull(m.val)
		case "features":
			in.Features, err = parseFeatures(m.val)
		default:
			raw, rerr := rawJSON(m.val)
			if rerr != nil {
				err = rerr
				break
			}
			in.Extra = append(in.Extra, RawField{Key: m.key, Value: raw})
		}
		if err != nil {
			bad(m.key, err)
		}
	}
	for _, key := range []string{"codebase_version", "fps", "features", "total_episodes", "total_frames", "data_path"} {
		if !seen[key] {
			errs = append(errs, fmt.Errorf("info.json: %s: missing", key))
		}
	}
	if seen["codebase_version"] {
		if _, err := in.major(); err != nil {
			errs = append(errs, fmt.Errorf("info.json: %w", err))
		}
	}
	// Absent sizes take the defaults of LeRobot's DatasetInfo.
	if !seen["chunks_size"] {
		in.ChunksSize = DefaultChunksSize
	}
	if !in.isV2() && !seen["data_files_size_in_mb"] {
		in.DataFilesSizeInMB = DefaultDataFilesSizeInMB
	}
	if !in.isV2() && !seen["video_files_size_in_mb"] {
		in.VideoFilesSizeInMB = DefaultVideoFilesSizeInMB
	}
	if err := joinProblems(errs); err != nil {
		return Info{}, err
	}
	return in, nil
}

func parseFeatures(v any) ([]Feature, error) {
	o, ok := v.(obj)
	if !ok {
		return nil, fmt.Errorf("is %s, want an object", jsonKind(v))
	}
	out := make([]Feature, 0, len(o))
	for _, m := range o {
		f, err := parseFeature(m.key, m.val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func parseFeature(name string, v any) (Feature, error) {
	o, ok := v.(obj)
	if !ok {
		return Feature{}, fmt.Errorf("is %s, want an object", jsonKind(v))
	}
	f := Feature{Name: name}
	var haveDtype, haveShape bool
	for _, m := range o {
		var err error
		switch m.key {
		case "dtype":
			haveDtype = true
			f.Dtype, err = asString(m.val)
			if err == nil && f.Dtype == "" {
				err = errors.New("must not be empty")
			}
		case "shape":
			haveShape = true
			f.Shape, err = asShape(m.val)
		case "names":
			f.Names, f.RawNames, err = asNames(m.val)
		case "info":
			f.Info, err = rawJSON(m.val)
		default:
			var raw json.RawMessage
			raw, err = rawJSON(m.val)
			f.Extra = append(f.Extra, RawField{Key: m.key, Value: raw})
		}
		if err != nil {
			return Feature{}, fmt.Errorf("%s: %w", m.key, err)
		}
	}
	if !haveDtype {
		return Feature{}, errors.New("dtype: missing")
	}
	if !haveShape {
		return Feature{}, errors.New("shape: missing")
	}
	return f, nil
}

// EncodeJSON renders info.json as LeRobot writes it: json.dump(indent=4,
// ensure_ascii=False), keys in the order of the real v3.0 files (record-test),
// v2.1 keys for a v2.1 Info.
func (in Info) EncodeJSON() ([]byte, error) {
	v21 := in.isV2()
	o := obj{
		{"codebase_version", in.CodebaseVersion},
		{"robot_type", nullIfEmpty(in.RobotType)},
		{"total_episodes", in.TotalEpisodes},
		{"total_frames", in.TotalFrames},
		{"total_tasks", in.TotalTasks},
	}
	if v21 {
		o = append(o, member{"total_videos", in.TotalVideos}, member{"total_chunks", in.TotalChunks})
	}
	o = append(o, member{"chunks_size", in.ChunksSize})
	if !v21 {
		o = append(o, member{"data_files_size_in_mb", in.DataFilesSizeInMB}, member{"video_files_size_in_mb", in.VideoFilesSizeInMB})
	}
	splits := obj{}
	keys := make([]string, 0, len(in.Splits))
	for k := range in.Splits {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		splits = append(splits, member{k, in.Splits[k]})
	}
	features := make(obj, 0, len(in.Features))
	for _, f := range in.Features {
		features = append(features, member{f.Name, f.infoJSON()})
	}
	o = append(o,
		member{"fps", in.FPS},
		member{"splits", splits},
		member{"data_path", in.DataPath},
		member{"video_path", nullIfEmpty(in.VideoPath)},
		member{"features", features},
	)
	for _, x := range in.Extra {
		o = append(o, member{x.Key, x.Value})
	}
	b, err := pyJSON{indent: 4}.marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode info.json: %w", err)
	}
	return b, nil
}

// infoJSON is f's entry under "features" (dtype, shape, names as in
// DEFAULT_FEATURES, then info and unmodelled keys).
func (f Feature) infoJSON() obj {
	var names any
	switch {
	case f.RawNames != nil:
		names = f.RawNames
	case f.Names != nil:
		names = f.Names
	}
	shape := f.Shape
	if shape == nil {
		shape = []int{}
	}
	o := obj{{"dtype", f.Dtype}, {"shape", shape}, {"names", names}}
	if f.Info != nil {
		o = append(o, member{"info", f.Info})
	}
	for _, x := range f.Extra {
		o = append(o, member{x.Key, x.Value})
	}
	return o
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	case obj:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func asString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("is %s, want a string", jsonKind(v))
	}
	return s, nil
}

func asStringOrNull(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	return asString(v)
}

// asInt accepts a JSON integer (30, also 30.0 as Python may write for a float
// that holds an integer) that fits in an int32, which bounds every count here.
func asInt(v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("is %s, want an integer", jsonKind(v))
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if i < math.MinInt32 || i > math.MaxInt32 {
			return 0, fmt.Errorf("%s is out of range", n)
		}
		return int(i), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, fmt.Errorf("%s is not an integer", n)
	}
	return int(f), nil
}

func asCount(v any) (int, error) {
	n, err := asInt(v)
	if err == nil && n < 0 {
		err = fmt.Errorf("must be ≥ 0, got %d", n)
	}
	return n, err
}

func asPositive(v any) (int, error) {
	n, err := asInt(v)
	if err == nil && n <= 0 {
		err = fmt.Errorf("must be > 0, got %d", n)
	}
	return n, err
}

func asShape(v any) ([]int, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("is %s, want a list of integers", jsonKind(v))
	}
	if len(l) == 0 {
		return nil, errors.New("must not be empty")
	}
	shape := make([]int, len(l))
	for i, e := range l {
		n, err := asInt(e)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		if n < 1 {
			return nil, fmt.Errorf("[%d]: must be ≥ 1, got %d", i, n)
		}
		shape[i] = n
	}
	return shape, nil
}

// asNames returns a list of strings as names, anything else (a dict, a nested
// list) as raw JSON, and null as nil, nil.
func asNames(v any) ([]string, json.RawMessage, error) {
	if v == nil {
		return nil, nil, nil
	}
	if l, ok := v.([]any); ok {
		names := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				names = nil
				break
			}
			names = append(names, s)
		}
		if names != nil {
			return names, nil, nil
		}
	}
	raw, err := rawJSON(v)
	return nil, raw, err
}

func asSplits(v any) (map[string]string, error) {
	o, ok := v.(obj)
	if !ok {
		return nil, fmt.Errorf("is %s, want an object", jsonKind(v))
	}
	out := make(map[string]string, len(o))
	for _, m := range o {
		s, err := asString(m.val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
		out[m.key] = s
	}
	return out, nil
}

// rawJSON renders a decoded value back to compact JSON, key order kept.
func rawJSON(v any) (json.RawMessage, error) {
	b, err := pyJSON{}.marshal(v)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// formatPath expands a path template of info.json (a Python str.format string
// such as "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet") with
// integer and string arguments. It supports {name} and {name:0Nd}, which is
// all LeRobot's templates use.
func formatPath(template string, args map[string]any) (string, error) {
	var b strings.Builder
	for i := 0; i < len(template); i++ {
		c := template[i]
		switch {
		case c == '{' && i+1 < len(template) && template[i+1] == '{':
			b.WriteByte('{')
			i++
		case c == '}' && i+1 < len(template) && template[i+1] == '}':
			b.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(template[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("path template %q: unclosed '{'", template)
			}
			field := template[i+1 : i+end]
			i += end
			name, spec, _ := strings.Cut(field, ":")
			arg, ok := args[name]
			if !ok {
				return "", fmt.Errorf("path template %q: unknown field {%s}", template, name)
			}
			s, err := formatField(arg, spec)
			if err != nil {
				return "", fmt.Errorf("path template %q: {%s}: %w", template, field, err)
			}
			b.WriteString(s)
		case c == '}':
			return "", fmt.Errorf("path template %q: single '}'", template)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func formatField(arg any, spec string) (string, error) {
	switch x := arg.(type) {
	case string:
		if spec != "" {
			return "", fmt.Errorf("format spec %q on a string", spec)
		}
		return x, nil
	case int:
		s := strconv.Itoa(x)
		if spec == "" || spec == "d" {
			return s, nil
		}
		if !strings.HasPrefix(spec, "0") || !strings.HasSuffix(spec, "d") {
			return "", fmt.Errorf("unsupported format spec %q", spec)
		}
		width, err := strconv.Atoi(spec[1 : len(spec)-1])
		if err != nil || width > 32 {
			return "", fmt.Errorf("unsupported format spec %q", spec)
		}
		neg := x < 0
		if neg {
			s = s[1:]
			width--
		}
		if len(s) < width {
			s = strings.Repeat("0", width-len(s)) + s
		}
		if neg {
			s = "-" + s
		}
		return s, nil
	}
	return "", fmt.Errorf("unsupported argument %T", arg)
}

// fileLoc is a (chunk_index, file_index) pair naming one file of a stream.
type fileLoc struct{ chunk, file int }

// next is the location after l: file_index + 1, or the next chunk directory
// when the chunk holds chunks_size files (update_chunk_file_indices, spec §1.2).
func (l fileLoc) next(chunksSize int) fileLoc {
	if l.file >= chunksSize-1 {
		return fileLoc{chunk: l.chunk + 1}
	}
	return fileLoc{chunk: l.chunk, file: l.file + 1}
}

func (l fileLoc) path(template string) (string, error) {
	return formatPath(template, map[string]any{"chunk_index": l.chunk, "file_index": l.file})
}
