package dataset

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash tests run a recording in a child process (this test binary,
// re-executed into TestCrashHelper) and SIGKILL it: no deferred code, no
// Close, no flush runs.

const crashEnv = "E2HIL_CRASH_HELPER"

// TestCrashHelper is the child: it records into $E2HIL_CRASH_HELPER's root,
// printing "saved N" after each episode save and "mid N" once episode N is
// half recorded, and never stops on its own.
func TestCrashHelper(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("helper process of TestSIGKILL")
	}
	mode, root, _ := strings.Cut(spec, ":")
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, a ...any) {
		fmt.Fprintf(out, format+"\n", a...)
		out.Flush()
	}
	switch mode {
	case "cameras": // state, two video cameras, an image; stop mid-episode
		w, err := Create(WriterConfig{Root: root, FPS: 30, Features: cameraFeatures()})
		if err != nil {
			say("error %v", err)
			return
		}
		for ep := 0; ; ep++ {
			for i := 0; i < 12; i++ {
				if ep == 3 && i == 6 {
					say("mid %d", ep)
				}
				k := ep*12 + i
				err := w.AddFrame(Frame{
					"observation.state":          make([]float32, 6),
					"action":                     make([]float32, 4),
					"next.reward":                float32(0),
					"next.done":                  false,
					"observation.images.front":   scene(128, 128, k, 0),
					"observation.images.wrist":   scene(128, 128, k, 1),
					"observation.images.gripper": scene(80, 64, k, 2),
				}, "pick")
				if err != nil {
					say("error %v", err)
					return
				}
			}
			if ep == 3 {
				select {} // mid-episode, frames streaming into the encoders: wait for the kill
			}
			if err := w.SaveEpisode(); err != nil {
				say("error %v", err)
				return
			}
			say("saved %d", ep+1)
		}
	case "saves": // state only, saving as fast as it can: the kill lands anywhere
		w, err := Create(testConfig(root))
		if err != nil {
			say("error %v", err)
			return
		}
		for ep := 0; ; ep++ {
			for i := 0; i < 3+ep%5; i++ {
				w.AddFrame(Frame{"observation.state": make([]float32, 12), "action": make([]float32, 4), "next.reward": float32(i), "next.done": false}, testTasks[ep%2])
			}
			if err := w.SaveEpisode(); err != nil {
				say("error %v", err)
				return
			}
			say("saved %d", ep+1)
		}
	}
}

// TestSIGKILL kills a recording process and checks that the dataset is
// valid with every completed episode: mid-episode (the frames of the
// unsaved episode are lost, nothing else), and at an arbitrary point of a
// stream of saves (a save the kill interrupted is completed by Recover or
// never happened).
func TestSIGKILL(t *testing.T) {
	tests := []struct {
		mode   string
		killAt string // the child's line after which it is killed
		video  bool
	}{
		{"cameras", "mid 3", true},
		{"saves", "saved 25", false},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			if tc.video {
				requireVideo(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			root := filepath.Join(t.TempDir(), "ds")
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashEnv+"="+tc.mode+":"+root)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			saved, killed := 0, false
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				if n, ok := strings.CutPrefix(line, "saved "); ok {
					saved, _ = strconv.Atoi(n)
				}
				if strings.HasPrefix(line, "error ") {
					t.Errorf("child: %s", line)
				}
				if line == tc.killAt {
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					killed = true
					break
				}
			}
			go func() { // drain what the child wrote before dying
				for sc.Scan() {
				}
			}()
			err = cmd.Wait()
			if !killed {
				t.Fatalf("child ended without reaching %q: %v", tc.killAt, err)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child exit: %v, want killed by SIGKILL", err)
			}

			recovered, err := Recover(root)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(root, privateDir)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Recover left %s (partial videos, lock file): %v", privateDir, err)
			}
			v, err := Validate(ctx, root, ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !v.OK() {
				t.Fatalf("dataset invalid after SIGKILL: %v", v.Problems)
			}
			d, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			// The child printed "saved N" after N durable saves; the kill may
			// have interrupted save N+1 after its journal, which Recover completed.
			want := saved
			if recovered || len(d.Episodes) == saved+1 {
				want = saved + 1
			}
			if len(d.Episodes) != want || (tc.mode == "cameras" && len(d.Episodes) != 3) {
				t.Errorf("%d episodes after the kill; %d were saved (recovered: %v)", len(d.Episodes), saved, recovered)
			}
			t.Logf("%s: killed after %d saved episodes; dataset holds %d (recovered an interrupted save: %v)", tc.mode, saved, len(d.Episodes), recovered)
			// A new writer is not locked out by the dead one: the dataset is
			// simply not empty.
			if _, err := Create(WriterConfig{Root: root, FPS: 30, Features: hilFeatures()}); !errors.Is(err, ErrNotEmpty) {
				t.Errorf("Create after the crash = %v, want ErrNotEmpty (the dead writer's lock is gone)", err)
			}
		})
	}
}

// TestSecondWriterRefused: while a writer has a dataset open, another is
// refused with a message naming the holder; the first is unaffected.
func TestSecondWriterRefused(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ds")
	w, err := Create(testConfig(root))
	if err != nil {
		t.Fatal(err)
	}
	recordEpisodes(t, w, []int{4}, 1)
	_, err = Create(testConfig(root))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Create = %v, want ErrLocked", err)
	}
	for _, s := range []string{root + " is locked by process pid " + strconv.Itoa(os.Getpid()), "lock file " + filepath.Join(root, privateDir, lockName)} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	recordEpisodes(t, w, []int{3}, 2)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(root)
	if err != nil || len(d.Episodes) != 2 {
		t.Fatalf("first writer's dataset: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, privateDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left %s: %v", privateDir, err)
	}
	if _, err := Create(testConfig(root)); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("Create after Close = %v, want ErrNotEmpty", err)
	}
}
