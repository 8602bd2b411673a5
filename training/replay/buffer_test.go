package replay

import (
	"math"
	"math/rand/v2"
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
