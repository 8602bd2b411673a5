// Package testtool gives tests access to the external tools `make deps`
// installs (onnxruntime, Debian's python3-onnx, the hyparquet Parquet
// reader). A missing tool skips the test with the command that installs it,
// unless E2HIL_REQUIRE_TOOLS=1 (set by `make test`), where it fails: a test
// that cannot run must not pass silently in CI.
package testtool

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/e2hil/e2hil/inference"
)

// Python is Debian's interpreter, which has python3-onnx; a pyenv python3
// earlier on PATH usually does not.
const Python = "/usr/bin/python3"

// Missing skips t, or fails it under E2HIL_REQUIRE_TOOLS=1.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("E2HIL_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// RequireORT makes sure onnxruntime can be loaded.
func RequireORT(t testing.TB) {
	t.Helper()
	if err := inference.Init(); err != nil {
		if errors.Is(err, inference.ErrLibraryNotFound) {
			Missing(t, err.Error())
		}
		t.Fatal(err)
	}
}

// CheckONNX runs onnx.checker.check_model(full_check=True) from Debian's
// python3-onnx on the model file at path.
func CheckONNX(t testing.TB, path string) {
	t.Helper()
	if out, err := exec.Command(Python, "-c", "import onnx").CombinedOutput(); err != nil {
		Missing(t, "python3-onnx not usable ("+Python+` -c "import onnx": `+err.Error()+": "+string(out)+
			"); install it with `apt-get install python3-onnx`, or run `make deps`")
	}
	script := "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)"
	if out, err := exec.Command(Python, "-c", script, path).CombinedOutput(); err != nil {
		t.Fatalf("onnx.checker rejects %s: %v\n%s", path, err, out)
	}
}

// NodeModules returns the node_modules directory holding hyparquet
// ($E2HIL_NODE_MODULES, else .cache/node/node_modules above the working
// directory), after checking node runs.
func NodeModules(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		Missing(t, "node not found on PATH; install Node.js (apt-get install nodejs) and run `make deps`")
	}
	dir := os.Getenv("E2HIL_NODE_MODULES")
	if dir == "" {
		wd, _ := os.Getwd()
		for d := wd; ; d = filepath.Dir(d) {
			if fi, err := os.Stat(filepath.Join(d, ".cache", "node", "node_modules", "hyparquet")); err == nil && fi.IsDir() {
				dir = filepath.Join(d, ".cache", "node", "node_modules")
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if dir == "" {
		Missing(t, "hyparquet not found (looked for .cache/node/node_modules above the working directory and $E2HIL_NODE_MODULES); run `make deps`")
	}
	if _, err := os.Stat(filepath.Join(dir, "hyparquet")); err != nil {
		Missing(t, "hyparquet not found in "+dir+"; run `make deps`")
	}
	return dir
}
