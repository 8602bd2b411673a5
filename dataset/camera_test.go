package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/e2hil/e2hil/dataset/video"
)

// requireVideo skips (or fails under E2HIL_REQUIRE_TOOLS=1) without ffmpeg
// and its SVT-AV1 encoder.
func requireVideo(t testing.TB) {
	t.Helper()
	if err := video.Available(); err != nil {
		requireTools(t, "%v", err)
	}
	if !video.HasEncoder("libsvtav1") {
		requireTools(t, "ffmpeg has no libsvtav1 encoder (Debian's ffmpeg has it)")
	}
}

// scene draws camera-like content for camera cam at frame k: smooth
// gradients and a moving disc, different per camera.
func scene(w, h, k, cam int) []byte {
	rgb := make([]byte, w*h*3)
	ph := float64(cam) * 1.7
	cx := float64(w)/2 + float64(w)/4*math.Cos(float64(k)/15+ph)
	cy := float64(h)/2 + float64(h)/4*math.Sin(float64(k)/12+ph)
	rad := float64(w) / 6
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r := 50 + 130*float64(x)/float64(w)
			g := 70 + 110*float64(y)/float64(h) + 20*float64(cam)
			b := 140 + 60*math.Sin(float64(x+y+k)/20+ph)
			if d := math.Hypot(float64(x)-cx, float64(y)-cy); d < rad {
				f := 1 - d/rad
				r, g, b = r+(230-r)*f, g+(90-g)*f, b+(40-b)*f
			}
			i := (y*w + x) * 3
			rgb[i], rgb[i+1], rgb[i+2] = byte(r), byte(g), byte(min(b, 255))
		}
	}
	return rgb
}

func psnr(a, b []byte) float64 {
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(len(a))))
}

// cameraFeatures: state, action, reward, done, two 128×128 video cameras
// (one CHW as HIL-SERL records, one HWC as lerobot-record does) and one
// image feature.
func cameraFeatures() []Feature {
	return []Feature{
		{Name: "observation.state", Dtype: "float32", Shape: []int{6}},
		{Name: "action", Dtype: "float32", Shape: []int{4}, Names: []string{"delta_x_ee", "delta_y_ee", "delta_z_ee", "gripper_delta"}},
		{Name: "next.reward", Dtype: "float32", Shape: []int{1}},
		{Name: "next.done", Dtype: "bool", Shape: []int{1}},
		{Name: "observation.images.front", Dtype: "video", Shape: []int{3, 128, 128}, Names: []string{"channels", "height", "width"}},
		{Name: "observation.images.wrist", Dtype: "video", Shape: []int{128, 128, 3}, Names: []string{"height", "width", "channels"}},
		{Name: "observation.images.gripper", Dtype: "image", Shape: []int{64, 80, 3}, Names: []string{"height", "width", "channels"}},
	}
}

// cameraRecord is what recordCameras wrote.
type cameraRecord struct {
	state, action, reward []float32
	done                  []bool
	lengths               []int
}

// recordCameras records episodes of the given lengths with cameraFeatures;
// frame k of the dataset shows scene(k) on every camera.
func recordCameras(t testing.TB, w *Writer, lengths []int) cameraRecord {
	t.Helper()
	var rec cameraRecord
	k := 0
	for _, n := range lengths {
		for i := 0; i < n; i++ {
			state := []float32{float32(k) * 0.25, -float32(i), float32(math.Sin(float64(k))), 1e-7 * float32(k), 3, float32(n)}
			action := []float32{float32(math.Cos(float64(k))), 0.5, -0.5, float32(k % 3)}
			reward := float32(0)
			if i == n-1 {
				reward = 1
			}
			f := Frame{
				"observation.state":          state,
				"action":                     action,
				"next.reward":                reward,
				"next.done":                  i == n-1,
				"observation.images.front":   scene(128, 128, k, 0),
				"observation.images.wrist":   RGB{Width: 128, Height: 128, Pix: scene(128, 128, k, 1)},
				"observation.images.gripper": RGB{Width: 80, Height: 64, Pix: scene(80, 64, k, 2)}.Image(),
			}
			if err := w.AddFrame(f, "pick the cube"); err != nil {
				t.Fatal(err)
			}
			rec.state = append(rec.state, state...)
			rec.action = append(rec.action, action...)
			rec.reward = append(rec.reward, reward)
			rec.done = append(rec.done, i == n-1)
			k++
		}
		if err := w.SaveEpisode(); err != nil {
			t.Fatal(err)
		}
		rec.lengths = append(rec.lengths, n)
	}
	return rec
}

