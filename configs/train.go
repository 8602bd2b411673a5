package configs

// TrainConfig is the top-level config of `e2hil train` (LeRobot's
// TrainRLServerPipelineConfig, trimmed to what e2hil implements).
type TrainConfig struct {
	OutputDir      string `json:"output_dir"`
	JobName        string `json:"job_name"`
	Resume         bool   `json:"resume"`
	Seed           int64  `json:"seed"`
	BatchSize      int    `json:"batch_size"`
	LogFreq        int    `json:"log_freq"`
	SaveCheckpoint bool   `json:"save_checkpoint"`
	SaveFreq       int    `json:"save_freq"`
	// Dataset holds the demonstrations for the offline buffer (RLPD); null:
	// online only.
	Dataset *DatasetConfig `json:"dataset"`
	Env     EnvConfig      `json:"env"`
	Policy  SACConfig      `json:"policy"`
	Eval    EvalConfig     `json:"eval"`
}

// DatasetConfig is LeRobot's dataset config: a local LeRobot v3.0 dataset
// (root; repo_id is recorded only, nothing is downloaded).
type DatasetConfig struct {
	RepoID string `json:"repo_id"`
	Root   string `json:"root"`
}

// EvalConfig says how a trained policy is evaluated (e2hil's own key).
type EvalConfig struct {
	// NEpisodes is the number of evaluation episodes.
	NEpisodes int `json:"n_episodes"`
	// Seed of the first evaluation episode; episode i uses Seed+i. Kept apart
	// from training seeds so evaluation cubes are unseen positions.
	Seed int64 `json:"seed"`
}

// DefaultTrainConfig returns the defaults; the sim touch-cube config overrides
// some of them.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		OutputDir:      "outputs/train",
		JobName:        "default",
		Seed:           1000,
		BatchSize:      256,
		LogFreq:        100,
		SaveCheckpoint: true,
		SaveFreq:       2000,
		Env:            DefaultEnvConfig(),
		Policy:         DefaultSACConfig(),
		Eval:           EvalConfig{NEpisodes: 20, Seed: 1_000_000},
	}
}

// Validate reports every problem with its JSON path.
func (c *TrainConfig) Validate() error {
	var p Problems
	p.check(c.OutputDir != "", "output_dir", "must not be empty")
	p.check(c.BatchSize >= 2, "batch_size", "must be ≥ 2, got %d", c.BatchSize)
	p.check(c.LogFreq >= 1, "log_freq", "must be ≥ 1, got %d", c.LogFreq)
	if c.SaveCheckpoint {
		p.check(c.SaveFreq >= 1, "save_freq", "must be ≥ 1 when save_checkpoint is true, got %d", c.SaveFreq)
	}
	p.check(c.Eval.NEpisodes >= 1, "eval.n_episodes", "must be ≥ 1, got %d", c.Eval.NEpisodes)
	if c.Dataset != nil {
		p.check(c.Dataset.Root != "", "dataset.root", "must name a local LeRobot dataset directory (e2hil downloads nothing; repo_id %q alone is not enough)", c.Dataset.RepoID)
	}
	p.merge("env", c.Env.validate())
	p.merge("policy", c.Policy.validate())
	return p.Err()
}
