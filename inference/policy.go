package inference

import (
	"encoding/json"
	"fmt"

	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/e2hil/e2hil/models/onnx"
	"github.com/e2hil/e2hil/models/preprocess"
)

// Policy is an exported e2hil policy running in onnxruntime: raw
// observation.state in, continuous action out (plus the gripper command when
// the model has a "gripper" output), no allocation per step.
//
// Act, Close and Metadata belong to the control loop's goroutine; Swap may be
// called from any goroutine (the learner's parameter stream) and takes effect
// at the next Act.
type Policy struct {
	sess     *Session
	in, out  []float32
	images   []cameraInput // in the model's input order
	gripper  []int64       // the model's gripper output, or nil
	full     []float32     // out + gripper, when the model has one
	Metadata map[string]string
	opts     SessionOptions
	pending  atomic.Pointer[Policy] // a swapped-in policy not yet in use
	// sig is what a swapped-in model must match, set in NewPolicy and never
	// written again: Swap reads it from any goroutine while Act replaces
	// the fields above.
	sig policySig
	// Swaps counts the policies swapped in so far.
	Swaps int
}

// policySig is a policy's interface to the control loop: state size and
// names, action size (gripper included), cameras.
type policySig struct {
	stateDim, actionDim int
	stateNames          string
	cameras             []Camera
}

func (a policySig) equal(b policySig) bool {
	return a.stateDim == b.stateDim && a.actionDim == b.actionDim && a.stateNames == b.stateNames &&
		slices.EqualFunc(a.cameras, b.cameras, func(x, y Camera) bool {
			// Crop by value: each loaded model has its own.
			return x.Key == y.Key && x.Height == y.Height && x.Width == y.Width &&
				(x.Crop == nil) == (y.Crop == nil) && (x.Crop == nil || *x.Crop == *y.Crop)
		})
}

// Names of the tensors and metadata an exported policy has (models/export.go).
const (
	policyInput   = "observation.state"
	policyOutput  = "action"
	policyGripper = "gripper"
	// Camera inputs are named after their features: observation.images.<cam>.
	imagePrefix = "observation.images."
)

// cameraInput is one camera input of the model: [1, 3, H, W] float32 in
// [0, 1] (models/preprocess output).
type cameraInput struct {
	key  string
	h, w int
	crop *preprocess.Crop
	buf  []float32
}

// Camera is one camera a policy reads.
type Camera struct {
	Key           string // observation.images.<cam>
	Height, Width int    // the model's image size (after crop and resize)
	// Crop is the region of interest of the source frame the policy was
	// trained on (metadata crop_params_dict), or nil.
	Crop *preprocess.Crop
}

// String is the camera as errors name it: key H×W, and the crop if any.
func (c Camera) String() string {
	s := fmt.Sprintf("%s %d×%d", c.Key, c.Height, c.Width)
	if c.Crop != nil {
		s += fmt.Sprintf(" crop [%d %d %d %d]", c.Crop.Top, c.Crop.Left, c.Crop.Height, c.Crop.Width)
	}
	return s
}

// LoadPolicy reads an ONNX policy file.
func LoadPolicy(path string, opts SessionOptions) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	p, err := NewPolicy(b, opts)
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	return p, nil
}

// NewPolicy loads a policy from ONNX bytes and checks its signature.
func NewPolicy(model []byte, opts SessionOptions) (*Policy, error) {
	meta, err := onnx.ReadMetadata(model)
	if err != nil {
		return nil, err
	}
	if meta["e2hil.model"] == "" {
		return nil, fmt.Errorf("not an e2hil policy (no e2hil.model metadata; export one with e2hil export-onnx)")
	}
	sess, err := NewSession(model, opts)
	if err != nil {
		return nil, err
	}
	p := &Policy{sess: sess, in: sess.Input(policyInput), out: sess.Output(policyOutput), Metadata: meta, opts: opts}
	if p.in == nil || p.out == nil {
		sess.Close()
		return nil, fmt.Errorf("policy model must have input %q and output %q, has %v → %v", policyInput, policyOutput, sess.Inputs(), sess.Outputs())
	}
	if g := sess.OutputInt64(policyGripper); g != nil {
		p.gripper, p.full = g, make([]float32, len(p.out)+1)
	}
	var crops map[string][]int
	if c := meta["crop_params_dict"]; c != "" {
		if err := json.Unmarshal([]byte(c), &crops); err != nil {
			sess.Close()
			return nil, fmt.Errorf("policy metadata crop_params_dict %q: %w", c, err)
		}
	}
	for _, ti := range sess.Inputs() {
		if !strings.HasPrefix(ti.Name, imagePrefix) {
			continue
		}
		if len(ti.Dims) != 4 || ti.Dims[1] != 3 || ti.Dims[2] < 1 || ti.Dims[3] < 1 {
			sess.Close()
			return nil, fmt.Errorf("policy input %q has shape %v, want [N, 3, H, W]", ti.Name, ti.Dims)
		}
		ci := cameraInput{key: ti.Name, h: int(ti.Dims[2]), w: int(ti.Dims[3]), buf: sess.Input(ti.Name)}
		if k, ok := crops[ti.Name]; ok {
			if len(k) != 4 {
				sess.Close()
				return nil, fmt.Errorf("policy metadata crop_params_dict[%q] = %v, want [top, left, height, width]", ti.Name, k)
			}
			ci.crop = &preprocess.Crop{Top: k[0], Left: k[1], Height: k[2], Width: k[3]}
		}
		p.images = append(p.images, ci)
	}
	p.sig = policySig{stateDim: p.StateDim(), actionDim: p.ActionDim(), stateNames: meta["observation.state.names"], cameras: p.Cameras()}
	return p, nil
}

