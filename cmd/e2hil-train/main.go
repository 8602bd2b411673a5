// Command e2hil-train is `e2hil train` as its own binary (same code, same
// flags); `e2hil-train serve` is `e2hil learn`, the learner that actors
// connect to over gRPC (policy.actor_learner_config).
package main

import "github.com/e2hil/e2hil/cmd/internal/commands"

func main() {
	app := commands.NewSingleApp("e2hil-train", commands.Train())
	serve := commands.Learn()
	serve.Name = "serve"
	serve.UsageText = "e2hil-train serve [--config_path FILE] [--set key=value ...] [--output_dir DIR] [--resume] [--token_file FILE]"
	app.Commands = append(app.Commands, serve)
	app.HideHelpCommand = true
	commands.Main(app)
}
