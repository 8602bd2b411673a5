package replay

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestHalfConversion(t *testing.T) {
	cases := []struct {
		f    float32
		bits uint16
		back float32
	}{
		{0, 0x0000, 0},
		{1, 0x3c00, 1},
		{-2, 0xc000, -2},
		{0.1, 0x2e66, 0.0999755859375},
		{65504, 0x7bff, 65504},
		{1e6, 0x7c00, float32(math.Inf(1))},
		{1 + 1.0/2048, 0x3c00, 1},                              // a tie rounds to even (down)
		{1 + 3.0/2048, 0x3c02, 1 + 2.0/1024},                   // a tie rounds to even (up)
		{5.960464477539063e-08, 0x0001, 5.960464477539063e-08}, // smallest subnormal
	}
	src := make([]float32, len(cases))
	for i, c := range cases {
		src[i] = c.f
	}
	h := make([]uint16, len(cases))
	floatToHalf(h, src)
	back := make([]float32, len(cases))
	halfToFloat(back, h)
	for i, c := range cases {
		if h[i] != c.bits || back[i] != c.back {
			t.Errorf("%g → %#04x → %g, want %#04x → %g", c.f, h[i], back[i], c.bits, c.back)
		}
	}
}

// feats returns one camera's features for observation id v: v, v+1, …
// (small integers, exact in float16), copies·size values, copy k offset by
// 300·k.
func feats(v float32, size, copies int) []float32 {
	out := make([]float32, size*copies)
	for k := 0; k < copies; k++ {
		for i := 0; i < size; i++ {
			out[k*size+i] = v + float32(i) + 300*float32(k)
		}
	}
	return out
}

