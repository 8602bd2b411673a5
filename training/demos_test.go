package training

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/dataset"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/inference"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/checkpoint"
	"github.com/e2hil/e2hil/training/sac"
)

// recordDemos records n random-policy episodes of the sim to a dataset.
func recordDemos(t *testing.T, cfg configs.TrainConfig, n int) string {
	t.Helper()
	ctx := context.Background()
	e, err := env.NewSim(ctx, cfg.Env)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "demos")
	sp := e.Spec()
	w, err := dataset.Create(dataset.WriterConfig{Root: root, RepoID: "test/demos", FPS: sp.FPS, RobotType: sp.RobotType, Features: inference.DatasetFeatures(sp)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inference.Run(ctx, e, inference.NewRandomPolicy(3, 5), inference.RunOptions{Episodes: n, Seed: 50, Fast: true, GripperCommand: 1, Recorder: w}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestDemonstrations(t *testing.T) {
	cfg := shortConfig(t)
	root := recordDemos(t, cfg, 3)
	ds, err := dataset.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, gripper := range []bool{false, true} {
		tr, err := Demonstrations(ds, 12, 3, gripper)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr) != ds.NumFrames() {
			t.Fatalf("%d transitions from %d frames", len(tr), ds.NumFrames())
		}
		state, _, _ := ds.Float32Column("observation.state")
		action, ad, _ := ds.Float32Column("action")
		for i, x := range tr {
			if !x.Human || !slices.Equal(x.State, state[i*12:(i+1)*12]) || !slices.Equal(x.Action[:3], action[i*ad:i*ad+3]) {
				t.Fatalf("transition %d: %+v", i, x)
			}
			if gripper != (len(x.Action) == 4) || (gripper && x.Action[3] != action[i*ad+ad-1]) {
				t.Fatalf("transition %d gripper: %v", i, x.Action)
			}
		}
		// Within an episode next_state is the next frame; at its end, the frame itself.
		from := 0
		for _, e := range ds.Episodes {
			last := from + int(e.Length) - 1
			for i := from; i < last; i++ {
				if !slices.Equal(tr[i].NextState, tr[i+1].State) {
					t.Fatalf("frame %d: next_state is not frame %d's state", i, i+1)
				}
			}
			if !slices.Equal(tr[last].NextState, tr[last].State) {
				t.Fatalf("episode end %d: next_state is not its own state", last)
			}
			from = last + 1
		}
	}
	if _, err := Demonstrations(ds, 7, 3, false); err == nil || !strings.Contains(err.Error(), "observation.state has 12 values") {
		t.Errorf("wrong state dim: %v", err)
	}
}

// TestRunWithDemonstrations: dataset.root fills the offline buffer, batches
// are half human samples, and the dataset's stats normalise the state.
func TestRunWithDemonstrations(t *testing.T) {
	cfg := shortConfig(t)
	cfg.Dataset = &configs.DatasetConfig{RepoID: "test/demos", Root: recordDemos(t, cfg, 4)}
	cfg.Policy.SampleSelection = configs.SelectionE2HiL
	cfg.Policy.NormalizationMapping = map[string]string{"STATE": models.NormMeanStd}
	e, _ := env.NewSim(context.Background(), cfg.Env)
	var human []int
	res, err := run(context.Background(), e, cfg, Options{}, hooks{onUpdate: func(m sac.Metrics) { human = append(human, m.ByTag[1].Count) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(human) == 0 || human[0] != cfg.BatchSize/2 {
		t.Errorf("human samples per batch %v, want %d", human[:min(3, len(human))], cfg.BatchSize/2)
	}
	c, err := checkpoint.Load(res.CheckpointDir)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := dataset.Open(cfg.Dataset.Root)
	st := ds.Stats["observation.state"]
	if c.Spec.StateNormalization != models.NormMeanStd || len(c.Spec.StateMean) != 12 || float64(c.Spec.StateMean[0]) != float64(float32(st.Mean[0])) {
		t.Errorf("spec normalisation %s mean %v, dataset mean %v", c.Spec.StateNormalization, c.Spec.StateMean, st.Mean)
	}
}

func TestNormalizationErrors(t *testing.T) {
	es := env.Spec{StateLow: []float32{0, 0}, StateHigh: []float32{1, 1}}
	for _, c := range []struct {
		name string
		p    configs.SACConfig
		want string
	}{
		{"mean_std without stats", configs.SACConfig{NormalizationMapping: map[string]string{"STATE": "MEAN_STD"}}, "needs mean and std"},
		{"short min/max", configs.SACConfig{DatasetStats: map[string]map[string][]float64{"observation.state": {"min": {0}, "max": {1}}}}, "have 1/1 values"},
	} {
		spec := models.SACSpec{StateDim: 2}
		if err := applyNormalization(&spec, c.p, es, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	spec := models.SACSpec{StateDim: 2}
	if err := applyNormalization(&spec, configs.SACConfig{}, es, nil); err != nil || !slices.Equal(spec.StateHigh, es.StateHigh) {
		t.Errorf("default: %v %v", err, spec.StateHigh)
	}
}

// intervening wraps an env: every third step a "human" takes over with a
// fixed action.
type intervening struct {
	env.Env
	n int
}

func (e *intervening) Step(ctx context.Context, a []float32) (env.StepResult, error) {
	e.n++
	if e.n%3 != 0 {
		return e.Env.Step(ctx, a)
	}
	human := []float32{0.5, -0.5, 0, 1}
	r, err := e.Env.Step(ctx, human)
	r.Intervention, r.ExecutedAction = true, human
	return r, err
}

// TestInterventionsReachBothBuffers: an intervention is stored with the
// executed action, tagged human, in the online and the offline buffer (a
// LeRobot defect dropped them from the offline one).
func TestInterventionsReachBothBuffers(t *testing.T) {
	cfg := shortConfig(t)
	sim, _ := env.NewSim(context.Background(), cfg.Env)
	res, err := run(context.Background(), &intervening{Env: sim}, cfg, Options{}, hooks{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Load(res.CheckpointDir)
	if err != nil {
		t.Fatal(err)
	}
	on, off := c.State.Buffers["online"], c.State.Buffers["offline"]
	if off.Size != cfg.Policy.OnlineSteps/3 {
		t.Fatalf("offline buffer holds %d transitions, want the %d interventions", off.Size, cfg.Policy.OnlineSteps/3)
	}
	for i := 0; i < off.Size; i++ {
		if a := off.Columns["action"][i*3 : i*3+3]; !slices.Equal(a, []float32{0.5, -0.5, 0}) || off.Columns["tag"][i] != 1 {
			t.Fatalf("offline transition %d: action %v tag %v", i, a, off.Columns["tag"][i])
		}
	}
	var humanOnline int
	for _, tag := range on.Columns["tag"] {
		humanOnline += int(tag)
	}
	if humanOnline != off.Size {
		t.Errorf("online buffer has %d human transitions, want %d", humanOnline, off.Size)
	}
}
