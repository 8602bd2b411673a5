//go:build ignore

// gen regenerates transport.pb.go and transport_grpc.pb.go from
// transport.proto with protoc, the protoc-gen-go of the protobuf version in
// go.mod and a pinned protoc-gen-go-grpc. Run through `go generate`.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// grpcPlugin is the protoc-gen-go-grpc the committed stubs were made with.
const grpcPlugin = "google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "transportpb generate:", err)
		os.Exit(1)
	}
}

func run() error {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		return fmt.Errorf("protoc not found in PATH: run `apt-get install protobuf-compiler` (or `make deps`)")
	}
	tmp, err := os.MkdirTemp("", "transportpb-gen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	goPlugin := filepath.Join(tmp, "protoc-gen-go")
	build := exec.Command("go", "build", "-o", goPlugin, "google.golang.org/protobuf/cmd/protoc-gen-go")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build protoc-gen-go: %w", err)
	}
	install := exec.Command("go", "install", grpcPlugin)
	install.Env = append(os.Environ(), "GOBIN="+tmp)
	install.Stdout, install.Stderr = os.Stdout, os.Stderr
	if err := install.Run(); err != nil {
		return fmt.Errorf("install %s: %w", grpcPlugin, err)
	}

	gen := exec.Command(protoc,
		"--plugin=protoc-gen-go="+goPlugin,
		"--plugin=protoc-gen-go-grpc="+filepath.Join(tmp, "protoc-gen-go-grpc"),
		"--go_out=.", "--go_opt=paths=source_relative",
		"--go-grpc_out=.", "--go-grpc_opt=paths=source_relative",
		"transport.proto")
	gen.Stdout, gen.Stderr = os.Stdout, os.Stderr
	if err := gen.Run(); err != nil {
		return fmt.Errorf("protoc: %w", err)
	}
	return nil
}
