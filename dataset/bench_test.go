package dataset

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// Throughput of recording and reading, in frames per second (a frame is one
// time step: all features, every camera). Two workloads:
//
//	state-only: observation.state [12], action [4], next.reward, next.done;
//	            10,000 frames as 40 episodes of 250
//	video:      the same plus two 128×128 video cameras (LeRobot's AV1
//	            encoding); 3,000 frames (100 s at 30 fps) as 5 episodes of
//	            20 s (LeRobot's gym_manipulator control_time_s default), and
//	            as 10 episodes of 10 s: every episode starts an encoder per
//	            camera, so shorter episodes cost more per frame
//
// Frame contents are prepared before the timer starts; writing includes
// Create, every AddFrame and SaveEpisode (encoding, concatenation, the
// atomic commit) and Close. Reading is Open, every numeric column and, for
// video, decoding every frame of both cameras.

const benchFPS = 30

type benchWorkload struct {
	episodes, length int
	cameras          bool
}

var (
	benchStateOnly = benchWorkload{episodes: 40, length: 250}
	benchVideo     = benchWorkload{episodes: 5, length: 600, cameras: true}
	benchVideo10s  = benchWorkload{episodes: 10, length: 300, cameras: true}
)

func (bw benchWorkload) frames() int { return bw.episodes * bw.length }

func (bw benchWorkload) features() []Feature {
	f := hilFeatures()
	if bw.cameras {
		f = append(f,
			Feature{Name: "observation.images.front", Dtype: "video", Shape: []int{3, 128, 128}, Names: []string{"channels", "height", "width"}},
			Feature{Name: "observation.images.wrist", Dtype: "video", Shape: []int{3, 128, 128}, Names: []string{"channels", "height", "width"}},
		)
	}
	return f
}

// benchFrames are the frames the workload records, cycled through.
type benchFrames struct {
	state, action [][]float32
	front, wrist  [][]byte
}

func newBenchFrames(bw benchWorkload) *benchFrames {
	const distinct = 300
	fr := &benchFrames{}
	for k := 0; k < distinct; k++ {
		s := make([]float32, 12)
		for d := range s {
			s[d] = float32(k*12+d) * 0.01
		}
		fr.state = append(fr.state, s)
		fr.action = append(fr.action, []float32{float32(k) * 0.001, 0.5, -0.5, float32(k % 3)})
		if bw.cameras {
			fr.front = append(fr.front, scene(128, 128, k, 0))
			fr.wrist = append(fr.wrist, scene(128, 128, k, 1))
		}
	}
	return fr
}

func (bw benchWorkload) write(tb testing.TB, root string, fr *benchFrames) {
	w, err := Create(WriterConfig{Root: root, FPS: benchFPS, RobotType: "so101_follower", Features: bw.features()})
	if err != nil {
		tb.Fatal(err)
	}
	k := 0
	for ep := 0; ep < bw.episodes; ep++ {
		for i := 0; i < bw.length; i, k = i+1, k+1 {
			j := k % len(fr.state)
			f := Frame{"observation.state": fr.state[j], "action": fr.action[j], "next.reward": float32(0), "next.done": i == bw.length-1}
			if bw.cameras {
				f["observation.images.front"], f["observation.images.wrist"] = fr.front[j], fr.wrist[j]
			}
			if err := w.AddFrame(f, "pick the cube"); err != nil {
				tb.Fatal(err)
			}
		}
		if err := w.SaveEpisode(); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

func (bw benchWorkload) read(tb testing.TB, root string) {
	d, err := Open(root)
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range []string{"observation.state", "action", "next.reward", "timestamp"} {
		if v, _, err := d.Float32Column(name); err != nil || len(v) == 0 {
			tb.Fatalf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"episode_index", "index", "task_index"} {
		if _, _, err := d.Int64Column(name); err != nil {
			tb.Fatal(err)
		}
	}
	if _, _, err := d.BoolColumn("next.done"); err != nil {
		tb.Fatal(err)
	}
	if !bw.cameras {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for ep := range d.Episodes {
		for _, key := range []string{"observation.images.front", "observation.images.wrist"} {
			frames, _, err := d.EpisodeVideo(ctx, key, ep)
			if err != nil || len(frames) != bw.length {
				tb.Fatalf("episode %d %s: %d frames, %v", ep, key, len(frames), err)
			}
		}
	}
}

func benchWrite(b *testing.B, bw benchWorkload) {
	if bw.cameras {
		requireVideo(b)
	}
	fr := newBenchFrames(bw)
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bw.write(b, filepath.Join(dir, fmt.Sprint(i)), fr)
	}
	reportFrames(b, bw)
}

func benchRead(b *testing.B, bw benchWorkload) {
	if bw.cameras {
		requireVideo(b)
	}
	root := filepath.Join(b.TempDir(), "ds")
	bw.write(b, root, newBenchFrames(bw))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bw.read(b, root)
	}
	reportFrames(b, bw)
}

// reportFrames reports frames/s and, as "x_realtime", how many times faster
// than the 30 fps they were recorded at.
func reportFrames(b *testing.B, bw benchWorkload) {
	perSec := float64(bw.frames()*b.N) / b.Elapsed().Seconds()
	b.ReportMetric(perSec, "frames/s")
	b.ReportMetric(perSec/benchFPS, "x_realtime")
}

func BenchmarkWriteStateOnly(b *testing.B) { benchWrite(b, benchStateOnly) }
func BenchmarkReadStateOnly(b *testing.B)  { benchRead(b, benchStateOnly) }
func BenchmarkReadVideo(b *testing.B)      { benchRead(b, benchVideo) }

func BenchmarkWriteVideo(b *testing.B) {
	b.Run("episodes=20s", func(b *testing.B) { benchWrite(b, benchVideo) })
	b.Run("episodes=10s", func(b *testing.B) { benchWrite(b, benchVideo10s) })
}
