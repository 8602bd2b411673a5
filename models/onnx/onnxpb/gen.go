//go:build ignore

// gen regenerates onnx.pb.go from onnx.proto with protoc and the
// protoc-gen-go of the protobuf version in go.mod, so the generated code
// always matches the runtime it is linked with. Run through `go generate`.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "onnxpb generate:", err)
		os.Exit(1)
	}
}

func run() error {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		return fmt.Errorf("protoc not found in PATH: run `apt-get install protobuf-compiler` (or `make deps`)")
	}
	tmp, err := os.MkdirTemp("", "onnxpb-gen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	plugin := filepath.Join(tmp, "protoc-gen-go")
	build := exec.Command("go", "build", "-o", plugin, "google.golang.org/protobuf/cmd/protoc-gen-go")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build protoc-gen-go: %w", err)
	}

	gen := exec.Command(protoc,
		"--plugin=protoc-gen-go="+plugin,
		"--go_out=.", "--go_opt=paths=source_relative",
		"onnx.proto")
	gen.Stdout, gen.Stderr = os.Stdout, os.Stderr
	if err := gen.Run(); err != nil {
		return fmt.Errorf("protoc: %w", err)
	}
	return nil
}
