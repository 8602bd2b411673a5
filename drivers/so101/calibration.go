package so101

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/e2hil/e2hil/internal/atomicfile"
)

// ErrNotCalibrated: no calibration for a motor, or the motors disagree with
// the calibration file (run `e2hil calibrate`).
var ErrNotCalibrated = errors.New("not calibrated")

// MotorCalibration is one motor's entry of a LeRobot calibration file.
// Field order is LeRobot's (draccus writes them in this order).
type MotorCalibration struct {
	ID           int `json:"id"`
	DriveMode    int `json:"drive_mode"`
	HomingOffset int `json:"homing_offset"`
	RangeMin     int `json:"range_min"`
	RangeMax     int `json:"range_max"`
}

// Calibration maps motor names to their calibration.
type Calibration map[string]MotorCalibration

// MarshalOrdered encodes c as LeRobot does (draccus JSON, indent 4, no
// trailing newline), motors in the given bus order, then any others
// sorted.
func (c Calibration) MarshalOrdered(order []string) ([]byte, error) {
	names := make([]string, 0, len(c))
	seen := map[string]bool{}
	for _, n := range order {
		if _, ok := c[n]; ok {
			names = append(names, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range c {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	names = append(names, rest...)

	var b bytes.Buffer
	b.WriteString("{")
	for i, n := range names {
		if i > 0 {
			b.WriteString(",")
		}
		key, _ := json.Marshal(n)
		val, err := json.MarshalIndent(c[n], "    ", "    ")
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "\n    %s: %s", key, val)
	}
	if len(names) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("}")
	return b.Bytes(), nil
}

// ParseCalibration decodes a LeRobot calibration file. Unknown fields are
// errors, as they are for draccus.
func ParseCalibration(data []byte) (Calibration, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	c := make(Calibration, len(raw))
	for _, name := range sortedKeys(raw) {
		dec := json.NewDecoder(bytes.NewReader(raw[name]))
		dec.DisallowUnknownFields()
		var mc MotorCalibration
		if err := dec.Decode(&mc); err != nil {
			return nil, fmt.Errorf("motor %q: %w", name, err)
		}
		c[name] = mc
	}
	return c, nil
}

// LoadCalibration reads a calibration file.
func LoadCalibration(path string) (Calibration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseCalibration(data)
	if err != nil {
		return nil, fmt.Errorf("calibration %s: %w", path, err)
	}
	return c, nil
}

// SaveCalibration writes c to path atomically, motors in bus order.
func SaveCalibration(path string, c Calibration, order []string) error {
	data, err := c.MarshalOrdered(order)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

// Calibration directory kinds (§5.2).
const (
	KindRobots        = "robots"
	KindTeleoperators = "teleoperators"
)

// CalibrationRoot is LeRobot's HF_LEROBOT_CALIBRATION, resolved from the
// environment (lookup is os.LookupEnv in production): HF_LEROBOT_CALIBRATION
// ← $HF_LEROBOT_HOME/calibration; HF_LEROBOT_HOME ← $HF_HOME/lerobot;
// HF_HOME ← $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface. LeRobot
// refuses the deprecated LEROBOT_HOME, and so do we.
func CalibrationRoot(lookup func(string) (string, bool)) (string, error) {
	if v, ok := lookup("LEROBOT_HOME"); ok {
		return "", fmt.Errorf("LEROBOT_HOME is set to %q: it is deprecated, use HF_LEROBOT_HOME instead", v)
	}
	if v, ok := lookup("HF_LEROBOT_CALIBRATION"); ok {
		return expandHome(v, lookup)
	}
	home, ok := lookup("HF_LEROBOT_HOME")
	if !ok {
		hf, ok := lookup("HF_HOME")
		if !ok {
			cache, ok := lookup("XDG_CACHE_HOME")
			if !ok {
				cache = filepath.Join("~", ".cache")
			}
			hf = filepath.Join(cache, "huggingface")
		}
		home = filepath.Join(hf, "lerobot")
	}
	return expandHome(filepath.Join(home, "calibration"), lookup)
}

func expandHome(p string, lookup func(string) (string, bool)) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, ok := lookup("HOME")
	if !ok || home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("expand %s: %w", p, err)
		}
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
}

// CalibrationPath is where LeRobot keeps a device's calibration:
// <dir>/<id>.json with dir = override, else <root>/<kind>/<type>. An empty
// id gives "None.json", as Python's f"{None}.json" does.
func CalibrationPath(override, kind, robotType, id string) (string, error) {
	dir := override
	if dir == "" {
		root, err := CalibrationRoot(os.LookupEnv)
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, kind, robotType)
	} else {
		var err error
		if dir, err = expandHome(dir, os.LookupEnv); err != nil {
			return "", err
		}
	}
	if id == "" {
		id = "None"
	}
	return filepath.Join(dir, id+".json"), nil
}
