// Package replay holds transitions for off-policy learning: a fixed-capacity
// ring buffer that stores next states explicitly, so a transition cut by the
// time limit never bootstraps from the next episode's first observation (a
// known LeRobot defect with optimize_memory), and uniform sampling into a
// preallocated batch. Buffers made with NewWithObservations also hold camera
// observations (frozen-backbone features or images, observations.go), shared
// between consecutive transitions of an episode. It does not compute
// features (package features does).
package replay

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Transition is one environment step.
type Transition struct {
	State     []float32
	Action    []float32
	Reward    float32
	NextState []float32
	// Done is true only when the episode terminated (success, failure); a
	// time-limit truncation is not done, so the critic still bootstraps.
	Done bool
	// Human is true for a demonstration or a human intervention (E2HiL's
	// tag 1); false for the policy's own exploration (tag 0).
	Human bool
}

// Batch is a sampled minibatch, row-major.
type Batch struct {
	Size             int
	State, NextState []float32 // [Size, StateDim]
	Action           []float32 // [Size, ActionDim]
	Reward, Done     []float32 // [Size]
	// Tag is 1 for human (demonstration or intervention) samples, else 0.
	Tag                 []uint8 // [Size]
	StateDim, ActionDim int
	// Features and NextFeatures hold, per camera, the frozen backbone's
	// features of the observation and the next one, [Size, C·h·w] (nil
	// without cameras).
	Features, NextFeatures [][]float32
	// Images and NextImages hold, per camera, uint8 HWC images [Size, 3·H·W]
	// (buffers storing images rather than features).
	Images, NextImages [][]uint8
}

// WithImages allocates the batch's per-camera image rows (sizes[i] = 3·H·W
// of camera i) and returns the batch.
func (b *Batch) WithImages(sizes []int) *Batch {
	b.Images, b.NextImages = nil, nil
	for _, n := range sizes {
		b.Images = append(b.Images, make([]uint8, b.Size*n))
		b.NextImages = append(b.NextImages, make([]uint8, b.Size*n))
	}
	return b
}

// WithFeatures allocates the batch's per-camera feature rows (sizes[i] =
// C·h·w of camera i) and returns the batch.
func (b *Batch) WithFeatures(sizes []int) *Batch {
	b.Features, b.NextFeatures = nil, nil
	for _, n := range sizes {
		b.Features = append(b.Features, make([]float32, b.Size*n))
		b.NextFeatures = append(b.NextFeatures, make([]float32, b.Size*n))
	}
	return b
}

// NewBatch allocates a batch.
func NewBatch(size, stateDim, actionDim int) *Batch {
	return &Batch{
		Size: size, StateDim: stateDim, ActionDim: actionDim,
		State: make([]float32, size*stateDim), NextState: make([]float32, size*stateDim),
		Action: make([]float32, size*actionDim), Reward: make([]float32, size), Done: make([]float32, size),
		Tag: make([]uint8, size),
	}
}

// Buffer is a ring buffer of transitions. Not safe for concurrent use.
type Buffer struct {
	capacity, stateDim, actionDim int
	state, next, action           []float32
	reward, done                  []float32
	tag                           []uint8
	size, pos                     int
	// Camera observations (NewWithObservations): slots shared between a
	// transition's next observation and its successor's observation.
	obs               *slots
	obsSlot, nextSlot []int32 // per row
}

// New returns an empty buffer.
func New(capacity, stateDim, actionDim int) (*Buffer, error) {
	if capacity < 1 || stateDim < 1 || actionDim < 1 {
		return nil, fmt.Errorf("replay: capacity %d, state dim %d, action dim %d must be ≥ 1", capacity, stateDim, actionDim)
	}
	return &Buffer{
		capacity: capacity, stateDim: stateDim, actionDim: actionDim,
		state: make([]float32, capacity*stateDim), next: make([]float32, capacity*stateDim),
		action: make([]float32, capacity*actionDim),
		reward: make([]float32, capacity), done: make([]float32, capacity),
		tag: make([]uint8, capacity),
	}, nil
}

// Len is the number of stored transitions.
func (b *Buffer) Len() int { return b.size }

// Add stores t, overwriting the oldest transition when full. It rejects
// wrong shapes and non-finite values.
func (b *Buffer) Add(t Transition) error {
	if b.obs != nil {
		return fmt.Errorf("replay: this buffer stores camera observations: use AddObservations")
	}
	if err := b.check(t); err != nil {
		return err
	}
	if b.size == b.capacity {
		b.evictOldest()
	}
	b.put(t)
	return nil
}

