// Command e2hil-act is `e2hil act` as its own binary (same code, same
// flags); `e2hil-act connect` is `e2hil actor`, which runs the robot for a
// learner over gRPC (policy.actor_learner_config).
package main

import "github.com/e2hil/e2hil/cmd/internal/commands"

func main() {
	app := commands.NewSingleApp("e2hil-act", commands.Act())
	connect := commands.Actor()
	connect.Name = "connect"
	connect.UsageText = "e2hil-act connect [--config_path FILE] [--set key=value ...] [--actor_id NAME] [--episodes N] [--fast] [--token_file FILE]"
	app.Commands = append(app.Commands, connect)
	commands.Main(app)
}
