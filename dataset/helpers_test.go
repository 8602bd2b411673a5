package dataset

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// requireTools turns a missing external tool or fixture into a failure when
// E2HIL_REQUIRE_TOOLS=1 (make test installs them), and a skip otherwise.
func requireTools(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("E2HIL_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// fixture returns the path of a real LeRobot dataset: the repository's
// copy in testdata/lerobot-datasets (from shared/fixtures, unchanged), or
// $E2HIL_FIXTURES.
func fixture(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("E2HIL_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "lerobot-datasets")
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(filepath.Join(path, InfoPath)); err != nil {
		t.Fatalf("fixture %s not found (the repository keeps them in testdata/lerobot-datasets; E2HIL_FIXTURES overrides): %v", name, err)
	}
	return path
}

// checkedMem is an allocator that fails the test if any Arrow memory is
// still held when the test ends.
func checkedMem(t *testing.T) memory.Allocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// hilFeatures is the HIL-SERL feature set of the tests (spec §2.2, §4.4).
func hilFeatures() []Feature {
	joints := []string{"shoulder_pan.pos", "shoulder_lift.pos", "elbow_flex.pos", "wrist_flex.pos", "wrist_roll.pos", "gripper.pos"}
	var state []string
	for _, j := range joints {
		state = append(state, j, j+".vel")
	}
	return []Feature{
		{Name: "observation.state", Dtype: "float32", Shape: []int{12}, Names: state},
		{Name: "action", Dtype: "float32", Shape: []int{4}, Names: []string{"delta_x_ee", "delta_y_ee", "delta_z_ee", "gripper_delta"}},
		{Name: "next.reward", Dtype: "float32", Shape: []int{1}},
		{Name: "next.done", Dtype: "bool", Shape: []int{1}},
	}
}

// recorded is what a test recorded, frame by frame, to compare with what it reads.
type recorded struct {
	state, action, reward []float32
	done                  []bool
	task                  []string
	lengths               []int
}

var testTasks = []string{"Pick the orange cube", "Place the cube in the box"}

// recordEpisodes writes episodes of the given lengths with hilFeatures: the
// first episodes use task 0, the second task 1, the third both (so episode
// task lists and task_index are exercised).
func recordEpisodes(t *testing.T, w *Writer, lengths []int, seed uint64) recorded {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var rec recorded
	for ep, n := range lengths {
		for i := 0; i < n; i++ {
			state := make([]float32, 12)
			for d := range state {
				state[d] = float32(rng.NormFloat64() * 50)
			}
			action := []float32{float32(rng.Float64()*2 - 1), float32(rng.Float64()*2 - 1), float32(rng.Float64()*2 - 1), float32(rng.IntN(3))}
			reward := float32(0)
			done := i == n-1
			if done {
				reward = 1
			}
			task := testTasks[0]
			if ep%3 == 1 || (ep%3 == 2 && i >= n/2) {
				task = testTasks[1]
			}
			if err := w.AddFrame(Frame{"observation.state": state, "action": action, "next.reward": reward, "next.done": done}, task); err != nil {
				t.Fatal(err)
			}
			rec.state = append(rec.state, state...)
			rec.action = append(rec.action, action...)
			rec.reward = append(rec.reward, reward)
			rec.done = append(rec.done, done)
			rec.task = append(rec.task, task)
		}
		if err := w.SaveEpisode(); err != nil {
			t.Fatal(err)
		}
		rec.lengths = append(rec.lengths, n)
	}
	return rec
}

func testConfig(root string) WriterConfig {
	return WriterConfig{Root: root, RepoID: "e2hil/test", FPS: 30, RobotType: "so101_follower", Features: hilFeatures()}
}

// writeTestDataset writes a 3-episode dataset and returns its root.
func writeTestDataset(t *testing.T, lengths []int) (string, recorded) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "ds")
	w, err := create(testConfig(root), checkedMem(t))
	if err != nil {
		t.Fatal(err)
	}
	rec := recordEpisodes(t, w, lengths, 7)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return root, rec
}
