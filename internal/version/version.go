// Package version is e2hil's version, stamped into ONNX metadata, checkpoints
// and --version. Release builds set it with
// -ldflags "-X github.com/e2hil/e2hil/internal/version.Version=v1.2.3".
package version

// Version of e2hil.
var Version = "0.1.0-dev"
