package dataset

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/e2hil/e2hil/dataset/video"
)

// EpisodeData holds the data rows of one episode.
type EpisodeData struct {
	Episode    Episode
	Timestamp  []float32
	FrameIndex []int64
	Index      []int64
	TaskIndex  []int64
	// Values holds every numeric and bool user feature, as float32,
	// row-major with the feature's dim values per frame.
	Values map[string][]float32
	// Images holds every image feature's encoded bytes (PNG), per frame.
	Images map[string][][]byte
}

// ReadEpisode reads episode ep's rows from its data file and checks that
// they are the episode's: episode_index, index and frame_index as the
// metadata says.
func (d *Dataset) ReadEpisode(ep int) (data *EpisodeData, err error) {
	if ep < 0 || ep >= len(d.Episodes) {
		return nil, fmt.Errorf("dataset %s: no episode %d (it has %d)", d.Root, ep, len(d.Episodes))
	}
	e := d.Episodes[ep]
	rel, err := d.Info.DataFile(e)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(d.Root, rel)
	defer recoverParquetPanic(&err, path)
	// The episode's first row in its file: the frames of the episodes before
	// it in the same file.
	var offset int64
	for _, o := range d.Episodes[:ep] {
		if r, _ := d.Info.DataFile(o); r == rel {
			offset += int64(o.Length)
		}
	}
	pf, err := openParquet(path, d.mem)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	if pf.numRows() < offset+int64(e.Length) {
		return nil, fmt.Errorf("%w: %s has %d rows; episode %d needs rows [%d, %d)", ErrInconsistent, path, pf.numRows(), ep, offset, offset+int64(e.Length))
	}
	out := &EpisodeData{Episode: e, Values: map[string][]float32{}, Images: map[string][][]byte{}}
	n := e.Length
	readCol := func(name string, dim int, fn func(leaf arrow.Array, j int) error) error {
		col, err := pf.readField(name, nil)
		if err != nil {
			return err
		}
		defer col.Release()
		slice := array.NewChunkedSlice(col, offset, offset+int64(n))
		defer slice.Release()
		if err := forEachValue(slice, dim, fn); err != nil {
			return fmt.Errorf("%s: column %q: %w", path, name, err)
		}
		return nil
	}
	ints := func(name string) ([]int64, error) {
		v := make([]int64, 0, n)
		err := readCol(name, 1, func(leaf arrow.Array, j int) error {
			x, err := leafInt(leaf, j)
			v = append(v, x)
			return err
		})
		return v, err
	}
	if out.FrameIndex, err = ints(colFrameIndex); err != nil {
		return nil, err
	}
	if out.Index, err = ints(colIndex); err != nil {
		return nil, err
	}
	if out.TaskIndex, err = ints(colTaskIndex); err != nil {
		return nil, err
	}
	epIdx, err := ints(colEpisodeIndex)
	if err != nil {
		return nil, err
	}
	out.Timestamp = make([]float32, 0, n)
	if err := readCol(colTimestamp, 1, func(leaf arrow.Array, j int) error {
		x, err := leafFloat(leaf, j)
		out.Timestamp = append(out.Timestamp, float32(x))
		return err
	}); err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		if epIdx[i] != int64(ep) || out.Index[i] != e.FromIndex+int64(i) {
			return nil, fmt.Errorf("%w: %s row %d has episode_index %d, index %d; episode %d's metadata says %d, %d",
				ErrInconsistent, path, offset+int64(i), epIdx[i], out.Index[i], ep, ep, e.FromIndex+int64(i))
		}
	}
	for _, f := range d.Info.Features {
		if isDefaultFeature(f.Name) || f.isVideo() || f.Dtype == "string" {
			continue
		}
		if f.Dtype == "image" {
			imgs, err := readImageColumn(pf, f.Name, offset, n)
			if err != nil {
				return nil, err
			}
			out.Images[f.Name] = imgs
			continue
		}
		vals := make([]float32, 0, n*f.dim())
		if err := readCol(f.Name, f.dim(), func(leaf arrow.Array, j int) error {
			x, err := leafFloat(leaf, j)
			vals = append(vals, float32(x))
			return err
		}); err != nil {
			return nil, err
		}
		out.Values[f.Name] = vals
	}
	return out, nil
}

// readImageColumn reads rows [offset, offset+n) of an image struct column.
func readImageColumn(pf *parquetFile, name string, offset int64, n int) ([][]byte, error) {
	col, err := pf.readField(name, nil)
	if err != nil {
		return nil, err
	}
	defer col.Release()
	slice := array.NewChunkedSlice(col, offset, offset+int64(n))
	defer slice.Release()
	out := make([][]byte, 0, n)
	for _, chunk := range slice.Chunks() {
		st, ok := chunk.(*array.Struct)
		if !ok {
			return nil, fmt.Errorf("%s: column %q has type %s, want struct<bytes, path>", pf.path, name, chunk.DataType())
		}
		bi := -1
		for i, f := range st.DataType().(*arrow.StructType).Fields() {
			if f.Name == "bytes" {
				bi = i
			}
		}
		if bi < 0 {
			return nil, fmt.Errorf("%s: column %q has no bytes field", pf.path, name)
		}
		bytesArr, ok := st.Field(bi).(*array.Binary)
		if !ok {
			return nil, fmt.Errorf("%s: column %q: bytes field is %s", pf.path, name, st.Field(bi).DataType())
		}
		for i := 0; i < st.Len(); i++ {
			if st.IsNull(i) || bytesArr.IsNull(i) {
				return nil, fmt.Errorf("%s: column %q, row %d: no image bytes (images stored by path only are not supported)", pf.path, name, offset+int64(len(out)))
			}
			out = append(out, slices.Clone(bytesArr.Value(i)))
		}
	}
	return out, nil
}