func (b *Buffer) check(t Transition) error {
	if len(t.State) != b.stateDim || len(t.NextState) != b.stateDim || len(t.Action) != b.actionDim {
		return fmt.Errorf("replay: transition shapes state %d, next_state %d, action %d; want %d, %d, %d",
			len(t.State), len(t.NextState), len(t.Action), b.stateDim, b.stateDim, b.actionDim)
	}
	if err := finite("state", t.State); err != nil {
		return err
	}
	if err := finite("next_state", t.NextState); err != nil {
		return err
	}
	if err := finite("action", t.Action); err != nil {
		return err
	}
	return finite("reward", []float32{t.Reward})
}

// put writes t at the ring position; the row there must be free.
func (b *Buffer) put(t Transition) {
	i := b.pos
	copy(b.state[i*b.stateDim:], t.State)
	copy(b.next[i*b.stateDim:], t.NextState)
	copy(b.action[i*b.actionDim:], t.Action)
	b.reward[i] = t.Reward
	b.done[i] = 0
	if t.Done {
		b.done[i] = 1
	}
	b.tag[i] = 0
	if t.Human {
		b.tag[i] = 1
	}
	b.pos = (b.pos + 1) % b.capacity
	b.size++
}

// oldest is the ring row of the oldest stored transition.
func (b *Buffer) oldest() int { return (b.pos - b.size + b.capacity) % b.capacity }

// evictOldest drops the oldest transition (and its hold on its observation
// slots).
func (b *Buffer) evictOldest() {
	if b.obs != nil {
		i := b.oldest()
		b.obs.release(b.obsSlot[i])
		b.obs.release(b.nextSlot[i])
	}
	b.size--
}

// row maps the k-th stored transition (k < size, uniform) to its ring row.
// A full ring is every row; otherwise the rows from the oldest on (row k
// itself until a camera buffer first evicts, as before eviction existed).
func (b *Buffer) row(k int) int {
	if b.size == b.capacity {
		return k
	}
	return (b.oldest() + k) % b.capacity
}

func finite(name string, v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("replay: %s[%d] = %g is not finite", name, i, x)
		}
	}
	return nil
}

// Sample fills out with out.Size transitions drawn uniformly with
// replacement. The buffer must not be empty.
func (b *Buffer) Sample(rng *rand.Rand, out *Batch) error {
	return b.sampleRows(rng, out, 0, out.Size)
}

// sampleRows fills rows [from, to) of out.
func (b *Buffer) sampleRows(rng *rand.Rand, out *Batch, from, to int) error {
	if b.size == 0 {
		return fmt.Errorf("replay: sample from an empty buffer")
	}
	if out.StateDim != b.stateDim || out.ActionDim != b.actionDim {
		return fmt.Errorf("replay: batch dims %d/%d, buffer %d/%d", out.StateDim, out.ActionDim, b.stateDim, b.actionDim)
	}
	if err := b.obs.checkBatch(out); err != nil {
		return err
	}
	s, a := b.stateDim, b.actionDim
	for r := from; r < to; r++ {
		i := b.row(rng.IntN(b.size))
		copy(out.State[r*s:(r+1)*s], b.state[i*s:(i+1)*s])
		copy(out.NextState[r*s:(r+1)*s], b.next[i*s:(i+1)*s])
		copy(out.Action[r*a:(r+1)*a], b.action[i*a:(i+1)*a])
		out.Reward[r] = b.reward[i]
		out.Done[r] = b.done[i]
		out.Tag[r] = b.tag[i]
		if b.obs != nil {
			b.obs.read(rng, out, r, b.obsSlot[i], b.nextSlot[i])
		}
	}
	return nil
}

// Mix is RLPD's sampler: half of every batch from the online buffer, half
// from the offline one (demonstrations and interventions), or all online
// while the offline buffer is empty or absent.
type Mix struct {
	Online, Offline *Buffer
}

// Sample fills out: rows [0, Size/2) online, the rest offline.
func (m Mix) Sample(rng *rand.Rand, out *Batch) error {
	if m.Offline == nil || m.Offline.Len() == 0 {
		return m.Online.Sample(rng, out)
	}
	half := out.Size / 2
	if err := m.Online.sampleRows(rng, out, 0, half); err != nil {
		return err
	}
	return m.Offline.sampleRows(rng, out, half, out.Size)
}
