// Package commands defines e2hil's commands once, for the e2hil binary
// (subcommands) and the hyphenated binaries (e2hil-train, e2hil-act,
// e2hil-export-onnx), which run the same code. It is wiring only: flags,
// config loading, calling the packages, printing, exit codes.
package commands
