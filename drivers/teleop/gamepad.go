package teleop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
)

// Linux joystick API (linux/joystick.h): struct js_event, 8 bytes.
const (
	jsEventSize   = 8
	jsEventButton = 0x01
	jsEventAxis   = 0x02
	jsEventInit   = 0x80 // or'ed in for the initial state
)

// jsEvent is one struct js_event.
type jsEvent struct {
	TimeMS uint32
	Value  int16
	Type   uint8
	Number uint8
}

func decodeJS(b []byte) jsEvent {
	return jsEvent{
		TimeMS: binary.LittleEndian.Uint32(b[0:4]),
		Value:  int16(binary.LittleEndian.Uint16(b[4:6])),
		Type:   b[6],
		Number: b[7],
	}
}

// HIL-SERL's gamepad layout (SO101.md §8; DirectInput-style indices,
// UNVERIFIED across controllers).
const (
	padAxisX          = 0 // dx = −axis 0
	padAxisY          = 1 // dy = +axis 1
	padAxisZ          = 3 // dz = −axis 3
	padRerecord       = 0 // X
	padFailure        = 1 // A
	padSuccess        = 3 // Y
	padIntervention   = 5 // RB, held
	padGripperClose   = 6 // LT, held
	padGripperOpen    = 7 // RT, held
	maxAxes, maxBtns  = 32, 32
	defaultDeadzone   = 0.1
	joystickFullScale = 32767
)

// GamepadConfig configures a joystick gamepad.
type GamepadConfig struct {
	// Deadzone zeroes stick values below it (LeRobot 0.1).
	Deadzone float64 `json:"deadzone"`
}

// DefaultGamepadConfig returns LeRobot's settings.
func DefaultGamepadConfig() GamepadConfig { return GamepadConfig{Deadzone: defaultDeadzone} }

// Validate reports every problem with its JSON path.
func (c GamepadConfig) Validate() error {
	if !(c.Deadzone >= 0 && c.Deadzone < 1) {
		return fmt.Errorf("gamepad config: deadzone: must be in [0, 1), got %g", c.Deadzone)
	}
	return nil
}

// Gamepad is a joystick read through the Linux joystick API
// (/dev/input/jsN) with HIL-SERL's bindings: left stick x/y, right stick
// vertical z, RB held = intervention, Y success, A failure, X re-record,
// LT/RT held close/open the gripper.
type Gamepad struct {
	cfg GamepadConfig
	r   io.ReadCloser
	q   *eventQueue

	mu      sync.Mutex
	axes    [maxAxes]float64
	buttons [maxBtns]bool
	err     error

	done chan struct{}
}

// OpenGamepad opens a joystick device such as /dev/input/js0.
func OpenGamepad(path string, cfg GamepadConfig) (*Gamepad, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gamepad %s: %w (is it plugged in? joysticks appear as /dev/input/js*)", path, err)
	}
	return NewGamepad(f, cfg)
}

// NewGamepad reads js_event records from r until Close.
func NewGamepad(r io.ReadCloser, cfg GamepadConfig) (*Gamepad, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gamepad{cfg: cfg, r: r, q: newEventQueue(), done: make(chan struct{})}
	go g.read()
	return g, nil
}

func (g *Gamepad) read() {
	defer close(g.done)
	var buf [jsEventSize]byte
	for {
		if _, err := io.ReadFull(g.r, buf[:]); err != nil {
			g.mu.Lock()
			g.err = err
			g.mu.Unlock()
			return
		}
		g.handle(decodeJS(buf[:]))
	}
}

// handle applies one event and emits the typed events it implies.
func (g *Gamepad) handle(ev jsEvent) {
	g.mu.Lock()
	defer g.mu.Unlock()
	init := ev.Type&jsEventInit != 0
	switch ev.Type &^ jsEventInit {
	case jsEventAxis:
		if int(ev.Number) < maxAxes {
			g.axes[ev.Number] = math.Max(-1, math.Min(1, float64(ev.Value)/joystickFullScale))
		}
	case jsEventButton:
		if int(ev.Number) >= maxBtns {
			return
		}
		pressed := ev.Value != 0
		was := g.buttons[ev.Number]
		g.buttons[ev.Number] = pressed
		if init || pressed == was {
			return
		}
		switch {
		case ev.Number == padIntervention && pressed:
			g.q.push(InterventionStart)
		case ev.Number == padIntervention:
			g.q.push(InterventionEnd)
		case ev.Number == padSuccess && pressed:
			g.q.push(Success)
		case ev.Number == padFailure && pressed:
			g.q.push(Failure)
		case ev.Number == padRerecord && pressed:
			g.q.push(Rerecord)
		}
	}
}

func (g *Gamepad) axis(i int) float64 {
	v := g.axes[i]
	if math.Abs(v) < g.cfg.Deadzone {
		return 0
	}
	return v
}

// Action returns the command the sticks and buttons give now.
func (g *Gamepad) Action() Action {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := Action{
		Delta:        [3]float64{-g.axis(padAxisX), g.axis(padAxisY), -g.axis(padAxisZ)},
		Gripper:      GripperStay,
		Intervention: g.buttons[padIntervention],
	}
	switch {
	case g.buttons[padGripperClose]:
		a.Gripper = GripperClose
	case g.buttons[padGripperOpen]:
		a.Gripper = GripperOpen
	}
	return a
}

// Events delivers the operator's signals.
func (g *Gamepad) Events() <-chan Event { return g.q.ch }

// Err is why reading stopped (nil while it runs).
func (g *Gamepad) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Close stops reading and waits for the reader.
func (g *Gamepad) Close() error {
	err := g.r.Close()
	<-g.done
	if errors.Is(err, os.ErrClosed) {
		err = nil
	}
	return err
}
