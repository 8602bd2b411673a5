package so101

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ft "github.com/e2hil/e2hil/drivers/feetech"
	"github.com/e2hil/e2hil/drivers/feetech/emulator"
)

var allIDs = []byte{1, 2, 3, 4, 5, 6}

// Where the scripted operator puts the joints: the middle pose, then each
// joint's extremes, in raw steps.
var (
	midRaw = []int{2100, 1900, 2200, 2000, 2047, 2300}
	loRaw  = []int{1300, 1200, 1300, 1400, 600, 1800}
	hiRaw  = []int{2900, 2700, 3100, 2600, 3500, 3300}
)

// wantCalibration is what calibrating with those poses must produce:
// offset = mid − 2047, range = extremes in the offset frame (§5.1).
func wantCalibration() Calibration {
	cal := Calibration{}
	for i, name := range MotorNames {
		off := midRaw[i] - 2047
		cal[name] = MotorCalibration{ID: i + 1, HomingOffset: off, RangeMin: loRaw[i] - off, RangeMax: hiRaw[i] - off}
	}
	return cal
}

// startEmulator serves six servos on a pty with a manual clock (joints move
// only when a test says so).
func startEmulator(t testing.TB) (*emulator.Emulator, *emulator.ManualClock) {
	t.Helper()
	clk := emulator.NewManualClock()
	cfg := emulator.Config{Clock: clk}
	for _, id := range allIDs {
		cfg.Servos = append(cfg.Servos, emulator.ServoConfig{ID: id, Raw: 2048})
	}
	emu, err := emulator.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu, clk
}

func testFollowerConfig(port, dir string, useDegrees bool) FollowerConfig {
	c := DefaultFollowerConfig(port)
	c.CalibrationDir = dir
	c.ID = "test_arm"
	c.UseDegrees = useDegrees
	c.TorqueOffOnSignal = false // TestSignalDisablesTorque turns it on
	c.Bus.LatencyTimer = testLatency
	return c
}

// testLatency is the packet deadline's constant term in these tests: LeRobot's
// 50 ms is too short for the emulator's goroutine on a loaded CI machine
// (go test runs packages in parallel, ffmpeg included); timeouts themselves
// are tested with silent servos, which then cost a little longer.
const testLatency = 300 * time.Millisecond

// scriptedOperator is the person at the arm: it answers the prompts and
// moves the emulated joints like a hand would.
type scriptedOperator struct {
	t   testing.TB
	emu *emulator.Emulator
	// useFile answers the "use provided calibration file" prompt.
	useFile string

	mu      sync.Mutex
	rows    []RangeRow
	shown   chan struct{}
	said    []string
	prompts []string
	// presentAtMid records Present_Position right after homing.
	onRecord func()
}

func newOperator(t testing.TB, emu *emulator.Emulator) *scriptedOperator {
	return &scriptedOperator{t: t, emu: emu, shown: make(chan struct{}, 1)}
}

func (o *scriptedOperator) Say(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.said = append(o.said, msg)
}

func (o *scriptedOperator) ShowRanges(rows []RangeRow) {
	o.mu.Lock()
	o.rows = append([]RangeRow(nil), rows...)
	o.mu.Unlock()
	select {
	case o.shown <- struct{}{}:
	default:
	}
}

func (o *scriptedOperator) move(raw []int) {
	for i, id := range allIDs {
		o.emu.Servo(id).SetPosition(raw[i])
	}
}

