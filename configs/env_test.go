package configs

import (
	"strings"
	"testing"
)

// Every shipped config loads, from disk and embedded, without warnings.
func TestShippedConfigsLoad(t *testing.T) {
	names := Shipped()
	for _, want := range []string{DefaultConfigName, "pendulum.json"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("Shipped() = %v lacks %s", names, want)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			disk, err := LoadTrain(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(disk.Warnings) != 0 {
				t.Errorf("warnings: %v", disk.Warnings)
			}
			data, err := shipped.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			embedded, err := decodeTrain(data, nil)
			if err != nil {
				t.Fatalf("embedded copy: %v", err)
			}
			if embedded.Config.JobName != disk.Config.JobName || embedded.Config.Policy.OnlineSteps != disk.Config.Policy.OnlineSteps {
				t.Error("disk and embedded copies differ")
			}
		})
	}
}

func TestPendulumConfig(t *testing.T) {
	l, err := LoadTrain("pendulum.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Env.Type != EnvPendulum || c.Env.Task != PendulumTask || c.Env.FPS != 20 || c.Env.MaxEpisodeSteps() != 200 {
		t.Errorf("env = %+v, %d steps", c.Env, c.Env.MaxEpisodeSteps())
	}
	p := c.Policy
	if p.OnlineSteps != 20000 || p.OnlineStepBeforeLearning != 1000 || p.Discount != 0.99 || p.TemperatureInit != 1 ||
		p.UTDRatio != 1 || p.LatentDim != 64 || p.PolicyKwargs.StdMin != 1e-5 || p.PolicyKwargs.StdMax != 5 ||
		c.BatchSize != 256 || c.Eval.NEpisodes != 10 || p.Discrete() != 0 {
		t.Errorf("policy = %+v, batch %d, eval %+v", p, c.BatchSize, c.Eval)
	}
	for _, dims := range [][]int{p.CriticNetworkKwargs.HiddenDims, p.ActorNetworkKwargs.HiddenDims} {
		if len(dims) != 2 || dims[0] != 256 || dims[1] != 256 {
			t.Errorf("hidden dims %v, want [256 256]", dims)
		}
	}
}

func TestEnvValidation(t *testing.T) {
	pendulum := `"type": "pendulum", "task": "pendulum", "fps": 20`
	cases := []struct {
		name    string
		env     string // the "env" object's members
		wantErr []string
	}{
		{name: "pendulum", env: pendulum},
		// Robot and processor fields are the SO-101's; Pendulum-v1 ignores them.
		{name: "pendulum without processor checks", env: pendulum + `, "robot": {"type": ""},
			"processor": {"reset": {"fixed_reset_joint_positions": [], "control_time_s": 0},
			"inverse_kinematics": {"end_effector_bounds": {"min": [], "max": []}}, "max_gripper_pos": 0}`},
		{name: "pendulum task", env: `"type": "pendulum", "task": "touch_cube", "fps": 20`,
			wantErr: []string{`env.task: must be "pendulum" with env.type "pendulum", got "touch_cube"`}},
		{name: "pendulum fps", env: `"type": "pendulum", "task": "pendulum"`,
			wantErr: []string{`env.fps: must be 20 with env.type "pendulum" (Pendulum-v1's dt is 0.05 s), got 10`}},
		{name: "sim keeps its checks", env: `"type": "sim", "processor": {"reset": {"fixed_reset_joint_positions": []}}`,
			wantErr: []string{"env.processor.reset.fixed_reset_joint_positions: must have 6 values"}},
		{name: "unknown type", env: `"type": "gym_manipulator"`,
			wantErr: []string{`env.type: must be "sim" (the built-in simulated SO-101) or "pendulum"`, `got "gym_manipulator"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeTrain([]byte(`{"env": {`+tc.env+`}}`), nil)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
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

func TestMaxEpisodeSteps(t *testing.T) {
	sim := DefaultEnvConfig()
	pendulum := EnvConfig{Type: EnvPendulum, Task: PendulumTask, FPS: PendulumFPS}
	cases := []struct {
		name string
		cfg  EnvConfig
		want int
	}{
		{"sim: fps · control_time_s", sim, 50},
		{"pendulum: Gymnasium's TimeLimit", pendulum, 200},
	}
	for _, tc := range cases {
		if got := tc.cfg.MaxEpisodeSteps(); got != tc.want {
			t.Errorf("%s: %d steps, want %d", tc.name, got, tc.want)
		}
	}
}

func TestSimCameraConfigs(t *testing.T) {
	for _, c := range []struct{ file, task string }{
		{"sim_pick_cube_cameras.json", TaskPickCube},
		{"sim_touch_cube_cameras.json", TaskTouchCube},
	} {
		l, err := LoadTrain(c.file, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := l.Config.Env
		if h, w := e.ImageHW(); e.Task != c.task || strings.Join(e.Cameras, ",") != "front,wrist" || h != 128 || w != 128 ||
			e.Processor.Reset.TerminateOnSuccess || e.Sim.LiftHeight != 0.05 || e.Sim.Expert.FailureProb != 0.3 {
			t.Errorf("%s: env %+v", c.file, e)
		}
	}
	// The state-only default has no cameras and the simulator's defaults.
	d := DefaultEnvConfig()
	if d.Cameras != nil || d.Sim.CubeSize != 0.025 || d.Sim.GraspRadius != 0.02 || d.Sim.Supersample != 1 {
		t.Errorf("default env %+v", d)
	}
}

func TestEnvCameraProblems(t *testing.T) {
	cases := []struct {
		name      string
		overrides []string
		want      string // "" = valid
	}{
		{"cameras", []string{`env.cameras=["front","wrist"]`}, ""},
		{"pick_cube", []string{"env.task=pick_cube"}, ""},
		{"image size", []string{`env.cameras=["wrist"]`, "env.image_size=[96,160]"}, ""},
		{"unknown camera", []string{`env.cameras=["ceiling"]`}, `env.cameras[0]: unknown sim camera "ceiling"`},
		{"camera twice", []string{`env.cameras=["front","front"]`}, `env.cameras[1]: camera "front" is listed twice`},
		{"image size arity", []string{`env.cameras=["front"]`, "env.image_size=[128]"}, "env.image_size: must be [height, width]"},
		{"image size range", []string{`env.cameras=["front"]`, "env.image_size=[4,128]"}, "env.image_size: height and width must be in [8, 4096]"},
		{"cube size", []string{"env.sim.cube_size=0.2"}, "env.sim.cube_size: must be in (0, 0.05]"},
		{"grasp radius", []string{"env.sim.grasp_radius=0"}, "env.sim.grasp_radius"},
		{"lift height", []string{"env.sim.lift_height=0.5"}, "env.sim.lift_height"},
		{"supersample", []string{"env.sim.supersample=0"}, "env.sim.supersample: must be in [1, 4]"},
		{"expert noise", []string{"env.sim.expert.noise=-1"}, "env.sim.expert.noise"},
		{"expert failure", []string{"env.sim.expert.failure_prob=2"}, "env.sim.expert.failure_prob: must be in [0, 1]"},
		{"sim key typo", []string{"env.sim.lift_hieght=0.05"}, `env.sim.lift_hieght: unknown key (did you mean "lift_height"?)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadTrain("", tc.overrides)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// Pendulum has no cameras.
	if _, err := LoadTrain("pendulum.json", []string{`env.cameras=["front"]`}); err == nil || !strings.Contains(err.Error(), "env.cameras: must be empty") {
		t.Errorf("pendulum with cameras: %v", err)
	}
}