// addEpisode adds an episode of n transitions over observations first …
// first+n, the observation shared after the first step.
func addEpisode(t *testing.T, b *Buffer, first, n, copies int) {
	t.Helper()
	for j := 0; j < n; j++ {
		v := float32(first + j)
		tr := Transition{State: []float32{v}, NextState: []float32{v + 1}, Action: []float32{-v}, Reward: v}
		var obs [][]float32
		if j == 0 {
			obs = [][]float32{feats(v, 3, copies), feats(500+v, 2, copies)}
		}
		if err := b.AddFeatures(tr, obs, [][]float32{feats(v+1, 3, copies), feats(500+v+1, 2, copies)}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkRows: every sampled row carries its own transition's features (some
// copy of them) for the observation and the next one.
func checkRows(t *testing.T, b *Buffer, batch *Batch, copies int) map[float32]bool {
	t.Helper()
	seen := map[float32]bool{}
	for r := 0; r < batch.Size; r++ {
		v := batch.State[r]
		seen[v] = true
		for c, off := range []float32{0, 500} {
			size := 3 - c
			for _, side := range []struct {
				f  []float32
				id float32
			}{{batch.Features[c][r*size : (r+1)*size], off + v}, {batch.NextFeatures[c][r*size : (r+1)*size], off + v + 1}} {
				k := math.Round(float64(side.f[0]-side.id) / 300)
				if k < 0 || int(k) >= copies || !slices.Equal(side.f, feats(side.id+300*float32(k), size, 1)) {
					t.Fatalf("row %d (transition %g) camera %d: features %v, want a copy of %v", r, v, c, side.f, feats(side.id, size, copies))
				}
			}
		}
	}
	return seen
}

func TestFeaturesSharedAndSampled(t *testing.T) {
	for _, copies := range []int{1, 3} {
		b, err := NewWithObservations(20, 1, 1, ObservationConfig{Format: Features, Sizes: []int{3, 2}, Copies: copies})
		if err != nil {
			t.Fatal(err)
		}
		addEpisode(t, b, 0, 5, copies)   // observations 0…5: 6 slots
		addEpisode(t, b, 100, 4, copies) // 100…104: 5 slots
		if b.Len() != 9 || b.obs.pos != 11 {
			t.Fatalf("copies %d: %d transitions in %d slots, want 9 in 11", copies, b.Len(), b.obs.pos)
		}
		batch := NewBatch(300, 1, 1).WithFeatures([]int{3, 2})
		if err := b.Sample(rand.New(rand.NewPCG(1, 2)), batch); err != nil {
			t.Fatal(err)
		}
		if seen := checkRows(t, b, batch, copies); len(seen) != 9 {
			t.Errorf("copies %d: sampled %d distinct transitions, want 9", copies, len(seen))
		}
		if copies > 1 { // obs and next draw their copies independently
			var differ bool
			for r := 0; r < batch.Size; r++ {
				differ = differ || (batch.Features[0][3*r]-batch.State[r]) != (batch.NextFeatures[0][3*r]-batch.State[r]-1)
			}
			if !differ {
				t.Error("observation and next observation always use the same copy")
			}
		}
	}
}

// When the observation slots run out, the oldest transitions go first and
// the rest stay consistent; the transition ring wraps as before.
func TestFeaturesEviction(t *testing.T) {
	b, err := NewWithObservations(10, 1, 1, ObservationConfig{Format: Features, Sizes: []int{3, 2}, Copies: 1, Slots: 7})
	if err != nil {
		t.Fatal(err)
	}
	addEpisode(t, b, 0, 4, 1)  // 5 slots, 4 transitions
	addEpisode(t, b, 50, 2, 1) // 3 more slots: the last one evicts transition 0 (slot 1 stays: transition 1's observation)
	if b.Len() != 5 {
		t.Fatalf("%d transitions, want 5", b.Len())
	}
	batch := NewBatch(200, 1, 1).WithFeatures([]int{3, 2})
	if err := b.Sample(rand.New(rand.NewPCG(3, 4)), batch); err != nil {
		t.Fatal(err)
	}
	seen := checkRows(t, b, batch, 1)
	if !maps(seen, 1, 2, 3, 50, 51) {
		t.Errorf("sampled transitions %v, want {1, 2, 3, 50, 51}", seen)
	}
	// Sharing with an evicted transition's slot that was overwritten fails.
	b2, _ := NewWithObservations(1, 1, 1, ObservationConfig{Format: Features, Sizes: []int{1}, Copies: 1, Slots: 2})
	tr := Transition{State: []float32{0}, NextState: []float32{0}, Action: []float32{0}}
	if err := b2.AddFeatures(tr, nil, [][]float32{{1}}); err == nil || !strings.Contains(err.Error(), "there is none") {
		t.Errorf("sharing with nothing: %v", err)
	}
	for i := 0; i < 5; i++ { // capacity 1, 2 slots: each step evicts the last and shares its next observation
		var obs [][]float32
		if i == 0 {
			obs = [][]float32{{0}}
		}
		if err := b2.AddFeatures(Transition{State: []float32{float32(i)}, NextState: []float32{float32(i + 1)}, Action: []float32{0}}, obs, [][]float32{{float32(i + 1)}}); err != nil {
			t.Fatal(err)
		}
		one := NewBatch(1, 1, 1).WithFeatures([]int{1})
		b2.Sample(rand.New(rand.NewPCG(1, 1)), one)
		if one.Features[0][0] != float32(i) || one.NextFeatures[0][0] != float32(i+1) {
			t.Fatalf("step %d: features %v → %v", i, one.Features[0], one.NextFeatures[0])
		}
	}
}

func maps(seen map[float32]bool, want ...float32) bool {
	if len(seen) != len(want) {
		return false
	}
	for _, w := range want {
		if !seen[w] {
			return false
		}
	}
	return true
}

func TestImagesStored(t *testing.T) {
	b, err := NewWithObservations(4, 1, 1, ObservationConfig{Format: Images, Sizes: []int{6}})
	if err != nil {
		t.Fatal(err)
	}
	img := func(v uint8) []uint8 { return []uint8{v, v + 1, v + 2, v + 3, v + 4, v + 5} }
	for i := 0; i < 6; i++ { // wraps
		var o *Observation
		if i%3 == 0 {
			o = &Observation{Images: [][]uint8{img(uint8(10 * i))}}
		}
		if err := b.AddObservations(Transition{State: []float32{float32(i)}, NextState: []float32{0}, Action: []float32{0}}, o,
			Observation{Images: [][]uint8{img(uint8(10*i + 10))}}); err != nil {
			t.Fatal(err)
		}
	}
	batch := NewBatch(50, 1, 1).WithImages([]int{6})
	if err := b.Sample(rand.New(rand.NewPCG(5, 5)), batch); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < batch.Size; r++ {
		v := uint8(10 * batch.State[r])
		if v < 20 || !slices.Equal(batch.Images[0][6*r:6*r+6], img(v)) || !slices.Equal(batch.NextImages[0][6*r:6*r+6], img(v+10)) {
			t.Fatalf("row %d: transition %g images %v → %v", r, batch.State[r], batch.Images[0][6*r:6*r+6], batch.NextImages[0][6*r:6*r+6])
		}
	}
	if err := b.Add(Transition{State: []float32{0}, NextState: []float32{0}, Action: []float32{0}}); err == nil {
		t.Error("Add without images accepted by a camera buffer")
	}
}

// A camera buffer restores exactly: same samples, same continuation, also
// after slot evictions.
func TestFeaturesSnapshotRestore(t *testing.T) {
	oc := ObservationConfig{Format: Features, Sizes: []int{3, 2}, Copies: 2, Slots: 9}
	for _, eps := range [][]int{{}, {3}, {4, 2}, {4, 3, 5}} {
		a, _ := NewWithObservations(6, 1, 1, oc)
		for i, n := range eps {
			addEpisode(t, a, 100*i, n, 2)
		}
		b, _ := NewWithObservations(6, 1, 1, oc)
		if err := b.Restore(a.Snapshot()); err != nil {
			t.Fatalf("%v: %v", eps, err)
		}
		if a.Len() == 0 {
			continue
		}
		ba, bb := NewBatch(32, 1, 1).WithFeatures([]int{3, 2}), NewBatch(32, 1, 1).WithFeatures([]int{3, 2})
		a.Sample(rand.New(rand.NewPCG(9, 9)), ba)
		b.Sample(rand.New(rand.NewPCG(9, 9)), bb)
		if !slices.Equal(ba.State, bb.State) || !slices.Equal(ba.Features[1], bb.Features[1]) || !slices.Equal(ba.NextFeatures[0], bb.NextFeatures[0]) {
			t.Fatalf("%v: restored buffer samples differently", eps)
		}
		addEpisode(t, a, 300, 3, 2)
		addEpisode(t, b, 300, 3, 2)
		a.Sample(rand.New(rand.NewPCG(8, 9)), ba)
		b.Sample(rand.New(rand.NewPCG(8, 9)), bb)
		if !slices.Equal(ba.State, bb.State) || !slices.Equal(ba.Features[0], bb.Features[0]) || !slices.Equal(ba.NextFeatures[1], bb.NextFeatures[1]) {
			t.Fatalf("%v: diverged after more episodes", eps)
		}
		checkRows(t, a, ba, 2)
	}
}
