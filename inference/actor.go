package inference

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/e2hil/e2hil/dataset"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/models/preprocess"
)

// Actor is what chooses actions: an ONNX policy or the random baseline.
type Actor interface {
	Act(state []float32) ([]float32, error)
}

// ImageActor is an Actor that reads cameras (a Policy exported with them):
// Run preprocesses the env's frames (crop, resize, CHW in [0, 1]) into the
// images it takes.
type ImageActor interface {
	Cameras() []Camera
	ActImages(state []float32, images [][]float32) ([]float32, error)
}

// cameraFeed turns an observation's frames into an ImageActor's images.
type cameraFeed struct {
	keys   []string
	preps  []*preprocess.Preprocessor
	images [][]float32
}

func newCameraFeed(sp env.Spec, cams []Camera) (*cameraFeed, error) {
	f := &cameraFeed{}
	for _, c := range cams {
		i := slices.IndexFunc(sp.Cameras, func(ec env.CameraSpec) bool { return ec.Key == c.Key })
		if i < 0 {
			return nil, fmt.Errorf("the policy reads camera %s; the environment has %v (configure env.cameras)", c.Key, sp.Cameras)
		}
		ec := sp.Cameras[i]
		p, err := preprocess.New(preprocess.Config{Crop: c.Crop, Height: c.Height, Width: c.Width}, ec.H, ec.W)
		if err != nil {
			return nil, fmt.Errorf("camera %s: %w", c.Key, err)
		}
		f.keys, f.preps = append(f.keys, c.Key), append(f.preps, p)
		f.images = append(f.images, make([]float32, p.Len()))
	}
	return f, nil
}

