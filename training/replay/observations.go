package replay

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Camera observations are stored per observation slot, not per transition:
// a transition's next observation is the following transition's observation
// within an episode, so consecutive transitions share that slot and an
// episode of L steps holds L+1 observations, not 2L.
//
// Two formats:
//
//   - Features: the frozen backbone's features of each camera (C·h·w values),
//     Copies versions per slot (DrQ-shifted images run through the backbone
//     when the transition arrived; Sample draws one per observation), stored
//     as float16. Two cameras of 512×4×4 are 2·8192·2 B = 32 KiB per copy.
//   - Images: each camera's image as uint8 HWC (3·H·W bytes); the learner
//     shifts and encodes them per batch.
//
// Bytes per transition ≈ (1 + 1/L)·SlotBytes (L the mean episode length);
// see ObservationConfig.TransitionBytes.

// Format is how a buffer stores camera observations.
type Format int

const (
	// Features: float16 backbone features, Copies per observation.
	Features Format = iota
	// Images: uint8 HWC images.
	Images
)

// ObservationConfig describes a buffer's camera observations.
type ObservationConfig struct {
	Format Format
	// Sizes is, per camera, the values of one observation: C·h·w features,
	// or 3·H·W image bytes.
	Sizes []int
	// Copies (Features only) is how many versions each observation keeps
	// (DrQ-shifted copies); ≥ 1.
	Copies int
	// Slots is the number of observation slots; 0 is capacity + capacity/8
	// + 2, which holds `capacity` transitions when episodes average ≥ 8
	// steps. When slots run out the oldest transitions are evicted, so the
	// buffer then holds fewer than its capacity.
	Slots int
}

// SlotBytes is the storage of one observation (every camera and copy).
func (c ObservationConfig) SlotBytes() int {
	per := 1
	if c.Format == Features {
		per = 2 * max(c.Copies, 1)
	}
	n := 0
	for _, s := range c.Sizes {
		n += s * per
	}
	return n
}

// TransitionBytes is the observation storage per transition for episodes of
// meanEpisode steps (besides the state, action and scalars).
func (c ObservationConfig) TransitionBytes(meanEpisode float64) float64 {
	return float64(c.SlotBytes()) * (1 + 1/max(meanEpisode, 1))
}

func (c ObservationConfig) validate(capacity int) error {
	var errs []error
	if len(c.Sizes) == 0 {
		errs = append(errs, errors.New("no cameras"))
	}
	for i, s := range c.Sizes {
		if s < 1 {
			errs = append(errs, fmt.Errorf("camera %d has %d values", i, s))
		}
	}
	if c.Format != Features && c.Format != Images {
		errs = append(errs, fmt.Errorf("unknown format %d", c.Format))
	}
	if c.Format == Features && c.Copies < 1 {
		errs = append(errs, fmt.Errorf("copies %d must be ≥ 1", c.Copies))
	}
	if c.Slots != 0 && c.Slots < 2 {
		errs = append(errs, fmt.Errorf("slots %d must be 0 (default) or ≥ 2", c.Slots))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replay: observations: %w", err)
	}
	return nil
}

// NewWithObservations returns an empty buffer whose transitions also carry
// camera observations (added with AddObservations).
func NewWithObservations(capacity, stateDim, actionDim int, oc ObservationConfig) (*Buffer, error) {
	b, err := New(capacity, stateDim, actionDim)
	if err != nil {
		return nil, err
	}
	if err := oc.validate(capacity); err != nil {
		return nil, err
	}
	n := oc.Slots
	if n == 0 {
		n = capacity + capacity/8 + 2
	}
	s := &slots{cfg: oc, n: n, ref: make([]int32, n), last: -1}
	s.cfg.Sizes = append([]int(nil), oc.Sizes...)
	if oc.Format == Images {
		s.cfg.Copies = 1
	}
	for _, size := range oc.Sizes {
		if oc.Format == Features {
			s.half = append(s.half, make([]uint16, n*s.cfg.Copies*size))
		} else {
			s.bytes = append(s.bytes, make([]uint8, n*size))
		}
	}
	b.obs = s
	b.obsSlot, b.nextSlot = make([]int32, capacity), make([]int32, capacity)
	return b, nil
}

