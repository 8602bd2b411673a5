// Package inference runs ONNX models with onnxruntime: it finds and loads the
// onnxruntime shared library once per process, and gives each model a Session
// whose input and output buffers are allocated once, so a control loop can
// run a policy every step without allocating.
//
// It owns the onnxruntime side and nothing else. It must never import
// Gorgonia (the actor runs policies without the training stack); models are
// built and inspected by package models/onnx.
package inference

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryEnv names the environment variable that, when set, is the path of
// the onnxruntime shared library, and the only place looked at.
const LibraryEnv = "E2HIL_ORT_LIB"

// libraryRel is where `make deps` puts the library, relative to the
// repository root.
var libraryRel = filepath.Join(".cache", "onnxruntime", "libonnxruntime.so.1")

// ErrLibraryNotFound is matched (errors.Is) by the error of LibraryPath,
// Init and NewSession when the onnxruntime shared library is nowhere to be
// found; the error's text says how to get it.
var ErrLibraryNotFound = errors.New("onnxruntime shared library not found")

type libraryNotFoundError struct {
	lookedIn string
}

func (e *libraryNotFoundError) Error() string {
	return "onnxruntime shared library not found (looked in: " + e.lookedIn + "); " +
		"run `make deps`, or set " + LibraryEnv + " to a libonnxruntime.so.1 " +
		"(from npm onnxruntime-node@1.30.0: package/bin/napi-v6/linux/x64/libonnxruntime.so.1)"
}

func (e *libraryNotFoundError) Is(target error) bool { return target == ErrLibraryNotFound }

// LibraryPath returns the onnxruntime shared library Init loads: $E2HIL_ORT_LIB
// if set; otherwise .cache/onnxruntime/libonnxruntime.so.1 in the current
// directory or one of its parents, then in the executable's directory or one
// of its parents (binaries live in bin/ of the repository).
func LibraryPath() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	return findLibrary(os.Getenv(LibraryEnv), starts)
}

// findLibrary is LibraryPath with its inputs explicit: env is the value of
// LibraryEnv, starts the directories whose ancestry is searched.
func findLibrary(env string, starts []string) (string, error) {
	if env != "" {
		// An explicit setting is never second-guessed by a search: a stale
		// E2HIL_ORT_LIB should fail loudly, not load some other library.
		if isFile(env) {
			return env, nil
		}
		return "", &libraryNotFoundError{lookedIn: env + " (" + LibraryEnv + ")"}
	}
	var looked []string
	for _, start := range starts {
		looked = append(looked, filepath.Join(start, libraryRel)+" and the same under every parent directory")
		for dir := filepath.Clean(start); ; dir = filepath.Dir(dir) {
			if p := filepath.Join(dir, libraryRel); isFile(p) {
				return p, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if len(looked) == 0 {
		looked = []string{"nowhere: neither the current directory nor the executable's is known"}
	}
	return "", &libraryNotFoundError{lookedIn: strings.Join(looked, "; ")}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// The onnxruntime environment is process-wide by nature (onnxruntime_go keeps
// it in package state), so it is created once and lives as long as the
// process.
var (
	initOnce sync.Once
	initErr  error
)

// Init loads the onnxruntime shared library (see LibraryPath) and creates the
// process's onnxruntime environment. Only the first call does the work; every
// call returns its result, so it is safe to call from anywhere, any number of
// times. NewSession calls it.
func Init() error {
	initOnce.Do(func() {
		if ort.IsInitialized() {
			return // someone in this process got there first
		}
		path, err := LibraryPath()
		if err != nil {
			initErr = err
			return
		}
		ort.SetSharedLibraryPath(path)
		// Errors only: onnxruntime's warnings go to stderr unprefixed and
		// would interleave with our CLI output.
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("initialise onnxruntime from %s: %w", path, err)
		}
	})
	return initErr
}

// Version returns the version of the loaded onnxruntime library ("1.30.0"),
// after Init.
func Version() (string, error) {
	if err := Init(); err != nil {
		return "", err
	}
	return ort.GetVersion(), nil
}