// VideoFrames decodes the frames of video feature key for episode ep at the
// given timestamps (the episode's own, as in its timestamp column), each
// within d.Tolerance or an error wrapping video.ErrFrameTimestamp (spec
// §6.2). v3.0 looks them up at from_timestamp + t in the episode's file.
func (d *Dataset) VideoFrames(ctx context.Context, key string, ep int, timestamps []float64) ([]RGB, error) {
	path, seg, err := d.videoSegment(key, ep)
	if err != nil {
		return nil, err
	}
	query := make([]float64, len(timestamps))
	for i, t := range timestamps {
		query[i] = seg.FromTimestamp + t
	}
	frames, err := video.FramesAt(ctx, path, query, float64(d.Info.FPS), d.Tolerance)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: episode %d, %s: %w", d.Root, ep, key, err)
	}
	out := make([]RGB, len(frames))
	for i, f := range frames {
		out[i] = RGB{Width: f.Width, Height: f.Height, Pix: f.RGB}
	}
	return out, nil
}

// EpisodeVideo decodes every frame of video feature key in episode ep's
// segment, with each frame's time relative to the episode's start.
func (d *Dataset) EpisodeVideo(ctx context.Context, key string, ep int) ([]RGB, []float64, error) {
	path, seg, err := d.videoSegment(key, ep)
	if err != nil {
		return nil, nil, err
	}
	var frames []RGB
	var times []float64
	last := seg.FromTimestamp + float64(d.Episodes[ep].Length-1)/float64(d.Info.FPS)
	err = video.Decode(ctx, path, seg.FromTimestamp, last, float64(d.Info.FPS), func(f video.Frame) error {
		frames = append(frames, RGB{Width: f.Width, Height: f.Height, Pix: f.RGB})
		times = append(times, f.PTS-seg.FromTimestamp)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dataset %s: episode %d, %s: %w", d.Root, ep, key, err)
	}
	return frames, times, nil
}

func (d *Dataset) videoSegment(key string, ep int) (string, VideoSegment, error) {
	f, ok := d.Info.Feature(key)
	if !ok || !f.isVideo() {
		return "", VideoSegment{}, fmt.Errorf("dataset %s: %q is not a video feature", d.Root, key)
	}
	if ep < 0 || ep >= len(d.Episodes) {
		return "", VideoSegment{}, fmt.Errorf("dataset %s: no episode %d (it has %d)", d.Root, ep, len(d.Episodes))
	}
	e := d.Episodes[ep]
	seg, ok := e.Videos[key]
	if !ok {
		return "", VideoSegment{}, fmt.Errorf("dataset %s: episode %d has no location for video %q", d.Root, ep, key)
	}
	rel, err := d.Info.VideoFile(e, key)
	if err != nil {
		return "", VideoSegment{}, err
	}
	return filepath.Join(d.Root, rel), seg, nil
}

// Item is one frame of the dataset, as LeRobotDataset.__getitem__ returns it.
type Item struct {
	Index      int64
	Episode    int
	FrameIndex int64
	Timestamp  float32
	TaskIndex  int64
	Task       string
	// Values holds the numeric and bool features (float32, dim values each).
	Values map[string][]float32
	// Images holds image features (decoded from PNG) and video features
	// (decoded at the frame's timestamp within the tolerance).
	Images map[string]RGB
}

// episodeCache keeps the last episode read by Item, so that walking frames
// in order reads each data file once.
type episodeCache struct {
	data *EpisodeData
}

// Item returns frame index (the global `index`, 0..NumFrames-1): random
// access for training buffers. Video frames are decoded by timestamp; each
// call decodes from the nearest keyframe (every 2nd frame with LeRobot's
// encoding), so bulk readers should prefer columns and EpisodeVideo.
func (d *Dataset) Item(ctx context.Context, index int64) (*Item, error) {
	ep := sort.Search(len(d.Episodes), func(i int) bool { return d.Episodes[i].ToIndex > index })
	if index < 0 || ep == len(d.Episodes) {
		return nil, fmt.Errorf("dataset %s: no frame %d (it has %d)", d.Root, index, d.NumFrames())
	}
	if d.cache == nil || d.cache.data.Episode.Index != ep {
		data, err := d.ReadEpisode(ep)
		if err != nil {
			return nil, err
		}
		d.cache = &episodeCache{data: data}
	}
	data := d.cache.data
	row := int(index - data.Episode.FromIndex)
	it := &Item{
		Index: index, Episode: ep, FrameIndex: data.FrameIndex[row], Timestamp: data.Timestamp[row],
		TaskIndex: data.TaskIndex[row], Values: map[string][]float32{}, Images: map[string]RGB{},
	}
	if ti := int(it.TaskIndex); ti >= 0 && ti < len(d.Tasks) {
		it.Task = d.Tasks[ti]
	} else {
		return nil, fmt.Errorf("%w: frame %d has task_index %d, the dataset has %d tasks", ErrInconsistent, index, it.TaskIndex, len(d.Tasks))
	}
	for name, vals := range data.Values {
		f, _ := d.Info.Feature(name)
		dim := f.dim()
		it.Values[name] = vals[row*dim : (row+1)*dim]
	}
	for name, imgs := range data.Images {
		img, err := decodeImage(imgs[row])
		if err != nil {
			return nil, fmt.Errorf("dataset %s: frame %d, %s: %w", d.Root, index, name, err)
		}
		it.Images[name] = img
	}
	for _, key := range d.Info.VideoKeys() {
		frames, err := d.VideoFrames(ctx, key, ep, []float64{float64(it.Timestamp)})
		if err != nil {
			return nil, err
		}
		it.Images[key] = frames[0]
	}
	return it, nil
}
