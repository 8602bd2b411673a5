package teleop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"sync"
)

// Linux evdev (linux/input.h): struct input_event on 64-bit Linux is a
// 16-byte timeval, then type, code (u16) and value (s32).
const (
	inputEventSize = 24
	evKey          = 0x01
	keyRelease     = 0
	keyPress       = 1
	keyRepeat      = 2
)

// Linux key codes used by HIL-SERL's bindings.
const (
	KeyEsc        uint16 = 1
	KeyR          uint16 = 19
	KeyI          uint16 = 23
	KeyS          uint16 = 31
	KeyF          uint16 = 33
	KeyLeftCtrl   uint16 = 29
	KeyLeftShift  uint16 = 42
	KeyRightShift uint16 = 54
	KeySpace      uint16 = 57
	KeyRightCtrl  uint16 = 97
	KeyUp         uint16 = 103
	KeyLeft       uint16 = 105
	KeyRight      uint16 = 106
	KeyDown       uint16 = 108
)

type inputEvent struct {
	Type, Code uint16
	Value      int32
}

func decodeInput(b []byte) inputEvent {
	return inputEvent{
		Type:  binary.LittleEndian.Uint16(b[16:18]),
		Code:  binary.LittleEndian.Uint16(b[18:20]),
		Value: int32(binary.LittleEndian.Uint32(b[20:24])),
	}
}

// Binding is what one key does.
type Binding struct {
	// Axis (0 x, 1 y, 2 z) and Sign move the end effector while the key is
	// held; Sign 0 means no movement.
	Axis, Sign int
	// Gripper, when ≥ 0, is the command while the key is held.
	Gripper float64
	// Toggle flips intervention on each press.
	Toggle bool
	// Event is sent on each press (0: none).
	Event EventKind
}

func move(axis, sign int) Binding { return Binding{Axis: axis, Sign: sign, Gripper: -1} }
func grip(cmd float64) Binding    { return Binding{Gripper: cmd} }
func signal(k EventKind) Binding  { return Binding{Gripper: -1, Event: k} }
func toggleIntervention() Binding { return Binding{Gripper: -1, Toggle: true} }

// KeyboardEEBindings are the fork's keyboard_ee keys (SO101.md §8): arrows
// x/y (↑ dy −1, ↓ dy +1, ← dx +1, → dx −1), Shift dz −1, right Shift dz +1,
// right Ctrl open, left Ctrl close, i toggles intervention, s success,
// f failure, r re-record.
func KeyboardEEBindings() map[uint16]Binding {
	return map[uint16]Binding{
		KeyUp: move(1, -1), KeyDown: move(1, +1), KeyLeft: move(0, +1), KeyRight: move(0, -1),
		KeyLeftShift: move(2, -1), KeyRightShift: move(2, +1),
		KeyRightCtrl: grip(GripperOpen), KeyLeftCtrl: grip(GripperClose),
		KeyI: toggleIntervention(), KeyS: signal(Success), KeyF: signal(Failure), KeyR: signal(Rerecord),
	}
}

// LeaderBindings are the keys of HIL-SERL's leader-arm mode (SO101.md §8):
// space toggles intervention, s success, Esc ends the episode (failure),
// ← re-records.
func LeaderBindings() map[uint16]Binding {
	return map[uint16]Binding{
		KeySpace: toggleIntervention(), KeyS: signal(Success), KeyEsc: signal(Failure), KeyLeft: signal(Rerecord),
	}
}

// Keyboard reads key events from a Linux evdev device
// (/dev/input/eventN; it needs no display, unlike pynput). A movement key
// counts while held, and a tap between two steps counts for the next step.
type Keyboard struct {
	bind map[uint16]Binding
	r    io.ReadCloser
	q    *eventQueue

	mu          sync.Mutex
	held        map[uint16]bool
	tapped      map[uint16]bool
	intervening bool
	err         error

	done chan struct{}
}

// OpenKeyboard opens an evdev keyboard such as /dev/input/event3.
func OpenKeyboard(path string, bind map[uint16]Binding) (*Keyboard, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyboard %s: %w (keyboards are /dev/input/event*; reading them needs the input group)", path, err)
	}
	return NewKeyboard(f, bind), nil
}

// NewKeyboard reads input_event records from r until Close.
func NewKeyboard(r io.ReadCloser, bind map[uint16]Binding) *Keyboard {
	k := &Keyboard{bind: bind, r: r, q: newEventQueue(), held: map[uint16]bool{}, tapped: map[uint16]bool{}, done: make(chan struct{})}
	go k.read()
	return k
}

func (k *Keyboard) read() {
	defer close(k.done)
	var buf [inputEventSize]byte
	for {
		if _, err := io.ReadFull(k.r, buf[:]); err != nil {
			k.mu.Lock()
			k.err = err
			k.mu.Unlock()
			return
		}
		k.handle(decodeInput(buf[:]))
	}
}

func (k *Keyboard) handle(ev inputEvent) {
	if ev.Type != evKey {
		return
	}
	b, ok := k.bind[ev.Code]
	if !ok {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch ev.Value {
	case keyPress:
		if k.held[ev.Code] {
			return // a press without release: treat as repeat
		}
		k.held[ev.Code] = true
		k.tapped[ev.Code] = true
		if b.Toggle {
			k.intervening = !k.intervening
			if k.intervening {
				k.q.push(InterventionStart)
			} else {
				k.q.push(InterventionEnd)
			}
		}
		if b.Event != 0 {
			k.q.push(b.Event)
		}
	case keyRelease:
		k.held[ev.Code] = false
	}
}

// Intervening reports the intervention toggle.
func (k *Keyboard) Intervening() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.intervening
}

// Action returns the command for this step and clears the taps.
func (k *Keyboard) Action() Action {
	k.mu.Lock()
	defer k.mu.Unlock()
	a := Action{Gripper: GripperStay, Intervention: k.intervening}
	for _, code := range slices.Sorted(maps.Keys(k.bind)) {
		b := k.bind[code]
		if !k.held[code] && !k.tapped[code] {
			continue
		}
		if b.Sign != 0 {
			a.Delta[b.Axis] += float64(b.Sign)
		}
		if b.Gripper >= 0 {
			a.Gripper = b.Gripper
		}
	}
	for i := range a.Delta {
		a.Delta[i] = math.Max(-1, math.Min(1, a.Delta[i]))
	}
	clear(k.tapped)
	return a
}

// Events delivers the operator's signals.
func (k *Keyboard) Events() <-chan Event { return k.q.ch }

// Err is why reading stopped (nil while it runs).
func (k *Keyboard) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// Close stops reading and waits for the reader.
func (k *Keyboard) Close() error {
	err := k.r.Close()
	<-k.done
	if errors.Is(err, os.ErrClosed) {
		err = nil
	}
	return err
}
