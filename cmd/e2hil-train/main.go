// Command e2hil-train is `e2hil train` as its own binary (same code, same flags).
package main

import "github.com/e2hil/e2hil/cmd/internal/commands"

func main() {
	commands.Main(commands.NewSingleApp("e2hil-train", commands.Train()))
}
