// Command e2hil-export-onnx is `e2hil export-onnx` as its own binary (same code, same flags).
package main

import "github.com/e2hil/e2hil/cmd/internal/commands"

func main() {
	commands.Main(commands.NewSingleApp("e2hil-export-onnx", commands.ExportONNX()))
}