// NewWithFeatures is NewWithObservations for one float32-equivalent copy of
// backbone features per observation (sizes: C·h·w per camera).
func NewWithFeatures(capacity, stateDim, actionDim int, sizes []int) (*Buffer, error) {
	return NewWithObservations(capacity, stateDim, actionDim, ObservationConfig{Format: Features, Sizes: sizes, Copies: 1})
}

// Observations is the buffer's camera configuration (nil: state only).
func (b *Buffer) Observations() *ObservationConfig {
	if b.obs == nil {
		return nil
	}
	c := b.obs.cfg
	c.Slots = b.obs.n
	return &c
}

// Observation is one observation's camera data: per camera either Copies·
// size features (Features) or size image bytes (Images).
type Observation struct {
	Features [][]float32
	Images   [][]uint8
}

// AddObservations stores t with its camera observations. obs nil means
// "the previous transition's next observation" (the same episode goes on),
// which is stored once for both.
func (b *Buffer) AddObservations(t Transition, obs *Observation, next Observation) error {
	if b.obs == nil {
		return fmt.Errorf("replay: this buffer has no cameras: use Add")
	}
	if err := b.check(t); err != nil {
		return err
	}
	if obs != nil {
		if err := b.obs.checkObs("observation", *obs); err != nil {
			return err
		}
	} else if b.obs.last < 0 {
		return fmt.Errorf("replay: observation shared with a previous transition, but there is none")
	}
	if err := b.obs.checkObs("next observation", next); err != nil {
		return err
	}
	if b.size == b.capacity {
		b.evictOldest()
	}
	var os int32
	if obs == nil {
		os = b.obs.last
		b.obs.ref[os]++
	} else {
		var err error
		if os, err = b.alloc(*obs); err != nil {
			return err
		}
	}
	ns, err := b.alloc(next)
	if err != nil {
		b.obs.release(os)
		return err
	}
	b.obs.last = ns
	b.obsSlot[b.pos], b.nextSlot[b.pos] = os, ns
	b.put(t)
	return nil
}

// AddFeatures is AddObservations with backbone features (obs nil: shared
// with the previous transition's next observation).
func (b *Buffer) AddFeatures(t Transition, obs, next [][]float32) error {
	var o *Observation
	if obs != nil {
		o = &Observation{Features: obs}
	}
	return b.AddObservations(t, o, Observation{Features: next})
}

// alloc takes the next slot for o, evicting the oldest transitions while it
// is in use, and holds it once.
func (b *Buffer) alloc(o Observation) (int32, error) {
	s := b.obs
	i := int32(s.pos)
	for s.ref[i] > 0 {
		if b.size == 0 {
			return 0, fmt.Errorf("replay: observation slot %d is held with no transition stored (%d slots)", i, s.n)
		}
		b.evictOldest()
	}
	if s.last == i {
		s.last = -1
	}
	s.write(i, o)
	s.ref[i]++
	s.pos = (s.pos + 1) % s.n
	return i, nil
}

// slots is the observation store.
type slots struct {
	cfg   ObservationConfig
	n     int
	half  [][]uint16 // Features: per camera [n, Copies, size]
	bytes [][]uint8  // Images: per camera [n, size]
	ref   []int32    // transitions holding each slot
	pos   int        // next slot to write
	last  int32      // slot of the newest next observation, -1 if gone
}

func (s *slots) release(i int32) { s.ref[i]-- }

