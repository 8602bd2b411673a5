package so101

import (
	"fmt"
	"math"
)

// maxRes is the STS3215's resolution − 1: LeRobot's degree maths and
// half-turn homing use 4095, not 4096 (§2, §6).
const maxRes = 4095

func checkRange(c MotorCalibration) error {
	if c.RangeMax == c.RangeMin {
		return fmt.Errorf("%w: range_min = range_max = %d", ErrNotCalibrated, c.RangeMin)
	}
	if c.RangeMax < c.RangeMin {
		return fmt.Errorf("%w: range_min %d > range_max %d", ErrNotCalibrated, c.RangeMin, c.RangeMax)
	}
	return nil
}

// Normalize converts a raw Present_Position to the motor's units
// (LeRobot _normalize, §6). M100 and 0–100 clamp the reading to the
// calibrated range first; DEGREES does not.
func Normalize(raw int, c MotorCalibration, mode NormMode) (float64, error) {
	if err := checkRange(c); err != nil {
		return 0, err
	}
	m, M := float64(c.RangeMin), float64(c.RangeMax)
	inv := c.DriveMode != 0
	b := math.Min(M, math.Max(m, float64(raw)))
	switch mode {
	case RangeM100100:
		n := (b-m)/(M-m)*200 - 100
		if inv {
			n = -n
		}
		return n, nil
	case Range0100:
		n := (b - m) / (M - m) * 100
		if inv {
			n = 100 - n
		}
		return n, nil
	case Degrees:
		return (float64(raw) - (m+M)/2) * 360 / maxRes, nil
	}
	return 0, fmt.Errorf("normalise: unknown mode %v", mode)
}

// unnormalizeFloat is LeRobot's _unnormalize before the final int():
// M100 and 0–100 clamp the value to their range, DEGREES does not.
func unnormalizeFloat(v float64, c MotorCalibration, mode NormMode) (float64, error) {
	if err := checkRange(c); err != nil {
		return 0, err
	}
	m, M := float64(c.RangeMin), float64(c.RangeMax)
	inv := c.DriveMode != 0
	switch mode {
	case RangeM100100:
		if inv {
			v = -v
		}
		v = math.Min(100, math.Max(-100, v))
		return (v+100)/200*(M-m) + m, nil
	case Range0100:
		if inv {
			v = 100 - v
		}
		v = math.Min(100, math.Max(0, v))
		return v/100*(M-m) + m, nil
	case Degrees:
		return v*maxRes/360 + (m+M)/2, nil
	}
	return 0, fmt.Errorf("unnormalise: unknown mode %v", mode)
}

// Unnormalize converts a goal in the motor's units to raw steps exactly as
// LeRobot does (truncation toward zero; a negative DEGREES result is an
// error). The driver itself writes goals only through the safety clamp,
// which also bounds DEGREES goals to the calibrated range.
func Unnormalize(v float64, c MotorCalibration, mode NormMode) (int, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("unnormalise %g: not a finite number", v)
	}
	f, err := unnormalizeFloat(v, c, mode)
	if err != nil {
		return 0, err
	}
	if f < 0 || f > math.MaxUint16 {
		return 0, fmt.Errorf("unnormalise %g %v: %g steps is outside 0…65535", v, mode, f)
	}
	return int(f), nil
}
