package so101

import (
	"context"
	"errors"
	"fmt"
	"math"

	ft "github.com/e2hil/e2hil/drivers/feetech"
)

// ErrInvalidGoal: a goal that is not a finite number, or the wrong number
// of goals. Nothing is written.
var ErrInvalidGoal = errors.New("invalid goal")

// ErrStopped: torque was disabled by SIGINT/SIGTERM; the arm takes no more
// goals until it is reconnected.
var ErrStopped = errors.New("arm stopped by a signal (torque disabled)")

// goalRange is a motor's allowed Goal_Position in raw steps, inclusive.
type goalRange struct{ lo, hi int }

// allowedRanges computes each motor's allowed raw goals: the calibrated
// [range_min, range_max] intersected with the configured joint bounds,
// converted to steps and rounded inward.
func allowedRanges(ms []Motor, cal Calibration, bounds map[string]Bounds) ([]goalRange, error) {
	out := make([]goalRange, len(ms))
	for i, m := range ms {
		c, ok := cal[m.Name]
		if !ok {
			return nil, fmt.Errorf("motor %q: %w: no calibration", m.Name, ErrNotCalibrated)
		}
		if err := checkRange(c); err != nil {
			return nil, fmt.Errorf("motor %q: %w", m.Name, err)
		}
		r := goalRange{lo: c.RangeMin, hi: c.RangeMax}
		if b, ok := bounds[m.Name]; ok {
			a, err1 := unnormalizeFloat(b.Min, c, m.Mode)
			z, err2 := unnormalizeFloat(b.Max, c, m.Mode)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("joint_bounds.%s: %w", m.Name, err)
			}
			// drive_mode flips the direction, so sort the ends.
			r.lo = max(r.lo, int(math.Ceil(math.Min(a, z))))
			r.hi = min(r.hi, int(math.Floor(math.Max(a, z))))
			if r.lo > r.hi {
				return nil, fmt.Errorf("joint_bounds.%s [%g, %g] %v lies outside the calibrated range [%d, %d] steps",
					m.Name, b.Min, b.Max, m.Mode, c.RangeMin, c.RangeMax)
			}
		}
		out[i] = r
	}
	return out, nil
}

// writeGoals is the one place that writes Goal_Position (the safety
// invariant): goals in the motors' units, in motor order, are converted to
// steps, clamped into each motor's allowed range, and written with one
// SYNC_WRITE. It returns the goals actually sent, in the motors' units.
func (a *arm) writeGoals(ctx context.Context, goals []float64) ([]float64, error) {
	a.mu.Lock()
	cal, allowed, stopped := a.cal, a.allowed, a.stopped
	a.mu.Unlock()
	if stopped {
		return nil, ErrStopped
	}
	if len(goals) != len(a.motors) {
		return nil, fmt.Errorf("%w: %d goals for %d motors %v", ErrInvalidGoal, len(goals), len(a.motors), MotorNames)
	}
	if allowed == nil {
		return nil, fmt.Errorf("write Goal_Position: %w (run e2hil calibrate)", ErrNotCalibrated)
	}
	raw := make([]int, len(goals))
	for i, m := range a.motors {
		v := goals[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("write Goal_Position to motor %q: %w: %g", m.Name, ErrInvalidGoal, v)
		}
		f, err := unnormalizeFloat(v, cal[m.Name], m.Mode)
		if err != nil {
			return nil, fmt.Errorf("write Goal_Position to motor %q: %w", m.Name, err)
		}
		r := allowed[i]
		switch {
		case f <= float64(r.lo):
			raw[i] = r.lo
		case f >= float64(r.hi):
			raw[i] = r.hi
		default:
			raw[i] = int(f) // truncation, as LeRobot's int()
		}
	}
	if err := a.bus.SyncWrite(ctx, ft.GoalPosition, a.ids, raw); err != nil {
		return nil, err
	}
	sent := make([]float64, len(raw))
	for i, m := range a.motors {
		sent[i], _ = Normalize(raw[i], cal[m.Name], m.Mode)
	}
	return sent, nil
}

// capRelative is LeRobot's ensure_safe_goal_position (§4): each goal moves
// at most cap from the present position, in normalised units.
func capRelative(goals, present []float64, ms []Motor, m MaxRelativeTarget) []float64 {
	out := append([]float64(nil), goals...)
	for i, mo := range ms {
		c, ok := m.Cap(mo.Name)
		if !ok {
			continue
		}
		d := math.Max(-c, math.Min(c, goals[i]-present[i]))
		out[i] = present[i] + d
	}
	return out
}
