package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestActorLearnerConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*ActorLearnerConfig)
		want   string // substring of the error; "" for valid
	}{
		{"defaults", func(*ActorLearnerConfig) {}, ""},
		{"port 0 (any free port)", func(c *ActorLearnerConfig) { c.LearnerPort = 0 }, ""},
		{"empty host", func(c *ActorLearnerConfig) { c.LearnerHost = " " }, "learner_host: must not be empty"},
		{"port too big", func(c *ActorLearnerConfig) { c.LearnerPort = 70000 }, "learner_port: must be in [0, 65535], got 70000"},
		{"push period 0", func(c *ActorLearnerConfig) { c.PolicyParametersPushFrequency = 0 }, "policy_parameters_push_frequency: must be > 0"},
		{"cert without key", func(c *ActorLearnerConfig) { c.TLSCert = "cert.pem" }, "tls_cert: tls_cert and tls_key must be set together"},
		{"no buffer", func(c *ActorLearnerConfig) { c.ActorBufferCapacity = 0 }, "actor_buffer_capacity: must be ≥ 1"},
		{"no batch", func(c *ActorLearnerConfig) { c.TransitionsBatchSize = 0 }, "transitions_batch_size: must be ≥ 1"},
		{"no backoff", func(c *ActorLearnerConfig) { c.ReconnectBackoffMaxS = 0 }, "reconnect_backoff_max_s: must be > 0"},
	} {
		c := DefaultActorLearnerConfig()
		tc.mutate(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if got := DefaultActorLearnerConfig().Addr(); got != "127.0.0.1:50051" {
		t.Errorf("default addr %s", got)
	}
}

// TestLoadActorLearnerConfig: LeRobot's actor_learner_config block loads
// (queue_get_timeout with a warning), defaults fill what it omits, and a
// bad value is reported with its JSON path.
func TestLoadActorLearnerConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "train.json")
	if err := os.WriteFile(path, []byte(`{"policy": {"type": "sac", "actor_learner_config": {
		"learner_host": "192.168.1.20", "learner_port": 50052,
		"policy_parameters_push_frequency": 2, "queue_get_timeout": 2}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := LoadTrain(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	al := l.Config.Policy.ActorLearnerConfig
	if al.Addr() != "192.168.1.20:50052" || al.PolicyParametersPushFrequency != 2 || al.ActorBufferCapacity != 20_000 {
		t.Errorf("loaded %+v", al)
	}
	if w := strings.Join(l.Warnings, "\n"); !strings.Contains(w, "policy.actor_learner_config.queue_get_timeout") {
		t.Errorf("warnings %q, want one for queue_get_timeout", w)
	}
	_, err = LoadTrain(path, []string{"policy.actor_learner_config.policy_parameters_push_frequency=-1"})
	if err == nil || !strings.Contains(err.Error(), "policy.actor_learner_config.policy_parameters_push_frequency: must be > 0") {
		t.Errorf("err = %v", err)
	}
}
