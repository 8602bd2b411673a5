package so101

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNormalizeVectors: SO101.md §6 test vectors, m = 1000, M = 3000.
func TestNormalizeVectors(t *testing.T) {
	c := MotorCalibration{RangeMin: 1000, RangeMax: 3000}
	tests := []struct {
		raw              int
		m100, p100, degs float64
	}{
		{500, -100, 0, -131.868131868131868},
		{1234, -76.6, 11.7, -67.340659340659341},
		{2500, 50, 75, 43.956043956043956},
		{3500, 100, 100, 131.868131868131868},
	}
	for _, tt := range tests {
		for _, m := range []struct {
			mode NormMode
			want float64
		}{{RangeM100100, tt.m100}, {Range0100, tt.p100}, {Degrees, tt.degs}} {
			got, err := Normalize(tt.raw, c, m.mode)
			if err != nil || math.Abs(got-m.want) > 1e-9 {
				t.Errorf("Normalize(%d, %v) = %v, %v; want %v", tt.raw, m.mode, got, err, m.want)
			}
		}
	}
	inv := c
	inv.DriveMode = 1
	if got, _ := Normalize(2500, inv, RangeM100100); got != -50 {
		t.Errorf("inverted M100: %v, want -50", got)
	}
	if got, _ := Normalize(2500, inv, Range0100); got != 25 {
		t.Errorf("inverted 0–100: %v, want 25", got)
	}
	if _, err := Normalize(2000, MotorCalibration{RangeMin: 5, RangeMax: 5}, Degrees); !errors.Is(err, ErrNotCalibrated) {
		t.Errorf("min == max: %v", err)
	}
}

func TestUnnormalizeVectors(t *testing.T) {
	c := MotorCalibration{RangeMin: 1000, RangeMax: 3000}
	inv := MotorCalibration{RangeMin: 1000, RangeMax: 3000, DriveMode: 1}
	mid := MotorCalibration{RangeMin: 0, RangeMax: 4095} // mid 2047.5
	tests := []struct {
		v    float64
		c    MotorCalibration
		mode NormMode
		want int
		err  bool
	}{
		{50, c, RangeM100100, 2500, false},
		{75, c, Range0100, 2500, false},
		{43.956043956043956, c, Degrees, 2500, false},
		{-25, inv, RangeM100100, 2250, false},
		{250, c, RangeM100100, 3000, false}, // clamped to ±100
		{-5, c, Range0100, 1000, false},
		{0.1, mid, Degrees, 2048, false},
		{-33.3, mid, Degrees, 1668, false},
		{-200, mid, Degrees, 0, true}, // negative steps: LeRobot's ValueError
		{math.NaN(), c, Degrees, 0, true},
	}
	for _, tt := range tests {
		got, err := Unnormalize(tt.v, tt.c, tt.mode)
		if tt.err != (err != nil) || !tt.err && got != tt.want {
			t.Errorf("Unnormalize(%v, %+v, %v) = %d, %v; want %d (error %v)", tt.v, tt.c, tt.mode, got, err, tt.want, tt.err)
		}
	}
}

const goldenCalibration = `{
    "shoulder_pan": {
        "id": 1,
        "drive_mode": 0,
        "homing_offset": -312,
        "range_min": 752,
        "range_max": 3310
    },
    "gripper": {
        "id": 6,
        "drive_mode": 0,
        "homing_offset": 12,
        "range_min": 2000,
        "range_max": 3400
    }
}`

func TestCalibrationFile(t *testing.T) {
	cal := Calibration{
		"gripper":      {ID: 6, HomingOffset: 12, RangeMin: 2000, RangeMax: 3400},
		"shoulder_pan": {ID: 1, HomingOffset: -312, RangeMin: 752, RangeMax: 3310},
	}
	got, err := cal.MarshalOrdered(MotorNames)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != goldenCalibration {
		t.Fatalf("LeRobot format mismatch:\n%s\nwant\n%s", got, goldenCalibration)
	}
	// What LeRobot writes is what Python's json would parse.
	var generic map[string]map[string]int
	if err := json.Unmarshal(got, &generic); err != nil || generic["gripper"]["range_max"] != 3400 {
		t.Fatalf("not plain JSON: %v", err)
	}
	path := filepath.Join(t.TempDir(), "sub", "arm.json")
	if err := SaveCalibration(path, cal, MotorNames); err != nil {
		t.Fatal(err)
	}
	back, err := LoadCalibration(path)
	if err != nil || back["shoulder_pan"] != cal["shoulder_pan"] || len(back) != 2 {
		t.Fatalf("reload: %v, %v", back, err)
	}
	bad := strings.Replace(goldenCalibration, `"drive_mode"`, `"drive"`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCalibration(path); err == nil || !strings.Contains(err.Error(), "shoulder_pan") {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestCalibrationRoot(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
		err  bool
	}{
		{"explicit", map[string]string{"HF_LEROBOT_CALIBRATION": "/c", "HF_LEROBOT_HOME": "/x"}, "/c", false},
		{"lerobot home", map[string]string{"HF_LEROBOT_HOME": "/lr", "HF_HOME": "/x"}, "/lr/calibration", false},
		{"hf home", map[string]string{"HF_HOME": "/hf"}, "/hf/lerobot/calibration", false},
		{"xdg", map[string]string{"XDG_CACHE_HOME": "/xdg", "HOME": "/h"}, "/xdg/huggingface/lerobot/calibration", false},
		{"home", map[string]string{"HOME": "/h"}, "/h/.cache/huggingface/lerobot/calibration", false},
		{"tilde", map[string]string{"HF_LEROBOT_CALIBRATION": "~/cal", "HOME": "/h"}, "/h/cal", false},
		{"deprecated", map[string]string{"LEROBOT_HOME": "/old"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CalibrationRoot(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.err != (err != nil) || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	p, err := CalibrationPath("/dir", KindRobots, TypeFollower, "")
	if err != nil || p != "/dir/None.json" {
		t.Fatalf("CalibrationPath: %q, %v", p, err)
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultFollowerConfig("")
	c.Type = "so100"
	c.MaxRelativeTarget = MaxRelativeTarget{PerMotor: map[string]float64{"elbow": 5, "gripper": -1}}
	c.JointBounds = map[string]Bounds{"wrist_flex": {Min: 10, Max: -10}}
	err := c.Validate()
	for _, want := range []string{"type:", "port:", "max_relative_target.elbow: no such motor", "max_relative_target.gripper: must be a positive",
		"must name all 6 motors", "joint_bounds.wrist_flex: min must be < max"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want %q", err, want)
		}
	}
	if err := DefaultFollowerConfig("/dev/ttyACM0").Validate(); err != nil {
		t.Fatal(err)
	}
	var m MaxRelativeTarget
	if err := json.Unmarshal([]byte(`12.5`), &m); err != nil || m.All != 12.5 {
		t.Fatalf("number: %+v %v", m, err)
	}
	if err := json.Unmarshal([]byte(`{"gripper": 3}`), &m); err != nil || m.PerMotor["gripper"] != 3 || m.All != 0 {
		t.Fatalf("map: %+v %v", m, err)
	}
	if err := json.Unmarshal([]byte(`"x"`), &m); err == nil {
		t.Fatal("a string was accepted")
	}
}