func writeCameraDataset(t testing.TB, version string, lengths []int) (string, cameraRecord) {
	t.Helper()
	requireVideo(t)
	root := filepath.Join(t.TempDir(), "cams")
	w, err := Create(WriterConfig{Root: root, FPS: 30, RobotType: "so101_follower", Features: cameraFeatures(), CodebaseVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	rec := recordCameras(t, w, lengths)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return root, rec
}

// TestCameraRoundTrip writes state, two video cameras and an image feature
// in both formats and reads everything back: numbers bit for bit, images
// byte for byte (PNG is lossless), video frames at ≥ 35 dB PSNR at the
// right timestamps.
func TestCameraRoundTrip(t *testing.T) {
	for _, version := range []string{CodebaseVersion, CodebaseVersionV21} {
		t.Run(version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			lengths := []int{21, 34, 9}
			root, rec := writeCameraDataset(t, version, lengths)
			if _, err := os.Stat(filepath.Join(root, privateDir)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Close left %s behind: %v", privateDir, err)
			}
			d, err := open(root, checkedMem(t))
			if err != nil {
				t.Fatal(err)
			}
			total := 21 + 34 + 9
			if d.Info.CodebaseVersion != version || d.NumFrames() != total || len(d.Episodes) != 3 {
				t.Fatalf("%s: version %s, %d frames, %d episodes", root, d.Info.CodebaseVersion, d.NumFrames(), len(d.Episodes))
			}
			for _, c := range []struct {
				name string
				want []float32
			}{{"observation.state", rec.state}, {"action", rec.action}, {"next.reward", rec.reward}} {
				got, _, err := d.Float32Column(c.name)
				if err != nil || !slices.Equal(got, c.want) {
					t.Errorf("%s: %v, equal %v", c.name, err, slices.Equal(got, c.want))
				}
			}
			if got, _, err := d.BoolColumn("next.done"); err != nil || !slices.Equal(got, rec.done) {
				t.Errorf("next.done: %v", err)
			}
			for _, key := range []string{"observation.images.front", "observation.images.wrist"} {
				f, _ := d.Info.Feature(key)
				var vi struct {
					H     int    `json:"video.height"`
					W     int    `json:"video.width"`
					Codec string `json:"video.codec"`
					Pix   string `json:"video.pix_fmt"`
					FPS   int    `json:"video.fps"`
					Ch    int    `json:"video.channels"`
				}
				if err := jsonUnmarshal(f.Info, &vi); err != nil || vi.H != 128 || vi.W != 128 || vi.Codec != "av1" || vi.Pix != "yuv420p" || vi.FPS != 30 || vi.Ch != 3 {
					t.Errorf("%s info = %s (%v)", key, f.Info, err)
				}
			}
			// Every frame of every camera, episode by episode.
			k := 0
			for ep, n := range lengths {
				e := d.Episodes[ep]
				for cam, key := range []string{"observation.images.front", "observation.images.wrist"} {
					seg := e.Videos[key]
					wantFrom, wantTo := 0.0, float64(n)/30
					if version == CodebaseVersion { // one mp4 per camera holds every episode
						wantFrom, wantTo = float64(e.FromIndex)/30, float64(int(e.FromIndex)+n)/30
					}
					if seg.FromTimestamp != wantFrom || seg.ToTimestamp != wantTo {
						t.Errorf("episode %d %s: [%v, %v], want [%v, %v]", ep, key, seg.FromTimestamp, seg.ToTimestamp, wantFrom, wantTo)
					}
					frames, times, err := d.EpisodeVideo(ctx, key, ep)
					if err != nil {
						t.Fatal(err)
					}
					if len(frames) != n {
						t.Fatalf("episode %d %s: %d frames decoded, want %d", ep, key, len(frames), n)
					}
					for i, fr := range frames {
						if math.Abs(times[i]-float64(i)/30) > video.DefaultTolerance {
							t.Errorf("episode %d %s frame %d at %.6fs, want %.6fs", ep, key, i, times[i], float64(i)/30)
						}
						if p := psnr(fr.Pix, scene(128, 128, k+i, cam)); p < 35 {
							t.Errorf("episode %d %s frame %d: PSNR %.1f dB < 35", ep, key, i, p)
						}
					}
				}
				k += n
			}
			// Random access by global index, as training buffers read.
			for _, index := range []int64{0, 20, 21, 55, int64(total - 1)} {
				it, err := d.Item(ctx, index)
				if err != nil {
					t.Fatal(err)
				}
				i := int(index)
				if !slices.Equal(it.Values["observation.state"], rec.state[i*6:i*6+6]) || it.Task != "pick the cube" {
					t.Errorf("item %d: state %v task %q", index, it.Values["observation.state"], it.Task)
				}
				if g := it.Images["observation.images.gripper"]; !slices.Equal(g.Pix, scene(80, 64, i, 2)) {
					t.Errorf("item %d: image feature differs from what was written", index)
				}
				for cam, key := range []string{"observation.images.front", "observation.images.wrist"} {
					if p := psnr(it.Images[key].Pix, scene(128, 128, i, cam)); p < 35 {
						t.Errorf("item %d %s: PSNR %.1f dB", index, key, p)
					}
				}
				if chw := it.Images["observation.images.front"].CHW(); len(chw) != 3*128*128 {
					t.Errorf("CHW has %d values", len(chw))
				}
			}
			// Image stats are per channel, (3,1,1), in [0, 1].
			if s := d.Stats["observation.images.front"]; len(s.Mean) != 3 || s.Min[0] < 0 || s.Max[2] > 1 || s.Count == 0 {
				t.Errorf("video stats %+v", s)
			}
		})
	}
}

func jsonUnmarshal(b []byte, v any) error {
	if b == nil {
		return fmt.Errorf("no info")
	}
	return json.Unmarshal(b, v)
}

// TestVideoRollover lowers video_files_size_in_mb so that each camera's mp4
// fills after about two episodes: episodes then start new files (and, with
// two files per chunk, new chunk directories), from_timestamp restarts at 0
// in each, and every frame still decodes at its timestamp; the dataset
// validates.
func TestVideoRollover(t *testing.T) {
	requireVideo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root := filepath.Join(t.TempDir(), "ds")
	w, err := Create(WriterConfig{Root: root, FPS: 30, Features: cameraFeatures(), ChunksSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	lengths := []int{10, 10, 10, 10, 10, 10}
	// The first episode's mp4 sets the scale: a file takes about two.
	w.videoLimitMB = 1e9
	for i, n := range lengths {
		recordCameras(t, w, []int{n})
		if i == 0 {
			st, err := os.Stat(filepath.Join(root, "videos/observation.images.front/chunk-000/file-000.mp4"))
			if err != nil {
				t.Fatal(err)
			}
			w.videoLimitMB = 2.5 * float64(st.Size()) / mib
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	key := "observation.images.front"
	var locs []fileLoc
	for _, e := range d.Episodes {
		seg := e.Videos[key]
		l := fileLoc{seg.Chunk, seg.File}
		if len(locs) == 0 || locs[len(locs)-1] != l {
			locs = append(locs, l)
			if seg.FromTimestamp != 0 {
				t.Errorf("episode %d starts file %v at %v, want 0", e.Index, l, seg.FromTimestamp)
			}
		}
	}
	if len(locs) < 3 {
		t.Fatalf("video files %v: want at least 3", locs)
	}
	for i, l := range locs {
		if want := (fileLoc{i / 2, i % 2}); l != want {
			t.Errorf("video file %d at %v, want %v", i, l, want)
		}
	}
	for ep := range d.Episodes {
		frames, times, err := d.EpisodeVideo(ctx, key, ep)
		if err != nil || len(frames) != lengths[ep] || math.Abs(times[len(times)-1]-float64(lengths[ep]-1)/30) > 1e-4 {
			t.Errorf("episode %d: %d frames, %v", ep, len(frames), err)
		}
	}
	v, err := Validate(ctx, root, ValidateOptions{})
	if err != nil || !v.OK() {
		t.Errorf("validate: %v %v", v.Problems, err)
	}
}
