package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/replay"
	"github.com/e2hil/e2hil/training/sac"
)

func testCheckpoint(seed uint64) *Checkpoint {
	spec := models.SACSpec{
		StateDim: 4, ActionDim: 2, StateNames: []string{"a", "b", "c", "d"}, ActionNames: []string{"x", "y"},
		StateLow: []float32{-1, -1, -1, -1}, StateHigh: []float32{1, 1, 1, 1},
		LatentDim: 8, ActorHidden: []int{16}, CriticHidden: []int{16}, NumCritics: 2,
		StdMin: 1e-5, StdMax: 5, InitFinal: 0.05,
	}
	buf, _ := replay.New(10, 2, 1)
	for i := 0; i < 4; i++ {
		buf.Add(replay.Transition{State: []float32{float32(i), 1}, NextState: []float32{1, 2}, Action: []float32{0.5}, Human: i == 2})
	}
	empty, _ := replay.New(10, 2, 1)
	return &Checkpoint{Spec: spec, Params: spec.NewParams(seed), LogAlpha: -2.5,
		Config: configs.DefaultTrainConfig(), State: State{Updates: 7, EnvSteps: 11, Episodes: 2,
			LoopRNG: []byte{1, 2, 3},
			Learner: &sac.State{LogAlpha: -2.5, Steps: 7, RNG: []byte{4, 5}, AdamSteps: map[string]int{"critic": 7},
				Moments: map[string][]float32{"critic.m.0": {1, 2}, "critic.v.0": {3, 4}}},
			Buffers: map[string]replay.Snapshot{"online": buf.Snapshot(), "offline": empty.Snapshot()},
		}}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "checkpoint")
	for _, seed := range []uint64{1, 2} { // the second save replaces the first
		want := testCheckpoint(seed)
		want.State.Updates = int(seed)
		if err := Save(dir, want); err != nil {
			t.Fatal(err)
		}
		got, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got.LogAlpha != want.LogAlpha || !reflect.DeepEqual(got.State, want.State) || got.Config.Seed != want.Config.Seed {
			t.Fatalf("seed %d: got log_alpha %v state %+v", seed, got.LogAlpha, got.State)
		}
		if !slices.Equal(got.Params.Names(), want.Params.Names()) {
			t.Fatalf("names %v, want %v", got.Params.Names(), want.Params.Names())
		}
		for _, n := range want.Params.Names() {
			if !slices.Equal(got.Params.Data(n), want.Params.Data(n)) {
				t.Fatalf("seed %d: parameter %s differs after reload", seed, n)
			}
		}
	}
	// No temporary directories are left beside the checkpoint.
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("parent holds %d entries, want only the checkpoint", len(entries))
	}
}

func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := Load(empty); !errors.Is(err, ErrNotCheckpoint) {
		t.Errorf("empty dir: %v, want ErrNotCheckpoint", err)
	}
	dir := filepath.Join(t.TempDir(), "ck")
	if err := Save(dir, testCheckpoint(1)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SpecFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil {
		t.Error("corrupt spec.json loaded without error")
	}
}
