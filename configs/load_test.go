package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadShippedDefault(t *testing.T) {
	l, err := LoadTrain("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Source != "embedded:sim_touch_cube.json" {
		t.Errorf("source = %q", l.Source)
	}
	if len(l.Warnings) != 0 {
		t.Errorf("warnings on the shipped config: %v", l.Warnings)
	}
	c := l.Config
	if c.Env.Type != EnvSim || c.Env.Task != "touch_cube" || c.Env.MaxEpisodeSteps() != 50 {
		t.Errorf("env = %+v", c.Env)
	}
	// The file on disk and the embedded copy are the same file.
	disk, err := LoadTrain("sim_touch_cube.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if disk.Config.Policy.OnlineSteps != c.Policy.OnlineSteps {
		t.Error("disk and embedded configs differ")
	}
}

func TestLoadProblems(t *testing.T) {
	cases := []struct {
		name      string
		json      string
		overrides []string
		wantErr   []string // substrings of the error
		wantWarn  []string
	}{
		{name: "typo", json: `{"policy": {"utd_raito": 2}}`, wantErr: []string{`policy.utd_raito: unknown key (did you mean "utd_ratio"?)`}},
		{name: "nested unknown", json: `{"env": {"processor": {"reset": {"bogus": 1}}}}`, wantErr: []string{"env.processor.reset.bogus: unknown key"}},
		{name: "lerobot key warns", json: `{"policy": {"image_encoder_hidden_dim": 32}, "wandb": {"enable": true}}`,
			wantWarn: []string{"policy.image_encoder_hidden_dim: LeRobot key not implemented", "wandb: LeRobot key"}},
		{name: "all problems at once", json: `{"batch_size": 0, "policy": {"utd_ratio": 0, "discount": 2}}`,
			wantErr: []string{"batch_size: must be ≥ 2, got 0", "policy.utd_ratio: must be ≥ 1, got 0", "policy.discount: must be in (0, 1], got 2"}},
		{name: "bounds", json: `{"env": {"processor": {"inverse_kinematics": {"end_effector_bounds": {"min": [0.3, 0, 0], "max": [0.2, 1, 1]}}}}}`,
			wantErr: []string{"end_effector_bounds: min.x (0.3) must be < max.x (0.2)"}},
		{name: "override", json: `{}`, overrides: []string{"policy.utd_ratio=0"}, wantErr: []string{"policy.utd_ratio: must be ≥ 1, got 0"}},
		{name: "override string", json: `{}`, overrides: []string{"env.task=stack_cubes"}, wantErr: []string{`env.task: unknown sim task "stack_cubes"`}},
		{name: "bad override", json: `{}`, overrides: []string{"novalue"}, wantErr: []string{`override "novalue"`}},
		{name: "wrong type", json: `{"seed": "x"}`, wantErr: []string{"seed"}},
		{name: "not an object", json: `[1]`, wantErr: []string{"parse JSON"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := decodeTrain([]byte(tc.json), tc.overrides)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				got := strings.Join(l.Warnings, "\n")
				for _, w := range tc.wantWarn {
					if !strings.Contains(got, w) {
						t.Errorf("warnings %q lack %q", got, w)
					}
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestOverrideApplies(t *testing.T) {
	l, err := decodeTrain([]byte(`{}`), []string{"policy.online_steps=123", "env.processor.reset.control_time_s=2.5", "output_dir=/tmp/x"})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Policy.OnlineSteps != 123 || c.Env.Processor.Reset.ControlTimeS != 2.5 || c.OutputDir != "/tmp/x" {
		t.Errorf("overrides not applied: %d %g %q", c.Policy.OnlineSteps, c.Env.Processor.Reset.ControlTimeS, c.OutputDir)
	}
}

func TestLoadMissingFileNamesShipped(t *testing.T) {
	_, err := LoadTrain(filepath.Join(t.TempDir(), "nope.json"), nil)
	if err == nil || !strings.Contains(err.Error(), "sim_touch_cube.json") {
		t.Errorf("error %v should list the shipped configs", err)
	}
}

func FuzzDecodeTrain(f *testing.F) {
	b, err := os.ReadFile("sim_touch_cube.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"policy": {"utd_ratio": 2}}`))
	f.Add([]byte(`{"env": {"processor": null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := decodeTrain(data, nil)
		if err == nil {
			if verr := l.Config.Validate(); verr != nil {
				t.Fatalf("decode accepted an invalid config: %v", verr)
			}
		}
	})
}