// Cameras lists the camera inputs in the order ActImages takes them.
func (p *Policy) Cameras() []Camera {
	out := make([]Camera, len(p.images))
	for i, c := range p.images {
		out[i] = Camera{Key: c.key, Height: c.h, Width: c.w, Crop: c.crop}
	}
	return out
}

// StateDim and ActionDim are the policy's input and output sizes (the
// action includes the gripper command when the model has one).
func (p *Policy) StateDim() int { return len(p.in) }
func (p *Policy) ActionDim() int {
	if p.full != nil {
		return len(p.full)
	}
	return len(p.out)
}

// StateNames returns the observation.state names the policy was trained on.
func (p *Policy) StateNames() ([]string, error) {
	var names []string
	if err := json.Unmarshal([]byte(p.Metadata["observation.state.names"]), &names); err != nil {
		return nil, fmt.Errorf("policy metadata observation.state.names: %w", err)
	}
	return names, nil
}

// Act returns the action for one observation: the continuous values, then
// the gripper command (0 close, 1 stay, 2 open) if the model has one. The
// returned slice is reused: valid until the next call.
func (p *Policy) Act(state []float32) ([]float32, error) {
	if len(p.images) > 0 {
		return nil, fmt.Errorf("policy: the policy reads %d cameras: use ActImages", len(p.images))
	}
	return p.act(state, nil)
}

// ActImages is Act for a policy with cameras: images[i] is camera i's
// image (Cameras order) as CHW float32 in [0, 1], 3·H·W values (what
// models/preprocess writes).
func (p *Policy) ActImages(state []float32, images [][]float32) ([]float32, error) {
	return p.act(state, images)
}

func (p *Policy) act(state []float32, images [][]float32) ([]float32, error) {
	if np := p.pending.Swap(nil); np != nil {
		p.sess.Close()
		p.sess, p.in, p.out, p.gripper, p.full, p.images, p.Metadata = np.sess, np.in, np.out, np.gripper, np.full, np.images, np.Metadata
		p.Swaps++
	}
	if len(state) != len(p.in) {
		return nil, fmt.Errorf("policy: observation.state has %d values, the policy wants %d", len(state), len(p.in))
	}
	if len(images) != len(p.images) {
		return nil, fmt.Errorf("policy: %d camera images, the policy reads %d", len(images), len(p.images))
	}
	for i, c := range p.images {
		if len(images[i]) != len(c.buf) {
			return nil, fmt.Errorf("policy: camera %q: %d values, want 3×%d×%d", c.key, len(images[i]), c.h, c.w)
		}
		copy(c.buf, images[i])
	}
	copy(p.in, state)
	if err := p.sess.Run(); err != nil {
		return nil, err
	}
	if p.full == nil {
		return p.out, nil
	}
	copy(p.full, p.out)
	p.full[len(p.out)] = float32(p.gripper[0])
	return p.full, nil
}

// Swap loads a new policy (ONNX bytes, e.g. pushed by the learner) to be
// used from the next Act on, without stopping the loop. The new model must
// take the same observation.state and give the same action; otherwise it is
// refused and the running policy stays.
func (p *Policy) Swap(model []byte) error {
	np, err := NewPolicy(model, p.opts)
	if err != nil {
		return fmt.Errorf("swap policy: %w", err)
	}
	if n, r := np.sig, p.sig; !n.equal(r) {
		np.Close()
		return fmt.Errorf("swap policy: the new model maps %d state values (%s) and cameras %v to %d actions; the running one %d (%s) and %v to %d",
			n.stateDim, n.stateNames, n.cameras, n.actionDim, r.stateDim, r.stateNames, r.cameras, r.actionDim)
	}
	if old := p.pending.Swap(np); old != nil {
		old.Close() // superseded before it was used
	}
	return nil
}

// Close releases the session (and a swapped-in one not yet used).
func (p *Policy) Close() error {
	if np := p.pending.Swap(nil); np != nil {
		np.Close()
	}
	return p.sess.Close()
}

// RandomPolicy draws uniform actions in [-1, 1]: the baseline a trained
// policy is compared against.
type RandomPolicy struct {
	rng *rand.Rand
	out []float32
}

// NewRandomPolicy returns a random policy with dim outputs.
func NewRandomPolicy(dim int, seed uint64) *RandomPolicy {
	return &RandomPolicy{rng: rand.New(rand.NewPCG(seed, 0x4a4d)), out: make([]float32, dim)}
}

// Act ignores the state.
func (r *RandomPolicy) Act([]float32) ([]float32, error) {
	for i := range r.out {
		r.out[i] = float32(2*r.rng.Float64() - 1)
	}
	return r.out, nil
}
