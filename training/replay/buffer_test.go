package replay

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func tr(v float32, done bool) Transition {
	return Transition{State: []float32{v, v}, Action: []float32{-v}, Reward: v, NextState: []float32{v + 1, v + 1}, Done: done}
}

func TestRingAndSample(t *testing.T) {
	b, err := New(3, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // 0, 1 are overwritten
		if err := b.Add(tr(float32(i), i == 4)); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() != 3 {
		t.Fatalf("len %d", b.Len())
	}
	batch := NewBatch(200, 2, 1)
	if err := b.Sample(rand.New(rand.NewPCG(1, 1)), batch); err != nil {
		t.Fatal(err)
	}
	seen := map[float32]bool{}
	for r := 0; r < batch.Size; r++ {
		v := batch.State[2*r]
		seen[v] = true
		// Every row is one consistent transition.
		if batch.State[2*r+1] != v || batch.NextState[2*r] != v+1 || batch.Action[r] != -v || batch.Reward[r] != v {
			t.Fatalf("row %d mixes transitions: %v %v %v %v", r, batch.State[2*r:2*r+2], batch.NextState[2*r:2*r+2], batch.Action[r], batch.Reward[r])
		}
		if want := float32(0); v == 4 {
			want = 1
			if batch.Done[r] != want {
				t.Fatalf("done of the terminal transition = %g", batch.Done[r])
			}
		} else if batch.Done[r] != want {
			t.Fatalf("done of %g = %g", v, batch.Done[r])
		}
	}
	if len(seen) != 3 || seen[0] || seen[1] {
		t.Errorf("sampled values %v, want exactly {2,3,4}", seen)
	}
}

func TestRejects(t *testing.T) {
	b, _ := New(2, 2, 1)
	nan := float32(math.NaN())
	cases := []struct {
		t    Transition
		want string
	}{
		{Transition{State: []float32{1}, NextState: []float32{1, 1}, Action: []float32{0}}, "shapes state 1"},
		{Transition{State: []float32{1, nan}, NextState: []float32{1, 1}, Action: []float32{0}}, "state[1] = NaN"},
		{Transition{State: []float32{1, 1}, NextState: []float32{1, 1}, Action: []float32{0}, Reward: float32(math.Inf(1))}, "reward[0] = +Inf"},
	}
	for _, tc := range cases {
		if err := b.Add(tc.t); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add = %v, want %q", err, tc.want)
		}
	}
	if err := b.Sample(rand.New(rand.NewPCG(1, 1)), NewBatch(1, 2, 1)); err == nil {
		t.Error("sampling an empty buffer must fail")
	}
	if _, err := New(0, 1, 1); err == nil {
		t.Error("zero capacity accepted")
	}
}

func TestSnapshotRestore(t *testing.T) {
	for _, n := range []int{0, 3, 5, 9} { // empty, partial, exactly full, wrapped
		a, _ := New(5, 2, 1)
		for i := 0; i < n; i++ {
			a.Add(Transition{State: []float32{float32(i), 1}, NextState: []float32{2, float32(i)}, Action: []float32{float32(-i)}, Reward: float32(i), Done: i%2 == 0, Human: i%3 == 0})
		}
		b, _ := New(5, 2, 1)
		if err := b.Restore(a.Snapshot()); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if n == 0 {
			continue
		}
		ba, bb := NewBatch(16, 2, 1), NewBatch(16, 2, 1)
		if err := a.Sample(rand.New(rand.NewPCG(1, 2)), ba); err != nil {
			t.Fatal(err)
		}
		b.Sample(rand.New(rand.NewPCG(1, 2)), bb)
		if !slices.Equal(ba.State, bb.State) || !slices.Equal(ba.Action, bb.Action) || !slices.Equal(ba.Done, bb.Done) || !slices.Equal(ba.Tag, bb.Tag) {
			t.Fatalf("n=%d: restored buffer samples differently", n)
		}
		// Both continue identically.
		tr := Transition{State: []float32{7, 7}, NextState: []float32{7, 7}, Action: []float32{7}}
		a.Add(tr)
		b.Add(tr)
		if !slices.Equal(a.Snapshot().Columns["state"], b.Snapshot().Columns["state"]) {
			t.Fatalf("n=%d: diverged after an Add", n)
		}
	}
	b, _ := New(5, 2, 1)
	if err := b.Restore(Snapshot{Size: 9}); err == nil {
		t.Error("oversized snapshot accepted")
	}
}

func TestMixHalfAndHalf(t *testing.T) {
	on, _ := New(10, 1, 1)
	off, _ := New(10, 1, 1)
	for i := 0; i < 10; i++ {
		on.Add(Transition{State: []float32{0}, NextState: []float32{0}, Action: []float32{0}})
		off.Add(Transition{State: []float32{1}, NextState: []float32{1}, Action: []float32{1}, Human: true})
	}
	b := NewBatch(8, 1, 1)
	if err := (Mix{Online: on, Offline: off}).Sample(rand.New(rand.NewPCG(1, 1)), b); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.State, []float32{0, 0, 0, 0, 1, 1, 1, 1}) || !slices.Equal(b.Tag, []uint8{0, 0, 0, 0, 1, 1, 1, 1}) {
		t.Errorf("state %v tag %v", b.State, b.Tag)
	}
	empty, _ := New(10, 1, 1)
	if err := (Mix{Online: on, Offline: empty}).Sample(rand.New(rand.NewPCG(1, 1)), b); err != nil || b.State[7] != 0 {
		t.Errorf("empty offline: %v %v", err, b.State)
	}
}