func (f *cameraFeed) fill(obs env.Observation) error {
	for i, k := range f.keys {
		img, ok := obs.Images[k]
		if !ok {
			return fmt.Errorf("observation has no %s frame", k)
		}
		if err := f.preps[i].Apply(f.images[i], img.Pix); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// Recorder receives every frame and episode boundary (a dataset.Writer).
type Recorder interface {
	AddFrame(f dataset.Frame, task string) error
	SaveEpisode() error
}

// RunOptions configure Run.
type RunOptions struct {
	Episodes int
	// Seed of the first episode; episode i resets with Seed+i.
	Seed int64
	// Fast runs as fast as possible instead of at the env's fps.
	Fast bool
	// GripperCommand fills the action's gripper value when the actor
	// outputs only the end-effector delta (1 = stay).
	GripperCommand float32
	// Recorder, when set, records every episode.
	Recorder Recorder
	// OnEpisode, when set, is called after each episode.
	OnEpisode func(EpisodeResult)
}

// EpisodeResult is one episode's outcome.
type EpisodeResult struct {
	Index, Steps int
	Success      bool
	Return       float64
}

// Report summarises a run.
type Report struct {
	Episodes  []EpisodeResult
	Successes int
	// PolicyLatency percentiles of one Act call.
	LatencyP50, LatencyP99 time.Duration
	// StepOverruns counts control periods the loop could not keep (Fast off).
	StepOverruns int
	Duration     time.Duration
}

// SuccessRate is successes / episodes.
func (r *Report) SuccessRate() float64 {
	if len(r.Episodes) == 0 {
		return 0
	}
	return float64(r.Successes) / float64(len(r.Episodes))
}

// Run is the control loop: for each episode, reset, then observe → act →
// step until the episode ends, paced at the env's fps unless Fast. Frames
// are recorded as LeRobot does: the observation before the step, the
// executed action, and the step's reward and done.
func Run(ctx context.Context, e env.Env, actor Actor, o RunOptions) (*Report, error) {
	sp := e.Spec()
	period := time.Second / time.Duration(sp.FPS)
	rep := &Report{}
	var lat []time.Duration
	action := make([]float32, len(sp.ActionNames))
	var feed *cameraFeed
	ia, withImages := actor.(ImageActor)
	if withImages && len(ia.Cameras()) == 0 {
		withImages = false
	}
	if withImages {
		var err error
		if feed, err = newCameraFeed(sp, ia.Cameras()); err != nil {
			return nil, err
		}
	}
	act := func(obs env.Observation) ([]float32, error) {
		if !withImages {
			return actor.Act(obs.State)
		}
		if err := feed.fill(obs); err != nil {
			return nil, err
		}
		return ia.ActImages(obs.State, feed.images)
	}
	start := time.Now()
	for ep := 0; ep < o.Episodes; ep++ {
		obs, err := e.Reset(ctx, o.Seed+int64(ep))
		if err != nil {
			return nil, err
		}
		res := EpisodeResult{Index: ep}
		next := time.Now().Add(period)
		for {
			t0 := time.Now()
			a, err := act(obs)
			if err != nil {
				return nil, fmt.Errorf("episode %d step %d: %w", ep, res.Steps, err)
			}
			lat = append(lat, time.Since(t0))
			if len(a) > len(action) {
				return nil, fmt.Errorf("actor returned %d action values, the env takes %d (%v)", len(a), len(action), sp.ActionNames)
			}
			n := copy(action, a)
			for i := n; i < len(action); i++ {
				action[i] = o.GripperCommand
			}
			st, err := e.Step(ctx, action)
			if err != nil {
				return nil, fmt.Errorf("episode %d step %d: %w", ep, res.Steps, err)
			}
			done := st.Terminated || st.Truncated
			if o.Recorder != nil {
				frame := dataset.Frame{
					"observation.state": append([]float32(nil), obs.State...),
					"action":            append([]float32(nil), action...),
					"next.reward":       float32(st.Reward),
					"next.done":         done,
				}
				for _, c := range sp.Cameras {
					img, ok := obs.Images[c.Key]
					if !ok || img.H != c.H || img.W != c.W || len(img.Pix) != 3*c.H*c.W {
						return nil, fmt.Errorf("episode %d step %d: observation lacks a %d×%d frame for %s", ep, res.Steps, c.H, c.W, c.Key)
					}
					frame[c.Key] = img.Pix // HWC RGB, fresh per observation
				}
				if err := o.Recorder.AddFrame(frame, sp.Task); err != nil {
					return nil, err
				}
			}
			res.Steps++
			res.Return += st.Reward
			obs = st.Observation
			if done {
				res.Success = st.Success
				break
			}
			if !o.Fast {
				if wait := time.Until(next); wait > 0 {
					t := time.NewTimer(wait)
					select {
					case <-ctx.Done():
						t.Stop()
						return nil, ctx.Err()
					case <-t.C:
					}
				} else {
					rep.StepOverruns++
				}
				next = next.Add(period)
			} else if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if o.Recorder != nil {
			if err := o.Recorder.SaveEpisode(); err != nil {
				return nil, err
			}
		}
		if res.Success {
			rep.Successes++
		}
		rep.Episodes = append(rep.Episodes, res)
		if o.OnEpisode != nil {
			o.OnEpisode(res)
		}
	}
	rep.Duration = time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		rep.LatencyP50 = lat[len(lat)/2]
		rep.LatencyP99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return rep, nil
}

// DatasetFeatures are the features the actor records for an env, in
// LeRobot's names: observation.state, the executed action, next.reward,
// next.done, and every camera as a video feature (channel-first shape
// [3, H, W] with names, as HIL-SERL's recorder writes them).
func DatasetFeatures(sp env.Spec) []dataset.Feature {
	fs := []dataset.Feature{
		{Name: "observation.state", Dtype: "float32", Shape: []int{len(sp.StateNames)}, Names: sp.StateNames},
		{Name: "action", Dtype: "float32", Shape: []int{len(sp.ActionNames)}, Names: sp.ActionNames},
		{Name: "next.reward", Dtype: "float32", Shape: []int{1}},
		{Name: "next.done", Dtype: "bool", Shape: []int{1}},
	}
	for _, c := range sp.Cameras {
		fs = append(fs, dataset.Feature{Name: c.Key, Dtype: "video", Shape: []int{3, c.H, c.W}, Names: []string{"channels", "height", "width"}})
	}
	return fs
}