func (s *slots) checkObs(what string, o Observation) error {
	if s.cfg.Format == Features {
		if len(o.Features) != len(s.cfg.Sizes) {
			return fmt.Errorf("replay: %s has features of %d cameras, want %d", what, len(o.Features), len(s.cfg.Sizes))
		}
		for c, f := range o.Features {
			if want := s.cfg.Copies * s.cfg.Sizes[c]; len(f) != want {
				return fmt.Errorf("replay: %s camera %d has %d feature values, want %d (%d copies × %d)", what, c, len(f), want, s.cfg.Copies, s.cfg.Sizes[c])
			}
			if err := finite(what+" features", f); err != nil {
				return err
			}
		}
		return nil
	}
	if len(o.Images) != len(s.cfg.Sizes) {
		return fmt.Errorf("replay: %s has images of %d cameras, want %d", what, len(o.Images), len(s.cfg.Sizes))
	}
	for c, im := range o.Images {
		if len(im) != s.cfg.Sizes[c] {
			return fmt.Errorf("replay: %s camera %d image has %d bytes, want %d", what, c, len(im), s.cfg.Sizes[c])
		}
	}
	return nil
}

func (s *slots) write(i int32, o Observation) {
	for c, size := range s.cfg.Sizes {
		if s.cfg.Format == Features {
			per := s.cfg.Copies * size
			floatToHalf(s.half[c][int(i)*per:(int(i)+1)*per], o.Features[c])
		} else {
			copy(s.bytes[c][int(i)*size:(int(i)+1)*size], o.Images[c])
		}
	}
}

// checkBatch reports a batch whose camera rows do not fit the buffer (nil
// receiver: a state-only buffer, which needs none).
func (s *slots) checkBatch(out *Batch) error {
	if s == nil {
		return nil
	}
	if s.cfg.Format == Features {
		if len(out.Features) != len(s.cfg.Sizes) || len(out.NextFeatures) != len(s.cfg.Sizes) {
			return fmt.Errorf("replay: batch has features of %d cameras, buffer %d", len(out.Features), len(s.cfg.Sizes))
		}
		for c, size := range s.cfg.Sizes {
			if len(out.Features[c]) != out.Size*size || len(out.NextFeatures[c]) != out.Size*size {
				return fmt.Errorf("replay: batch camera %d has %d feature values, want %d×%d", c, len(out.Features[c]), out.Size, size)
			}
		}
		return nil
	}
	if len(out.Images) != len(s.cfg.Sizes) || len(out.NextImages) != len(s.cfg.Sizes) {
		return fmt.Errorf("replay: batch has images of %d cameras, buffer %d", len(out.Images), len(s.cfg.Sizes))
	}
	for c, size := range s.cfg.Sizes {
		if len(out.Images[c]) != out.Size*size || len(out.NextImages[c]) != out.Size*size {
			return fmt.Errorf("replay: batch camera %d has %d image bytes, want %d×%d", c, len(out.Images[c]), out.Size, size)
		}
	}
	return nil
}

// read fills batch row r from slots o (observation) and n (next). With
// several copies, each observation draws one.
func (s *slots) read(rng *rand.Rand, out *Batch, r int, o, n int32) {
	if s.cfg.Format == Images {
		for c, size := range s.cfg.Sizes {
			copy(out.Images[c][r*size:(r+1)*size], s.bytes[c][int(o)*size:])
			copy(out.NextImages[c][r*size:(r+1)*size], s.bytes[c][int(n)*size:])
		}
		return
	}
	ko, kn := 0, 0
	if s.cfg.Copies > 1 {
		ko, kn = rng.IntN(s.cfg.Copies), rng.IntN(s.cfg.Copies)
	}
	for c, size := range s.cfg.Sizes {
		per := s.cfg.Copies * size
		halfToFloat(out.Features[c][r*size:(r+1)*size], s.half[c][int(o)*per+ko*size:])
		halfToFloat(out.NextFeatures[c][r*size:(r+1)*size], s.half[c][int(n)*per+kn*size:])
	}
}
