package inference_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoTrainingStack: the actor loads this package to run policies, so it
// must not pull in Gorgonia (see the package doc).
func TestNoTrainingStack(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	out, err := exec.Command(goCmd, "list", "-deps", "github.com/e2hil/e2hil/inference").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "gorgonia.org/") {
			t.Errorf("imports %s", dep)
		}
	}
}
