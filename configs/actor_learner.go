package configs

import (
	"net"
	"strconv"
	"strings"
)

// ActorLearnerConfig mirrors LeRobot's actor_learner_config (policy
// section): where the learner serves and how often it pushes the policy,
// plus e2hil's transport security and actor buffering.
type ActorLearnerConfig struct {
	// LearnerHost is the address the learner binds and actors dial
	// (loopback by default; another address needs a token).
	LearnerHost string `json:"learner_host"`
	LearnerPort int    `json:"learner_port"`
	// PolicyParametersPushFrequency is the period, in seconds, between
	// two policies pushed to the actors (LeRobot's name, a period).
	PolicyParametersPushFrequency float64 `json:"policy_parameters_push_frequency"`

	// TokenFile holds the shared token; empty: $E2HIL_TRANSPORT_TOKEN.
	// A token is mandatory when learner_host is not loopback.
	TokenFile string `json:"token_file,omitempty"`
	// TLSCert and TLSKey (learner) and TLSCA (actor) are PEM paths that
	// enable TLS.
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
	TLSCA   string `json:"tls_ca,omitempty"`
	// ActorBufferCapacity bounds the transitions an actor keeps while the
	// learner is away; the oldest are dropped past it.
	ActorBufferCapacity int `json:"actor_buffer_capacity"`
	// TransitionsBatchSize is the most transitions per message.
	TransitionsBatchSize int `json:"transitions_batch_size"`
	// ReconnectBackoffMaxS caps the actor's exponential reconnection wait.
	ReconnectBackoffMaxS float64 `json:"reconnect_backoff_max_s"`
}

// DefaultActorLearnerConfig returns LeRobot's defaults (127.0.0.1:50051,
// a push every 4 s) and e2hil's.
func DefaultActorLearnerConfig() ActorLearnerConfig {
	return ActorLearnerConfig{
		LearnerHost: "127.0.0.1", LearnerPort: 50051, PolicyParametersPushFrequency: 4,
		ActorBufferCapacity: 20_000, TransitionsBatchSize: 256, ReconnectBackoffMaxS: 5,
	}
}

// Addr is learner_host:learner_port.
func (c ActorLearnerConfig) Addr() string {
	return net.JoinHostPort(c.LearnerHost, strconv.Itoa(c.LearnerPort))
}

// Validate reports every problem with its JSON path.
func (c ActorLearnerConfig) Validate() error { return c.validate().Err() }

func (c ActorLearnerConfig) validate() Problems {
	var p Problems
	p.check(strings.TrimSpace(c.LearnerHost) != "", "learner_host", "must not be empty")
	p.check(c.LearnerPort >= 0 && c.LearnerPort <= 65535, "learner_port", "must be in [0, 65535], got %d", c.LearnerPort)
	p.check(c.PolicyParametersPushFrequency > 0, "policy_parameters_push_frequency", "must be > 0 seconds, got %g", c.PolicyParametersPushFrequency)
	p.check((c.TLSCert == "") == (c.TLSKey == ""), "tls_cert", "tls_cert and tls_key must be set together (got %q, %q)", c.TLSCert, c.TLSKey)
	p.check(c.ActorBufferCapacity >= 1, "actor_buffer_capacity", "must be ≥ 1, got %d", c.ActorBufferCapacity)
	p.check(c.TransitionsBatchSize >= 1, "transitions_batch_size", "must be ≥ 1, got %d", c.TransitionsBatchSize)
	p.check(c.ReconnectBackoffMaxS > 0, "reconnect_backoff_max_s", "must be > 0 seconds, got %g", c.ReconnectBackoffMaxS)
	return p
}
