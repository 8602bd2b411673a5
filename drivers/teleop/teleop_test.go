package teleop

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/e2hil/e2hil/drivers/kinematics"
)

func jsBytes(typ, num uint8, value int16) []byte {
	b := make([]byte, jsEventSize)
	binary.LittleEndian.PutUint32(b, 1234)
	binary.LittleEndian.PutUint16(b[4:], uint16(value))
	b[6], b[7] = typ, num
	return b
}

func keyBytes(typ, code uint16, value int32) []byte {
	b := make([]byte, inputEventSize)
	binary.LittleEndian.PutUint16(b[16:], typ)
	binary.LittleEndian.PutUint16(b[18:], code)
	binary.LittleEndian.PutUint32(b[20:], uint32(value))
	return b
}

// feed writes records to the device and then a marker record the device
// ignores: once the marker is consumed, everything before it is handled.
func feed(t *testing.T, w io.Writer, marker []byte, records ...[]byte) {
	t.Helper()
	for _, r := range append(records, marker) {
		if _, err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
}

func drain(ch <-chan Event) []EventKind {
	var out []EventKind
	for {
		select {
		case e := <-ch:
			out = append(out, e.Kind)
		default:
			return out
		}
	}
}

func eqKinds(a, b []EventKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGamepad(t *testing.T) {
	r, w := io.Pipe()
	g, err := NewGamepad(r, DefaultGamepadConfig())
	if err != nil {
		t.Fatal(err)
	}
	marker := jsBytes(jsEventAxis, 30, 0)
	steps := []struct {
		name    string
		in      [][]byte
		want    Action
		events  []EventKind
		delta01 bool // compare deltas to 0.01
	}{
		{"initial state is not an event", [][]byte{jsBytes(jsEventButton|jsEventInit, padSuccess, 1), jsBytes(jsEventButton|jsEventInit, padSuccess, 0)},
			Action{Gripper: GripperStay}, nil, false},
		{"sticks", [][]byte{jsBytes(jsEventAxis, 0, 16384), jsBytes(jsEventAxis, 1, -32767), jsBytes(jsEventAxis, 3, -32768)},
			Action{Delta: [3]float64{-0.5, -1, 1}, Gripper: GripperStay}, nil, true},
		{"deadzone", [][]byte{jsBytes(jsEventAxis, 0, 3000), jsBytes(jsEventAxis, 1, 0), jsBytes(jsEventAxis, 3, -3000)},
			Action{Gripper: GripperStay}, nil, true},
		{"RB held intervenes, RT opens", [][]byte{jsBytes(jsEventButton, padIntervention, 1), jsBytes(jsEventButton, padGripperOpen, 1)},
			Action{Gripper: GripperOpen, Intervention: true}, []EventKind{InterventionStart}, false},
		{"LT closes", [][]byte{jsBytes(jsEventButton, padGripperOpen, 0), jsBytes(jsEventButton, padGripperClose, 1)},
			Action{Gripper: GripperClose, Intervention: true}, nil, false},
		{"release RB, success, failure, rerecord", [][]byte{jsBytes(jsEventButton, padGripperClose, 0), jsBytes(jsEventButton, padIntervention, 0),
			jsBytes(jsEventButton, padSuccess, 1), jsBytes(jsEventButton, padSuccess, 0), jsBytes(jsEventButton, padFailure, 1),
			jsBytes(jsEventButton, padRerecord, 1), jsBytes(jsEventButton, 31, 1)},
			Action{Gripper: GripperStay}, []EventKind{InterventionEnd, Success, Failure, Rerecord}, false},
	}
	for _, s := range steps {
		feed(t, w, marker, s.in...)
		got := g.Action()
		for i := range got.Delta {
			if math.Abs(got.Delta[i]-s.want.Delta[i]) > 0.01 {
				t.Errorf("%s: delta %v, want %v", s.name, got.Delta, s.want.Delta)
			}
		}
		if got.Gripper != s.want.Gripper || got.Intervention != s.want.Intervention {
			t.Errorf("%s: %+v, want %+v", s.name, got, s.want)
		}
		if ev := drain(g.Events()); !eqKinds(ev, s.events) {
			t.Errorf("%s: events %v, want %v", s.name, ev, s.events)
		}
	}
	w.Close()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Err(); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Err after the device went away: %v", err)
	}
	if _, err := OpenGamepad("/dev/input/js_absent", DefaultGamepadConfig()); err == nil || !strings.Contains(err.Error(), "js_absent") {
		t.Errorf("missing device: %v", err)
	}
	if _, err := NewGamepad(io.NopCloser(strings.NewReader("")), GamepadConfig{Deadzone: 1}); err == nil {
		t.Error("deadzone 1 accepted")
	}
}

func TestKeyboardEE(t *testing.T) {
	r, w := io.Pipe()
	k := NewKeyboard(r, KeyboardEEBindings())
	defer k.Close()
	marker := keyBytes(0, 0, 0) // EV_SYN
	press := func(c uint16) []byte { return keyBytes(evKey, c, keyPress) }
	release := func(c uint16) []byte { return keyBytes(evKey, c, keyRelease) }
	steps := []struct {
		name   string
		in     [][]byte
		want   Action
		events []EventKind
	}{
		{"nothing", nil, Action{Gripper: GripperStay}, nil},
		{"up and left held", [][]byte{press(KeyUp), press(KeyLeft)}, Action{Delta: [3]float64{1, -1, 0}, Gripper: GripperStay}, nil},
		{"still held", [][]byte{keyBytes(evKey, KeyUp, keyRepeat)}, Action{Delta: [3]float64{1, -1, 0}, Gripper: GripperStay}, nil},
		{"a tap counts once", [][]byte{release(KeyUp), release(KeyLeft), press(KeyRightShift), release(KeyRightShift)},
			Action{Delta: [3]float64{0, 0, 1}, Gripper: GripperStay}, nil},
		{"tap cleared", nil, Action{Gripper: GripperStay}, nil},
		{"opposite keys cancel, ctrl_l closes", [][]byte{press(KeyDown), press(KeyUp), press(KeyLeftCtrl)},
			Action{Gripper: GripperClose}, nil},
		{"i toggles intervention, s f r", [][]byte{release(KeyDown), release(KeyUp), release(KeyLeftCtrl), press(KeyI), release(KeyI),
			press(KeyS), release(KeyS), press(KeyF), press(KeyR)},
			Action{Gripper: GripperStay, Intervention: true}, []EventKind{InterventionStart, Success, Failure, Rerecord}},
		{"i again", [][]byte{press(KeyI)}, Action{Gripper: GripperStay}, []EventKind{InterventionEnd}},
	}
	for _, s := range steps {
		feed(t, w, marker, s.in...)
		got := k.Action()
		if got != s.want {
			t.Errorf("%s: %+v, want %+v", s.name, got, s.want)
		}
		if ev := drain(k.Events()); !eqKinds(ev, s.events) {
			t.Errorf("%s: events %v, want %v", s.name, ev, s.events)
		}
	}
	w.Close()
}

// fakeLeader is an in-memory leader arm.
type fakeLeader struct {
	joints  []float64
	torque  []bool
	written [][]float64
}

func (f *fakeLeader) ReadJoints(context.Context) ([]float64, error) {
	return append([]float64(nil), f.joints...), nil
}
func (f *fakeLeader) SetTorque(_ context.Context, on bool) error {
	f.torque = append(f.torque, on)
	return nil
}
func (f *fakeLeader) WriteJoints(_ context.Context, g []float64) error {
	f.written = append(f.written, append([]float64(nil), g...))
	return nil
}

func TestLeader(t *testing.T) {
	ctx := context.Background()
	r, w := io.Pipe()
	keys := NewKeyboard(r, LeaderBindings())
	defer keys.Close()
	arm := &fakeLeader{}
	steps := kinematics.Vec3{0.01, 0.01, 0.01}
	l, err := NewLeader(arm, keys, steps)
	if err != nil {
		t.Fatal(err)
	}
	follower := []float64{0, -20, 20, 90, 0, 30}
	a, err := l.Step(ctx, follower)
	if err != nil {
		t.Fatal(err)
	}
	if a.Intervention || len(arm.torque) != 1 || !arm.torque[0] || len(arm.written) != 1 || arm.written[0][3] != 90 {
		t.Fatalf("tracking step: %+v, torque %v, written %v", a, arm.torque, arm.written)
	}
	feed(t, w, keyBytes(0, 0, 0), keyBytes(evKey, KeySpace, keyPress), keyBytes(evKey, KeySpace, keyRelease))
	if ev := drain(l.Events()); !eqKinds(ev, []EventKind{InterventionStart}) {
		t.Fatalf("events %v", ev)
	}
	chain := kinematics.SO101()
	tip := func(deg []float64) kinematics.Vec3 {
		q := make([]float64, 5)
		for i := range q {
			q[i] = kinematics.Deg2Rad(deg[i])
		}
		tr, _ := chain.FK(q)
		return tr.P
	}
	for _, tt := range []struct {
		name   string
		leader []float64
	}{
		{"small pan", []float64{1, -20, 20, 90, 0, 30}},
		{"large lift", []float64{0, -5, 20, 90, 0, 30}},
	} {
		arm.joints = tt.leader
		a, err := l.Step(ctx, follower)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Intervention || a.Gripper != GripperStay || arm.torque[len(arm.torque)-1] {
			t.Fatalf("%s: %+v torque %v", tt.name, a, arm.torque)
		}
		d := tip(tt.leader).Sub(tip(follower))
		for i := range 3 {
			want := math.Max(-1, math.Min(1, d[i]/steps[i]))
			if math.Abs(a.Delta[i]-want) > 1e-9 || math.Abs(a.Delta[i]) > 1 {
				t.Errorf("%s: delta[%d] %v, want %v", tt.name, i, a.Delta[i], want)
			}
		}
	}
	if len(arm.written) != 1 {
		t.Errorf("the leader was driven while the human held it: %v", arm.written)
	}
	if _, err := NewLeader(arm, keys, kinematics.Vec3{0, 1, 1}); err == nil {
		t.Error("zero step size accepted")
	}
}

// FuzzJoystick: any js_event stream keeps the action in range.
func FuzzJoystick(f *testing.F) {
	f.Add(append(jsBytes(jsEventAxis, 0, -32768), jsBytes(jsEventButton, 5, 1)...))
	f.Add(append(jsBytes(jsEventButton|jsEventInit, 7, 1), jsBytes(jsEventAxis, 200, 5)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		g := &Gamepad{cfg: DefaultGamepadConfig(), q: newEventQueue()}
		for len(b) >= jsEventSize {
			g.handle(decodeJS(b[:jsEventSize]))
			b = b[jsEventSize:]
			checkAction(t, g.Action())
		}
	})
}

// FuzzKeyboard: any input_event stream keeps the action in range.
func FuzzKeyboard(f *testing.F) {
	f.Add(append(keyBytes(evKey, KeyUp, 1), keyBytes(evKey, KeyRightCtrl, 1)...))
	f.Add(append(keyBytes(evKey, KeyI, 1), keyBytes(evKey, KeyI, 0)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, bind := range []map[uint16]Binding{KeyboardEEBindings(), LeaderBindings()} {
			k := &Keyboard{bind: bind, q: newEventQueue(), held: map[uint16]bool{}, tapped: map[uint16]bool{}}
			for rest := b; len(rest) >= inputEventSize; rest = rest[inputEventSize:] {
				k.handle(decodeInput(rest[:inputEventSize]))
				checkAction(t, k.Action())
			}
		}
	})
}

func checkAction(t *testing.T, a Action) {
	for _, d := range a.Delta {
		if !(d >= -1 && d <= 1) {
			t.Fatalf("delta %v out of [-1, 1]", a.Delta)
		}
	}
	if a.Gripper != GripperClose && a.Gripper != GripperStay && a.Gripper != GripperOpen {
		t.Fatalf("gripper %v", a.Gripper)
	}
}
