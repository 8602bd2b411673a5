package transport

import (
	"fmt"
	"math"
	"slices"

	pb "github.com/e2hil/e2hil/transport/transportpb"
)

// Image is one camera frame, uint8, channel-first ([C, H, W]).
type Image struct {
	Name   string
	Shape  []int
	Pixels []uint8
}

// Transition is one environment step as an actor executed it.
type Transition struct {
	State  []float32
	Images []Image
	// Action is the executed action in the env's layout: the human's when
	// Intervention (HIL-SERL stores what the robot did).
	Action     []float32
	Reward     float32
	NextState  []float32
	NextImages []Image
	// Done: the episode terminated; Truncated: the time limit cut it (the
	// critic still bootstraps).
	Done, Truncated, Intervention bool
}

// Batch is a run of validated transitions from one actor.
type Batch struct {
	ActorID     string
	Transitions []Transition
}

// Interaction is one finished episode's statistics (LeRobot's interaction
// message: "Episodic reward", "Intervention rate", "Policy frequency [Hz]").
type Interaction struct {
	ActorID           string
	Episode           int64
	Steps             int
	Reward            float64
	InterventionSteps int
	Success           bool
	PolicyHz          float64
}

// ImageSpec is an expected camera feature.
type ImageSpec struct {
	Name  string
	Shape []int
}

// Schema is what the learner accepts: every incoming transition is checked
// against it (shapes, finite values, action bounds) before the learner sees
// it.
type Schema struct {
	StateDim int
	// ActionLow/High bound each executed action value; their length is the
	// action dimension.
	ActionLow, ActionHigh []float32
	Images                []ImageSpec
}

// Validate checks the schema itself.
func (s Schema) Validate() error {
	if s.StateDim < 1 {
		return fmt.Errorf("transport: schema state dim must be ≥ 1, got %d", s.StateDim)
	}
	if len(s.ActionLow) < 1 || len(s.ActionLow) != len(s.ActionHigh) {
		return fmt.Errorf("transport: schema action bounds have %d low and %d high values", len(s.ActionLow), len(s.ActionHigh))
	}
	return nil
}

// Rejection reasons, the keys of ServerStats.Rejected.
const (
	RejectShape     = "shape"
	RejectNonFinite = "non_finite"
	RejectBounds    = "action_bounds"
	RejectDecode    = "decode"
)

// actionSlack tolerates float rounding at the action bounds.
const actionSlack = 1e-4

// check validates one step; on failure it returns the reason and the error.
func (s Schema) check(st *pb.Step) (string, error) {
	if len(st.State) != s.StateDim || len(st.NextState) != s.StateDim {
		return RejectShape, fmt.Errorf("state %d, next_state %d values, want %d", len(st.State), len(st.NextState), s.StateDim)
	}
	if len(st.Action) != len(s.ActionLow) {
		return RejectShape, fmt.Errorf("action has %d values, want %d", len(st.Action), len(s.ActionLow))
	}
	for _, imgs := range [][]*pb.Image{st.Images, st.NextImages} {
		if len(imgs) != len(s.Images) {
			return RejectShape, fmt.Errorf("%d images, want %d", len(imgs), len(s.Images))
		}
		for i, im := range imgs {
			want := s.Images[i]
			n := 1
			for _, d := range want.Shape {
				n *= d
			}
			if im.Name != want.Name || !slices.Equal(intsOf(im.Shape), want.Shape) || len(im.Pixels) != n {
				return RejectShape, fmt.Errorf("image %q %v with %d bytes, want %q %v", im.Name, im.Shape, len(im.Pixels), want.Name, want.Shape)
			}
		}
	}
	for _, f := range []struct {
		name string
		v    []float32
	}{{"state", st.State}, {"next_state", st.NextState}, {"action", st.Action}, {"reward", []float32{st.Reward}}} {
		for i, x := range f.v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return RejectNonFinite, fmt.Errorf("%s[%d] = %g is not finite", f.name, i, x)
			}
		}
	}
	for i, a := range st.Action {
		if a < s.ActionLow[i]-actionSlack || a > s.ActionHigh[i]+actionSlack {
			return RejectBounds, fmt.Errorf("action[%d] = %g outside [%g, %g]", i, a, s.ActionLow[i], s.ActionHigh[i])
		}
	}
	return "", nil
}

func intsOf(v []int32) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func toPBImages(ims []Image) []*pb.Image {
	if len(ims) == 0 {
		return nil
	}
	out := make([]*pb.Image, len(ims))
	for i, im := range ims {
		sh := make([]int32, len(im.Shape))
		for j, d := range im.Shape {
			sh[j] = int32(d)
		}
		out[i] = &pb.Image{Name: im.Name, Shape: sh, Pixels: im.Pixels}
	}
	return out
}

func fromPBImages(ims []*pb.Image) []Image {
	if len(ims) == 0 {
		return nil
	}
	out := make([]Image, len(ims))
	for i, im := range ims {
		out[i] = Image{Name: im.Name, Shape: intsOf(im.Shape), Pixels: im.Pixels}
	}
	return out
}

func toPB(t *Transition) *pb.Step {
	return &pb.Step{
		State: t.State, Images: toPBImages(t.Images), Action: t.Action, Reward: t.Reward,
		NextState: t.NextState, NextImages: toPBImages(t.NextImages),
		Done: t.Done, Truncated: t.Truncated, IsIntervention: t.Intervention,
	}
}

func fromPB(st *pb.Step) Transition {
	return Transition{
		State: st.State, Images: fromPBImages(st.Images), Action: st.Action, Reward: st.Reward,
		NextState: st.NextState, NextImages: fromPBImages(st.NextImages),
		Done: st.Done, Truncated: st.Truncated, Intervention: st.IsIntervention,
	}
}