// waitRows waits until the live table satisfies ok.
func (o *scriptedOperator) waitRows(ctx context.Context, ok func([]RangeRow) bool) error {
	for {
		o.mu.Lock()
		rows := o.rows
		o.mu.Unlock()
		if rows != nil && ok(rows) {
			return nil
		}
		select {
		case <-o.shown:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (o *scriptedOperator) Prompt(ctx context.Context, msg string) (string, error) {
	o.mu.Lock()
	o.prompts = append(o.prompts, msg)
	o.mu.Unlock()
	switch {
	case strings.Contains(msg, "Press ENTER to use provided calibration file"):
		return o.useFile, nil
	case strings.Contains(msg, "to the middle of its range of motion"):
		o.move(midRaw)
		return "", nil
	case msg == "": // recording ranges: sweep each joint to both ends
		if o.onRecord != nil {
			o.onRecord()
		}
		cal := wantCalibration()
		o.move(loRaw)
		if err := o.waitRows(ctx, func(rows []RangeRow) bool {
			for _, r := range rows {
				if r.Min > cal[r.Motor].RangeMin {
					return false
				}
			}
			return true
		}); err != nil {
			return "", err
		}
		o.move(hiRaw)
		if err := o.waitRows(ctx, func(rows []RangeRow) bool {
			for _, r := range rows {
				if r.Max < cal[r.Motor].RangeMax {
					return false
				}
			}
			return true
		}); err != nil {
			return "", err
		}
		o.move(midRaw)
		return "", nil
	}
	o.t.Errorf("unexpected prompt %q", msg)
	return "", errors.New("unexpected prompt")
}

// flush waits until the emulator has handled everything sent so far:
// SYNC_WRITE has no reply, and the emulator answers in order.
func flush(t testing.TB, a *arm) {
	t.Helper()
	if _, err := a.bus.Ping(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
}

// calibrated returns a follower calibrated through the procedure with the
// scripted operator, connected and configured.
func calibrated(t *testing.T, useDegrees bool) (*Follower, *emulator.Emulator, *emulator.ManualClock) {
	t.Helper()
	emu, clk := startEmulator(t)
	op := newOperator(t, emu)
	f, err := NewFollower(testFollowerConfig(emu.Path(), t.TempDir(), useDegrees), op)
	if err != nil {
		t.Fatal(err)
	}
	// No file yet: Connect runs the calibration, then configures (torque on).
	if err := f.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Disconnect(context.Background()) })
	return f, emu, clk
}

// TestCalibrationWrittenAndReloaded runs LeRobot's procedure against the
// emulator, checks the file, the registers and the 2047 homing (§9.7),
// then reloads the file in a new follower, including after a power cycle
// and on fresh servos ("use the provided file").
func TestCalibrationWrittenAndReloaded(t *testing.T) {
	ctx := context.Background()
	emu, _ := startEmulator(t)
	dir := t.TempDir()
	op := newOperator(t, emu)
	var atMid []int
	op.onRecord = func() {
		for _, id := range allIDs {
			atMid = append(atMid, emu.Servo(id).Register(ft.PresentPosition))
		}
	}
	cfg := testFollowerConfig(emu.Path(), dir, false)
	f, err := NewFollower(cfg, op)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Connect(ctx); err != nil { // no file: the mismatch runs the calibration
		t.Fatal(err)
	}
	for i, p := range atMid {
		if p != 2047 {
			t.Errorf("id %d reads %d after half-turn homing, want 2047", i+1, p)
		}
	}
	want := wantCalibration()
	got, err := LoadCalibration(f.CalibrationPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(f.CalibrationPath(), "/test_arm.json") {
		t.Errorf("calibration path %s", f.CalibrationPath())
	}
	for _, name := range MotorNames {
		if got[name] != want[name] {
			t.Errorf("%s: file has %+v, want %+v", name, got[name], want[name])
		}
	}
	for i, id := range allIDs {
		s, w := emu.Servo(id), want[MotorNames[i]]
		if s.Register(ft.HomingOffset) != w.HomingOffset || s.Register(ft.MinPositionLimit) != w.RangeMin || s.Register(ft.MaxPositionLimit) != w.RangeMax {
			t.Errorf("id %d registers: offset %d limits [%d, %d], want %+v", id, s.Register(ft.HomingOffset),
				s.Register(ft.MinPositionLimit), s.Register(ft.MaxPositionLimit), w)
		}
		if s.Register(ft.TorqueEnable) != 1 {
			t.Errorf("id %d: torque off after connect", id)
		}
	}
	if !strings.Contains(strings.Join(op.said, "\n"), "Calibration saved to "+f.CalibrationPath()) {
		t.Errorf("operator was told %q", op.said)
	}
	if err := f.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}

	// A new follower loads the file; the motors agree, so no operator is
	// needed, also after a power cycle (the writes ran with Lock = 0).
	for _, id := range allIDs {
		emu.Servo(id).PowerCycle()
	}
	g, err := NewFollower(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Connect(ctx); err != nil {
		t.Fatalf("reconnect with the saved calibration: %v", err)
	}
	if g.Calibration()["elbow_flex"] != want["elbow_flex"] {
		t.Errorf("reloaded %+v", g.Calibration()["elbow_flex"])
	}
	g.Disconnect(ctx)

	// Fresh servos disagree with the file: without an operator that is
	// ErrNotCalibrated; with one, ENTER writes the file to the motors.
	emu2, _ := startEmulator(t)
	cfg2 := cfg
	cfg2.Port = emu2.Path()
	h, err := NewFollower(cfg2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx); !errors.Is(err, ErrNotCalibrated) || !strings.Contains(err.Error(), "e2hil calibrate") {
		t.Fatalf("connect to uncalibrated servos: %v", err)
	}
	op2 := newOperator(t, emu2)
	h, err = NewFollower(cfg2, op2)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Disconnect(ctx)
	if len(op2.prompts) != 1 || !strings.Contains(op2.prompts[0], "id test_arm") {
		t.Errorf("prompts %q, want only the use-the-file question", op2.prompts)
	}
	if got := emu2.Servo(3).Register(ft.HomingOffset); got != want["elbow_flex"].HomingOffset {
		t.Errorf("file not written to the motors: offset %d", got)
	}
}

// TestReadWriteNormalisations reads and writes positions in each
// normalisation mode: the body in −100…100 or degrees, the gripper 0…100.
func TestReadWriteNormalisations(t *testing.T) {
	for _, tt := range []struct {
		name       string
		useDegrees bool
		body       NormMode
	}{{"range_m100_100", false, RangeM100100}, {"degrees", true, Degrees}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f, emu, clk := calibrated(t, tt.useDegrees)
			want := wantCalibration()
			if got := f.Modes(); got[0] != tt.body || got[5] != Range0100 {
				t.Fatalf("modes %v", got)
			}
			// Independent formulas (§6) for the expected values.
			norm := func(name string, present int) float64 {
				c := want[name]
				m, M := float64(c.RangeMin), float64(c.RangeMax)
				b := math.Min(M, math.Max(m, float64(present)))
				switch {
				case name == "gripper":
					return (b - m) / (M - m) * 100
				case tt.useDegrees:
					return (float64(present) - (m+M)/2) * 360 / 4095
				}
				return (b-m)/(M-m)*200 - 100
			}
			raws := []int{1500, 2500, 3000, 1450, 700, 3300}
			for i, id := range allIDs {
				emu.Servo(id).SetPosition(raws[i])
			}
			got, err := f.ReadJoints(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, name := range MotorNames {
				present := raws[i] - want[name].HomingOffset
				if w := norm(name, present); math.Abs(got[i]-w) > 1e-9 {
					t.Errorf("%s at present %d reads %v, want %v", name, present, got[i], w)
				}
			}

			var goals []float64
			var wantRaw []int
			goals = []float64{10, -20.5, 0, 33.3, -90, 40} // −90 is within both wrist_roll ranges
			for i, name := range MotorNames {
				c := want[name]
				m, M := float64(c.RangeMin), float64(c.RangeMax)
				var f float64
				switch {
				case name == "gripper":
					f = goals[i]/100*(M-m) + m
				case tt.useDegrees:
					f = goals[i]*4095/360 + (m+M)/2
				default:
					f = (goals[i]+100)/200*(M-m) + m
				}
				wantRaw = append(wantRaw, int(f))
			}
			sent, err := f.SendAction(ctx, goals)
			if err != nil {
				t.Fatal(err)
			}
			flush(t, f.arm)
			for i, id := range allIDs {
				if g := emu.Servo(id).Register(ft.GoalPosition); g != wantRaw[i] {
					t.Errorf("%s: Goal_Position %d, want %d", MotorNames[i], g, wantRaw[i])
				}
				if math.Abs(sent[i]-goals[i]) > 0.2 {
					t.Errorf("%s: sent %v for goal %v", MotorNames[i], sent[i], goals[i])
				}
			}
			// The servos get there and the follower reads it back.
			clk.Advance(5 * time.Second)
			back, err := f.ReadJoints(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i := range back {
				if math.Abs(back[i]-goals[i]) > 0.2 {
					t.Errorf("%s: reached %v, want %v", MotorNames[i], back[i], goals[i])
				}
			}
		})
	}
}

// TestOneSyncReadPerObservation counts the packets one observation costs.
func TestOneSyncReadPerObservation(t *testing.T) {
	f, emu, _ := calibrated(t, true)
	emu.ResetLog()
	for i := 0; i < 3; i++ {
		if _, err := f.ReadJoints(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	reqs := emu.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d packets for 3 observations: %+v", len(reqs), reqs)
	}
	for _, r := range reqs {
		if r.Instr != ft.InstrSyncRead || r.Addr != int(ft.PresentPosition.Addr) || r.Len != 2 || string(r.IDs) != string(allIDs) {
			t.Fatalf("observation sent %+v, want one SYNC_READ of Present_Position for ids 1–6", r)
		}
	}
	// An action without max_relative_target is one SYNC_WRITE, nothing else.
	emu.ResetLog()
	if err := f.WriteJoints(context.Background(), []float64{0, 0, 0, 0, 0, 50}); err != nil {
		t.Fatal(err)
	}
	flush(t, f.arm) // PING + READ of the model
	if reqs := emu.Requests(); len(reqs) != 3 || reqs[0].Instr != ft.InstrSyncWrite || reqs[0].Addr != int(ft.GoalPosition.Addr) {
		t.Fatalf("action sent %+v", reqs)
	}
}

// TestSilentServo: a servo that stops answering gives a timeout error
// naming the motor.
func TestSilentServo(t *testing.T) {
	f, emu, _ := calibrated(t, false)
	emu.Servo(4).SetSilent(true)
	_, err := f.ReadJoints(context.Background())
	if !errors.Is(err, ft.ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	for _, want := range []string{`motor "wrist_flex" (id 4)`, "Present_Position", "no status packet"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestMaxRelativeTarget(t *testing.T) {
	ctx := context.Background()
	f, emu, _ := calibrated(t, true)
	f.cfg.MaxRelativeTarget = MaxRelativeTarget{All: 5}
	present, err := f.ReadJoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	goals := []float64{present[0] + 50, present[1] - 50, present[2] + 2, present[3], present[4] - 7, present[5] + 30}
	sent, err := f.SendAction(ctx, goals)
	if err != nil {
		t.Fatal(err)
	}
	wantSent := []float64{present[0] + 5, present[1] - 5, present[2] + 2, present[3], present[4] - 5, present[5] + 5}
	for i := range sent {
		// Steps are 360/4095° (and 100/range % for the gripper): allow one.
		if math.Abs(sent[i]-wantSent[i]) > 0.1 {
			t.Errorf("%s: sent %v, want %v", MotorNames[i], sent[i], wantSent[i])
		}
	}
	if n := emu.Count(ft.InstrSyncRead); n < 2 {
		t.Errorf("max_relative_target must read the present position first")
	}
}

// TestSafetyClamp: goals beyond the calibrated range or the joint bounds
// are clamped; non-finite goals write nothing.
func TestSafetyClamp(t *testing.T) {
	ctx := context.Background()
	f, emu, _ := calibrated(t, true)
	want := wantCalibration()
	if err := f.arm.setCalibration(want); err != nil { // unchanged; bounds below
		t.Fatal(err)
	}
	f.arm.bounds = map[string]Bounds{"shoulder_pan": {Min: -30, Max: 20}}
	if err := f.arm.setCalibration(want); err != nil {
		t.Fatal(err)
	}
	sent, err := f.SendAction(ctx, []float64{90, 1e9, -1e9, math.MaxFloat64, -400, 250})
	if err != nil {
		t.Fatal(err)
	}
	flush(t, f.arm)
	pan := want["shoulder_pan"]
	mid := float64(pan.RangeMin+pan.RangeMax) / 2
	wantRaw := []int{int(math.Floor(20*4095/360 + mid)), want["shoulder_lift"].RangeMax, want["elbow_flex"].RangeMin,
		want["wrist_flex"].RangeMax, want["wrist_roll"].RangeMin, want["gripper"].RangeMax}
	for i, id := range allIDs {
		if g := emu.Servo(id).Register(ft.GoalPosition); g != wantRaw[i] {
			t.Errorf("%s: Goal_Position %d, want %d", MotorNames[i], g, wantRaw[i])
		}
	}
	if sent[0] > 20 || sent[5] != 100 {
		t.Errorf("sent %v", sent)
	}
	emu.ResetLog()
	for _, bad := range [][]float64{{math.NaN(), 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, math.Inf(1)}, {0, 0}} {
		if _, err := f.SendAction(ctx, bad); !errors.Is(err, ErrInvalidGoal) {
			t.Errorf("SendAction(%v): %v, want ErrInvalidGoal", bad, err)
		}
	}
	flush(t, f.arm)
	if n := emu.Count(ft.InstrSyncWrite); n != 0 {
		t.Errorf("%d SYNC_WRITEs for invalid goals", n)
	}
	if len(emu.Violations()) != 0 {
		t.Errorf("violations %v", emu.Violations())
	}
}

func TestDisconnectDisablesTorque(t *testing.T) {
	f, emu, _ := calibrated(t, false)
	if err := f.Disconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range allIDs {
		if emu.Servo(id).Register(ft.TorqueEnable) != 0 || emu.Servo(id).Register(ft.Lock) != 0 {
			t.Errorf("id %d: torque %d lock %d after disconnect", id, emu.Servo(id).Register(ft.TorqueEnable), emu.Servo(id).Register(ft.Lock))
		}
	}
	if _, err := f.ReadJoints(context.Background()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("read after disconnect: %v", err)
	}
}

// TestSignalDisablesTorque sends this process SIGINT while connected.
func TestSignalDisablesTorque(t *testing.T) {
	ctx := context.Background()
	emu, _ := startEmulator(t)
	cfg := testFollowerConfig(emu.Path(), t.TempDir(), true)
	cfg.TorqueOffOnSignal = true
	f, err := NewFollower(cfg, newOperator(t, emu))
	if err != nil {
		t.Fatal(err)
	}
	// The test process keeps its own handler so the re-raised signal does
	// not end it.
	keep := make(chan os.Signal, 4)
	signalNotify(keep)
	defer signalStop(keep)
	done := make(chan error, 1)
	f.arm.signalled = func(_ os.Signal, err error) { done <- err }
	if err := f.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer f.Disconnect(ctx)
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no torque-off after SIGINT")
	}
	// Our SIGINT and the watcher's re-raised one both reach keep: wait for
	// the second before keep stops, or it would end the test process.
	for n := 0; n < 2; n++ {
		select {
		case <-keep:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of 2 SIGINTs seen (the watcher re-raises the signal)", n)
		}
	}
	for _, id := range allIDs {
		if emu.Servo(id).Register(ft.TorqueEnable) != 0 {
			t.Errorf("id %d: torque still on", id)
		}
	}
	if err := f.WriteJoints(ctx, make([]float64, 6)); !errors.Is(err, ErrStopped) {
		t.Errorf("goal after the signal: %v, want ErrStopped", err)
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := context.Background()
	mk := func(servos []emulator.ServoConfig) string {
		emu, err := emulator.Open(emulator.Config{Servos: servos})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { emu.Close() })
		return emu.Path()
	}
	five := func() []emulator.ServoConfig {
		var s []emulator.ServoConfig
		for id := byte(1); id <= 6; id++ {
			s = append(s, emulator.ServoConfig{ID: id, Raw: 2000})
		}
		return s
	}
	missing := five()[:5]
	wrongModel := five()
	wrongModel[2].Model = 1234
	firmware := five()
	firmware[4].Firmware = [2]byte{3, 9}
	tests := []struct {
		name string
		port string
		want []string
	}{
		{"missing motor", mk(missing), []string{"missing motor IDs: 6 (gripper", "no status packet"}},
		{"wrong model", mk(wrongModel), []string{"incorrect model: 3 (elbow_flex) is model 1234"}},
		{"firmware", mk(firmware), []string{"different firmware versions", "3.9: wrist_roll"}},
		{"no port", "/dev/ttyACM_absent", []string{"/dev/ttyACM_absent", "no such file", "plugged in"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFollower(testFollowerConfig(tt.port, t.TempDir(), false), nil)
			if err != nil {
				t.Fatal(err)
			}
			err = f.ConnectWithoutCalibration(ctx)
			if err == nil {
				t.Fatal("connected")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLeader(t *testing.T) {
	ctx := context.Background()
	emu, clk := startEmulator(t)
	cfg := DefaultLeaderConfig(emu.Path())
	cfg.Bus.LatencyTimer = testLatency
	cfg.CalibrationDir = t.TempDir()
	cfg.UseDegrees = true
	cfg.TorqueOffOnSignal = false
	l, err := NewLeader(cfg, newOperator(t, emu))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(l.CalibrationPath(), "/None.json") {
		t.Errorf("path %s", l.CalibrationPath())
	}
	if err := l.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect(ctx)
	for _, id := range allIDs {
		if emu.Servo(id).Register(ft.TorqueEnable) != 0 {
			t.Fatalf("leader torque on after connect")
		}
	}
	emu.Servo(1).SetPosition(midRaw[0] + 100) // a person moves the pan joint
	got, err := l.ReadJoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := wantCalibration()["shoulder_pan"]
	if want := (float64(2047+100) - float64(c.RangeMin+c.RangeMax)/2) * 360 / 4095; math.Abs(got[0]-want) > 1e-9 {
		t.Errorf("pan %v, want %v", got[0], want)
	}
	if err := l.SetTorque(ctx, true); err != nil {
		t.Fatal(err)
	}
	if emu.Servo(1).Register(ft.TorqueEnable) != 1 || emu.Servo(1).Register(ft.DCoefficient) != 16 {
		t.Fatal("SetTorque(true) did not enable torque with D=16")
	}
	if err := l.WriteJoints(ctx, []float64{0, 0, 0, 0, 0, 50}); err != nil {
		t.Fatal(err)
	}
	flush(t, l.arm)
	clk.Advance(5 * time.Second)
	got, _ = l.ReadJoints(ctx)
	if math.Abs(got[0]) > 0.1 || math.Abs(got[5]-50) > 0.1 {
		t.Errorf("tracking goals reached %v", got)
	}
	if err := l.SetTorque(ctx, false); err != nil {
		t.Fatal(err)
	}
	if emu.Servo(1).Register(ft.TorqueEnable) != 0 {
		t.Error("torque still on")
	}
}

// BenchmarkReadJoints is one follower observation (one SYNC_READ of six
// servos over the pty emulator, normalised).
func BenchmarkReadJoints(b *testing.B) {
	emu, _ := startEmulator(b)
	dir := b.TempDir()
	if err := SaveCalibration(dir+"/None.json", wantCalibration(), MotorNames); err != nil {
		b.Fatal(err)
	}
	cfg := testFollowerConfig(emu.Path(), dir, true)
	cfg.ID = ""
	f, err := NewFollower(cfg, newOperator(b, emu)) // ENTER: write the file to the motors
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := f.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	defer f.Disconnect(ctx)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.ReadJoints(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
