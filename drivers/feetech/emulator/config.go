package emulator

import (
	"fmt"
	"sort"
	"strings"
	"time"

	ft "github.com/e2hil/e2hil/drivers/feetech"
)

// Config describes an emulated bus.
type Config struct {
	// Servos on the bus; IDs must be distinct and below 0xFE.
	Servos []ServoConfig
	// Latency delays every reply (default 0: replies go out at once, far
	// below the ≈ 50 ms client deadline, §9.2).
	Latency time.Duration
	// MaxSpeed is the speed in steps/s a servo moves at when Goal_Velocity
	// is 0 ([I]: the sources give no STS3215 figure; 3000 steps/s ≈ 264°/s,
	// about the servo's no-load speed at 7.4 V).
	MaxSpeed float64
	// Hand, when set, moves every servo whose torque is off back and forth
	// around where it was released, like a person moving the arm through its
	// range. emu://so101 uses it so that `e2hil calibrate` can record ranges
	// with nobody at the arm; tests leave it nil and move joints with
	// Servo.SetPosition.
	Hand *Hand
	// Clock drives the motion simulation (default: the wall clock).
	Clock Clock
	// OnViolation is called, with the emulator's lock held, for every
	// Goal_Position write outside the range set by SetGoalLimits. Keep it
	// short; it must not call back into the emulator.
	OnViolation func(Violation)
}

// ServoConfig is one STS3215 at power-up.
type ServoConfig struct {
	ID       byte
	Model    uint16  // Model_Number; default 777 (sts3215)
	Firmware [2]byte // major, minor; default 3.10
	// Raw is the initial shaft angle in steps, [0, 4096).
	Raw int
}

// Hand is a scripted operator moving torque-off joints sinusoidally.
type Hand struct {
	// Amplitude of the motion in steps around the release point.
	Amplitude float64
	// Period of one full back-and-forth for the first servo; the others are
	// slightly slower so that joints do not move in lockstep.
	Period time.Duration
}

// withDefaults fills zero values.
func (c Config) withDefaults() Config {
	if c.MaxSpeed == 0 {
		c.MaxSpeed = 3000
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	servos := make([]ServoConfig, len(c.Servos))
	for i, s := range c.Servos {
		if s.Model == 0 {
			s.Model = ft.ModelSTS3215
		}
		if s.Firmware == [2]byte{} {
			s.Firmware = [2]byte{3, 10}
		}
		servos[i] = s
	}
	c.Servos = servos
	return c
}

// Validate reports every problem with its field name.
func (c Config) Validate() error {
	var probs []string
	seen := map[byte]bool{}
	for i, s := range c.Servos {
		if s.ID >= ft.BroadcastID {
			probs = append(probs, fmt.Sprintf("servos[%d].id: must be < %d, got %d", i, ft.BroadcastID, s.ID))
		}
		if seen[s.ID] {
			probs = append(probs, fmt.Sprintf("servos[%d].id: %d is used twice", i, s.ID))
		}
		seen[s.ID] = true
		if s.Raw < 0 || s.Raw >= stepsTurn {
			probs = append(probs, fmt.Sprintf("servos[%d].raw: must be in [0, %d), got %d", i, stepsTurn, s.Raw))
		}
	}
	if c.Latency < 0 {
		probs = append(probs, fmt.Sprintf("latency: must be ≥ 0, got %s", c.Latency))
	}
	if c.MaxSpeed < 0 {
		probs = append(probs, fmt.Sprintf("max_speed: must be ≥ 0, got %g", c.MaxSpeed))
	}
	if h := c.Hand; h != nil {
		if h.Amplitude <= 0 || h.Amplitude >= stepsTurn/2 {
			probs = append(probs, fmt.Sprintf("hand.amplitude: must be in (0, %d), got %g", stepsTurn/2, h.Amplitude))
		}
		if h.Period <= 0 {
			probs = append(probs, fmt.Sprintf("hand.period: must be > 0, got %s", h.Period))
		}
	}
	if len(probs) == 0 {
		return nil
	}
	sort.Strings(probs)
	return fmt.Errorf("emulator config: %s", strings.Join(probs, "; "))
}

// SO101 is an SO-101 arm as it comes out of the box after `setup_motors`:
// six STS3215 with IDs 1–6 (shoulder_pan … gripper), all at mid-turn, with
// the scripted hand moving them while torque is off. It is what the port
// emu://so101 runs.
func SO101() Config {
	c := Config{Hand: &Hand{Amplitude: 900, Period: 2 * time.Second}}
	for id := byte(1); id <= 6; id++ {
		c.Servos = append(c.Servos, ServoConfig{ID: id, Raw: 2048})
	}
	return c
}
