// Command e2hil is human-in-the-loop RL for SO-101 arms: train, act,
// export-onnx, dataset and demo in one binary.
package main

import "github.com/e2hil/e2hil/cmd/internal/commands"

func main() {
	app := commands.NewApp("e2hil", "human-in-the-loop reinforcement learning for SO-101 robot arms (HIL-SERL + E2HiL in Go)",
		commands.Demo(), commands.Train(), commands.Act(), commands.ExportONNX(), commands.Dataset(),
		commands.Calibrate(), commands.Plot(), commands.Learn(), commands.Actor(), commands.Reward())
	commands.Main(app)
}
