package inference

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindLibrary(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, libraryRel)
	if err := os.MkdirAll(filepath.Dir(lib), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lib, []byte("not really a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "bin", "sub")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()

	tests := []struct {
		name    string
		env     string
		starts  []string
		want    string
		wantErr []string // substrings of the error
	}{
		{name: "env wins", env: lib, starts: []string{elsewhere}, want: lib},
		{name: "start dir", starts: []string{root}, want: lib},
		{name: "parent of start dir", starts: []string{deep}, want: lib},
		{name: "second start dir (the executable's)", starts: []string{elsewhere, deep}, want: lib},
		{
			name: "env set to a missing file is not second-guessed", env: filepath.Join(elsewhere, "nope.so"), starts: []string{root},
			wantErr: []string{
				"onnxruntime shared library not found (looked in: " + filepath.Join(elsewhere, "nope.so") + " (E2HIL_ORT_LIB))",
				"run `make deps`, or set E2HIL_ORT_LIB to a libonnxruntime.so.1 (from npm onnxruntime-node@1.30.0: package/bin/napi-v6/linux/x64/libonnxruntime.so.1)",
			},
		},
		{
			name: "env set to a directory", env: root,
			wantErr: []string{"(looked in: " + root + " (E2HIL_ORT_LIB))"},
		},
		{
			name: "nowhere", starts: []string{elsewhere},
			wantErr: []string{
				"(looked in: " + filepath.Join(elsewhere, libraryRel) + " and the same under every parent directory)",
				"run `make deps`",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findLibrary(tt.env, tt.starts)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Errorf("findLibrary = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("findLibrary = %q, want an error", got)
			}
			if !errors.Is(err, ErrLibraryNotFound) {
				t.Errorf("error %v does not match ErrLibraryNotFound", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// TestInitLibraryNotFound runs Init in a child process (Init's result is
// once per process) with E2HIL_ORT_LIB pointing nowhere, and checks the
// whole path: the error reaches NewSession's caller with the remedy in it.
func TestInitLibraryNotFound(t *testing.T) {
	if os.Getenv("E2HIL_TEST_INIT_CHILD") == "1" {
		_, err := NewSession([]byte{0}, SessionOptions{})
		if !errors.Is(err, ErrLibraryNotFound) {
			t.Fatalf("NewSession: %v, want ErrLibraryNotFound", err)
		}
		if err2 := Init(); err2 == nil || err2.Error() != errors.Unwrap(err).Error() {
			t.Fatalf("second Init: %v, want the first error again", err2)
		}
		os.Stdout.WriteString("CHILD-ERROR: " + err.Error() + "\n")
		return
	}
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	cmd := exec.Command(os.Args[0], "-test.run=^TestInitLibraryNotFound$", "-test.count=1")
	cmd.Env = append(os.Environ(), "E2HIL_TEST_INIT_CHILD=1", LibraryEnv+"="+missing)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := "CHILD-ERROR: new inference session: onnxruntime shared library not found (looked in: " + missing +
		" (E2HIL_ORT_LIB)); run `make deps`, or set E2HIL_ORT_LIB to a libonnxruntime.so.1 " +
		"(from npm onnxruntime-node@1.30.0: package/bin/napi-v6/linux/x64/libonnxruntime.so.1)\n"
	if !strings.Contains(string(out), want) {
		t.Errorf("child output:\n%s\nwant a line:\n%s", out, want)
	}
}

// TestLibraryPathFromTestDir: `go test` runs in the package directory, under
// the repository root where `make deps` puts the library.
func TestLibraryPathFromTestDir(t *testing.T) {
	t.Setenv(LibraryEnv, "")
	p, err := LibraryPath()
	if errors.Is(err, ErrLibraryNotFound) && os.Getenv("E2HIL_REQUIRE_TOOLS") != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.Abs(filepath.Join("..", libraryRel)); p != want {
		t.Errorf("LibraryPath() = %q, want %q", p, want)
	}
}

func TestVersion(t *testing.T) {
	v, err := Version()
	if errors.Is(err, ErrLibraryNotFound) && os.Getenv("E2HIL_REQUIRE_TOOLS") != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The library `make deps` fetches; a different one is worth knowing about.
	if v != "1.30.0" {
		t.Logf("onnxruntime %s (make deps fetches 1.30.0)", v)
	}
}
