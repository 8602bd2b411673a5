package env

import (
	"context"
	"fmt"

	"github.com/e2hil/e2hil/configs"
)

// New builds the environment cfg.Type names: "sim" (the simulated SO-101,
// NewSim) or "pendulum" (Gymnasium's Pendulum-v1, NewPendulum).
func New(ctx context.Context, cfg configs.EnvConfig) (Env, error) {
	switch cfg.Type {
	case configs.EnvSim:
		m, err := NewSim(ctx, cfg)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return m, nil
	case configs.EnvPendulum:
		p, err := NewPendulum(cfg)
		if err != nil {
			return nil, err
		}
		return p, nil
	default:
		return nil, fmt.Errorf("env: env.type %q is not available (built in: %q, %q; real robots arrive with the hardware drivers)",
			cfg.Type, configs.EnvSim, configs.EnvPendulum)
	}
}
