package commands

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/drivers/so101"
)

var rangeRow = regexp.MustCompile(`(?m)^(\w+)\s+\|\s+(\d+)\s+\|\s+(\d+)\s+\|\s+(\d+)$`)

// TestCalibrateEmulator runs `e2hil calibrate` end to end against the
// built-in emulator (emu://so101, whose scripted hand moves the joints while
// torque is off), answering the prompts as a person would: ENTER at the
// middle pose, ENTER once every joint has travelled.
func TestCalibrateEmulator(t *testing.T) {
	tests := []struct {
		name string
		args []string
		file string
	}{
		{"follower", []string{"--robot.type", "so101_follower", "--robot.port", "emu://so101", "--robot.id", "blue"}, "blue.json"},
		{"leader", []string{"--teleop.type", "so101_leader", "--teleop.port", "emu://so101", "--teleop.id", "red"}, "red.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			flag := "--robot.calibration_dir"
			if tt.name == "leader" {
				flag = "--teleop.calibration_dir"
			}
			args := append([]string{"e2hil", "calibrate"}, append(tt.args, flag, dir)...)

			inR, inW := io.Pipe()
			outR, outW := io.Pipe()
			var stderr bytes.Buffer
			app := NewApp("e2hil", "test", Calibrate())
			app.Reader, app.Writer, app.ErrWriter = inR, outW, &stderr
			done := make(chan error, 1)
			go func() {
				err := app.Run(args)
				outW.Close()
				done <- err
			}()
			defer inW.Close()

			var out strings.Builder
			buf := make([]byte, 4096)
			answeredMiddle, answeredRanges := false, false
			for {
				n, err := outR.Read(buf)
				out.Write(buf[:n])
				text := out.String()
				if !answeredMiddle && strings.Contains(text, "to the middle of its range of motion and press ENTER") {
					answeredMiddle = true
					go io.WriteString(inW, "\n")
				}
				if answeredMiddle && !answeredRanges {
					if i := strings.Index(text, "Recording positions. Press ENTER to stop..."); i >= 0 && rangesCovered(text[i:], 300) {
						answeredRanges = true
						go io.WriteString(inW, "\n")
					}
				}
				if err != nil {
					break
				}
			}
			if err := <-done; err != nil {
				t.Fatalf("calibrate: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
			}
			path := filepath.Join(dir, tt.file)
			if !strings.Contains(out.String(), "Calibration saved to "+path) {
				t.Fatalf("no save message for %s in:\n%s", path, out.String())
			}
			cal, err := so101.LoadCalibration(path)
			if err != nil {
				t.Fatal(err)
			}
			for i, name := range so101.MotorNames {
				c := cal[name]
				if c.ID != i+1 || c.RangeMax-c.RangeMin < 300 || c.RangeMin < 0 || c.RangeMax > 4095 || c.HomingOffset < -900 || c.HomingOffset > 900 {
					t.Errorf("%s: %+v", name, c)
				}
			}
		})
	}
}

// rangesCovered reports whether the last table printed shows every motor
// having moved at least span steps.
func rangesCovered(text string, span int) bool {
	latest := map[string]int{}
	for _, m := range rangeRow.FindAllStringSubmatch(text, -1) {
		lo, _ := strconv.Atoi(m[2])
		hi, _ := strconv.Atoi(m[4])
		latest[m[1]] = hi - lo
	}
	for _, name := range so101.MotorNames {
		if latest[name] < span {
			return false
		}
	}
	return true
}

func TestCalibrateUsage(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"nothing", nil, true, "exactly one of"},
		{"both", []string{"--robot.type", "so101_follower", "--teleop.type", "so101_leader"}, true, "exactly one of"},
		{"unknown robot", []string{"--robot.type", "koch_follower", "--robot.port", "x"}, true, `"koch_follower" is not supported`},
		{"no port", []string{"--robot.type", "so101_follower", "--robot.calibration_dir", "DIR"}, false, "port: must name a serial device"},
		{"absent port", []string{"--robot.type", "so101_follower", "--robot.port", "/dev/ttyACM_absent", "--robot.calibration_dir", "DIR"}, false, "/dev/ttyACM_absent"},
		{"unknown emulator", []string{"--teleop.type", "so101_leader", "--teleop.port", "emu://koch", "--teleop.calibration_dir", "DIR"}, false, `unknown bus "koch"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"e2hil", "calibrate"}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			app := NewApp("e2hil", "test", Calibrate())
			var stdout bytes.Buffer
			app.Reader, app.Writer, app.ErrWriter = strings.NewReader(""), &stdout, &stdout
			err := app.Run(args)
			var u usageError
			if err == nil || errors.As(err, &u) != tt.usage || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v (usage %v), want %q (usage %v)", err, errors.As(err, &u), tt.want, tt.usage)
			}
		})
	}
}
