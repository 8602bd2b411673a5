package so101

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	ft "github.com/e2hil/e2hil/drivers/feetech"
	"github.com/e2hil/e2hil/drivers/feetech/emulator"
)

// ErrNotConnected: the arm's bus is not open.
var ErrNotConnected = errors.New("not connected")

// Registers values the configure step writes (§3).
const (
	positionP = 16
	positionI = 0
	positionD = 32
	// disconnectRetries is LeRobot's num_retry for disable_torque on
	// disconnect.
	disconnectRetries = 5
	// rangeRetries is LeRobot's num_retry for the range-recording reads.
	rangeRetries = 5
)

// arm is what the follower and the leader share: the bus, the motors, the
// cached calibration, and the safety clamp's ranges.
type arm struct {
	robotType string // so101_follower, so101_follower_end_effector, so101_leader
	id        string
	port      string
	calPath   string
	motors    []Motor
	ids       []byte
	bounds    map[string]Bounds
	busCfg    ft.Config
	onSignal  bool
	op        Operator

	bus *ft.Bus

	mu      sync.Mutex
	cal     Calibration // the file's values (LeRobot normalises with these)
	allowed []goalRange // nil while uncalibrated
	stopped bool

	stopSignals func()
	// signalled, when set (tests), is called after a signal's torque-off.
	signalled func(os.Signal, error)
}

func newArm(robotType, kind, port, id, calDir string, ms []Motor, bounds map[string]Bounds, busCfg ft.Config, onSignal bool, op Operator) (*arm, error) {
	path, err := CalibrationPath(calDir, kind, robotType, id)
	if err != nil {
		return nil, err
	}
	// LeRobot creates the directory and loads an existing file at
	// construction (§5.2).
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return nil, fmt.Errorf("%s: calibration directory: %w", robotType, err)
	}
	a := &arm{
		robotType: robotType, id: id, port: port, calPath: path, motors: ms,
		bounds: bounds, busCfg: busCfg, onSignal: onSignal, op: op,
	}
	for _, m := range ms {
		a.ids = append(a.ids, m.ID)
	}
	a.busCfg.Names = map[byte]string{}
	for _, m := range ms {
		a.busCfg.Names[m.ID] = m.Name
	}
	if _, err := os.Stat(path); err == nil {
		cal, err := LoadCalibration(path)
		if err != nil {
			return nil, err
		}
		if err := a.setCalibration(cal); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", robotType, path, err)
		}
	}
	return a, nil
}

func dirOf(path string) string {
	i := strings.LastIndexByte(path, os.PathSeparator)
	if i <= 0 {
		return "."
	}
	return path[:i]
}

func (a *arm) String() string {
	id := a.id
	if id == "" {
		id = "None"
	}
	return fmt.Sprintf("%s (id %s)", a.robotType, id)
}

// setCalibration caches cal and recomputes the safety ranges.
func (a *arm) setCalibration(cal Calibration) error {
	var allowed []goalRange
	if cal != nil {
		var err error
		if allowed, err = allowedRanges(a.motors, cal, a.bounds); err != nil {
			return err
		}
	}
	a.mu.Lock()
	a.cal, a.allowed = cal, allowed
	a.mu.Unlock()
	return nil
}

func (a *arm) calibration() Calibration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cal
}

// openPort opens the serial device, or the emulator an emu:// port names.
func openPort(port string, baud int) (ft.Port, error) {
	if emulator.IsURL(port) {
		p, _, err := emulator.OpenURL(port, baud)
		return p, err
	}
	if _, err := os.Stat(port); err != nil {
		return nil, fmt.Errorf("serial port %s: %w (is the arm's USB adapter plugged in? `ls /dev/ttyACM* /dev/ttyUSB*` lists candidates)", port, err)
	}
	return ft.OpenSerial(port, baud)
}

// connect opens the bus, checks the motors (§3), checks the calibration
// against the motors when checkCal, and configures the arm.
func (a *arm) connect(ctx context.Context, checkCal bool, configure func(context.Context) error) (err error) {
	if a.bus != nil {
		return fmt.Errorf("%s: already connected", a)
	}
	port, err := openPort(a.port, a.busCfg.Baud)
	if err != nil {
		return fmt.Errorf("connect %s: %w", a, err)
	}
	bus, err := ft.NewBus(port, a.busCfg)
	if err != nil {
		port.Close()
		return fmt.Errorf("connect %s: %w", a, err)
	}
	a.bus = bus
	a.mu.Lock()
	a.stopped = false
	a.mu.Unlock()
	defer func() {
		if err != nil {
			bus.Close()
			a.bus = nil
			err = fmt.Errorf("connect %s on %s: %w", a, a.port, err)
		}
	}()
	if err := a.handshake(ctx); err != nil {
		return err
	}
	if checkCal {
		ok, err := a.isCalibrated(ctx)
		if err != nil {
			return err
		}
		if !ok {
			if a.op == nil {
				return fmt.Errorf("%w: the motors disagree with %s or it does not exist; run `e2hil calibrate --robot.type %s --robot.port %s`",
					ErrNotCalibrated, a.calPath, a.robotType, a.port)
			}
			a.op.Say("Mismatch between calibration values in the motor and the calibration file or no calibration file found")
			if err := a.calibrate(ctx); err != nil {
				return err
			}
		}
	}
	if err := configure(ctx); err != nil {
		return err
	}
	if a.onSignal {
		a.stopSignals = a.watchSignals()
	}
	return nil
}

// handshake pings every motor and checks models and firmware (§3).
func (a *arm) handshake(ctx context.Context) error {
	found := map[byte]uint16{}
	var missing []string
	var wrong []string
	for _, m := range a.motors {
		model, err := a.bus.Ping(ctx, m.ID)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			missing = append(missing, fmt.Sprintf("%d (%s: %v)", m.ID, m.Name, errors.Unwrap(err)))
			continue
		}
		found[m.ID] = model
		if model != ft.ModelSTS3215 {
			wrong = append(wrong, fmt.Sprintf("%d (%s) is model %d", m.ID, m.Name, model))
		}
	}
	if len(missing) > 0 || len(wrong) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing motor IDs: "+strings.Join(missing, ", "))
		}
		if len(wrong) > 0 {
			parts = append(parts, "motors with an incorrect model: "+strings.Join(wrong, ", "))
		}
		parts = append(parts, fmt.Sprintf("expected ids 1–%d all sts3215 (%d), found %v", len(a.motors), ft.ModelSTS3215, found))
		return errors.New(strings.Join(parts, "; "))
	}
	versions := map[string][]string{}
	for _, m := range a.motors {
		major, err := a.bus.Read(ctx, m.ID, ft.FirmwareMajorVersion)
		if err != nil {
			return err
		}
		minor, err := a.bus.Read(ctx, m.ID, ft.FirmwareMinorVersion)
		if err != nil {
			return err
		}
		v := fmt.Sprintf("%d.%d", major, minor)
		versions[v] = append(versions[v], m.Name)
	}
	if len(versions) > 1 {
		var parts []string
		for _, v := range sortedKeys(versions) {
			parts = append(parts, fmt.Sprintf("%s: %s", v, strings.Join(versions[v], ", ")))
		}
		return fmt.Errorf("some motors use different firmware versions (%s); update them all to the same version", strings.Join(parts, "; "))
	}
	return nil
}

// readCalibration reads Min/Max_Position_Limit and Homing_Offset from every
// motor (LeRobot read_calibration).
func (a *arm) readCalibration(ctx context.Context) (Calibration, error) {
	cal := Calibration{}
	for _, m := range a.motors {
		lo, err := a.bus.Read(ctx, m.ID, ft.MinPositionLimit)
		if err != nil {
			return nil, err
		}
		hi, err := a.bus.Read(ctx, m.ID, ft.MaxPositionLimit)
		if err != nil {
			return nil, err
		}
		off, err := a.bus.Read(ctx, m.ID, ft.HomingOffset)
		if err != nil {
			return nil, err
		}
		cal[m.Name] = MotorCalibration{ID: int(m.ID), HomingOffset: off, RangeMin: lo, RangeMax: hi}
	}
	return cal, nil
}

// isCalibrated compares the motors' registers with the cached file values
// (drive_mode is not compared, as in LeRobot).
func (a *arm) isCalibrated(ctx context.Context) (bool, error) {
	onMotors, err := a.readCalibration(ctx)
	if err != nil {
		return false, err
	}
	cached := a.calibration()
	if len(cached) != len(onMotors) {
		return false, nil
	}
	for name, m := range onMotors {
		c, ok := cached[name]
		if !ok || c.RangeMin != m.RangeMin || c.RangeMax != m.RangeMax || c.HomingOffset != m.HomingOffset {
			return false, nil
		}
	}
	return true, nil
}

// writeCalibration writes Homing_Offset and the position limits of every
// motor and caches cal (LeRobot write_calibration).
func (a *arm) writeCalibration(ctx context.Context, cal Calibration) error {
	for _, m := range a.motors {
		c, ok := cal[m.Name]
		if !ok {
			return fmt.Errorf("write calibration: motor %q: %w: missing from the calibration", m.Name, ErrNotCalibrated)
		}
		for _, w := range []struct {
			reg ft.Register
			v   int
		}{{ft.HomingOffset, c.HomingOffset}, {ft.MinPositionLimit, c.RangeMin}, {ft.MaxPositionLimit, c.RangeMax}} {
			if err := a.bus.Write(ctx, m.ID, w.reg, w.v); err != nil {
				return fmt.Errorf("write calibration: %w", err)
			}
		}
	}
	return a.setCalibration(cal)
}

// writeAll writes one register value to every motor, one WRITE each.
func (a *arm) writeAll(ctx context.Context, reg ft.Register, v int, opts ...ft.CallOption) error {
	for _, m := range a.motors {
		if err := a.bus.Write(ctx, m.ID, reg, v, opts...); err != nil {
			return err
		}
	}
	return nil
}

// disableTorque is LeRobot's disable_torque: Torque_Enable=0 then Lock=0,
// per motor. It tries every motor even if one fails.
func (a *arm) disableTorque(ctx context.Context, retries int) error {
	var errs []error
	for _, m := range a.motors {
		if err := a.bus.Write(ctx, m.ID, ft.TorqueEnable, 0, ft.WithRetries(retries)); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := a.bus.Write(ctx, m.ID, ft.Lock, 0, ft.WithRetries(retries)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// enableTorque is LeRobot's enable_torque: Torque_Enable=1 then Lock=1.
func (a *arm) enableTorque(ctx context.Context) error {
	a.mu.Lock()
	stopped := a.stopped
	a.mu.Unlock()
	if stopped {
		return ErrStopped
	}
	for _, m := range a.motors {
		if err := a.bus.Write(ctx, m.ID, ft.TorqueEnable, 1); err != nil {
			return err
		}
		if err := a.bus.Write(ctx, m.ID, ft.Lock, 1); err != nil {
			return err
		}
	}
	return nil
}

// configureMotors is LeRobot's configure_motors (§3).
func (a *arm) configureMotors(ctx context.Context) error {
	for _, m := range a.motors {
		for _, w := range []struct {
			reg ft.Register
			v   int
		}{{ft.ReturnDelayTime, 0}, {ft.MaximumAcceleration, 254}, {ft.Acceleration, 254}} {
			if err := a.bus.Write(ctx, m.ID, w.reg, w.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// readRaw reads one register from every motor with one SYNC_READ.
func (a *arm) readRaw(ctx context.Context, reg ft.Register, opts ...ft.CallOption) ([]int, error) {
	if a.bus == nil {
		return nil, fmt.Errorf("%s: read %s: %w", a, reg.Name, ErrNotConnected)
	}
	return a.bus.SyncRead(ctx, reg, a.ids, opts...)
}

// readPositions is one observation: one SYNC_READ of Present_Position,
// normalised with the cached calibration.
func (a *arm) readPositions(ctx context.Context) ([]float64, error) {
	cal := a.calibration()
	if cal == nil {
		return nil, fmt.Errorf("%s: read positions: %w (run e2hil calibrate)", a, ErrNotCalibrated)
	}
	raw, err := a.readRaw(ctx, ft.PresentPosition)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(raw))
	for i, m := range a.motors {
		v, err := Normalize(raw[i], cal[m.Name], m.Mode)
		if err != nil {
			return nil, fmt.Errorf("motor %q: %w", m.Name, err)
		}
		out[i] = v
	}
	return out, nil
}

// disconnect stops the signal watcher, optionally disables torque (with
// LeRobot's 5 retries) and closes the bus, whatever fails.
func (a *arm) disconnect(ctx context.Context, torqueOff bool) error {
	if a.bus == nil {
		return nil
	}
	if a.stopSignals != nil {
		a.stopSignals()
		a.stopSignals = nil
	}
	var err error
	if torqueOff {
		err = a.disableTorque(ctx, disconnectRetries)
	}
	if cerr := a.bus.Close(); err == nil {
		err = cerr
	}
	a.bus = nil
	if err != nil {
		return fmt.Errorf("disconnect %s: %w", a, err)
	}
	return nil
}

// watchSignals disables torque on SIGINT or SIGTERM, then re-raises the
// signal so that the process ends as it would have (or goes on, if the
// program handles the signal itself). The returned func stops the watcher
// and waits for it.
func (a *arm) watchSignals() func() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case sig := <-ch:
			a.mu.Lock()
			a.stopped = true
			a.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := a.disableTorque(ctx, disconnectRetries)
			cancel()
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: disabling torque on %v: %v\n", a, sig, err)
			}
			signal.Stop(ch)
			if a.signalled != nil {
				a.signalled(sig, err)
			}
			if s, ok := sig.(syscall.Signal); ok {
				_ = syscall.Kill(os.Getpid(), s)
			}
		case <-done:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			<-finished
		})
	}
}

// calibrate is LeRobot's calibration procedure (§5.1), the same for the
// SO-101 follower and leader (no full-turn exception on the SO-101).
func (a *arm) calibrate(ctx context.Context) error {
	if a.bus == nil {
		return fmt.Errorf("calibrate %s: %w", a, ErrNotConnected)
	}
	op := a.op
	if op == nil {
		return fmt.Errorf("calibrate %s: no operator to answer the prompts", a)
	}
	id := a.id
	if id == "" {
		id = "None"
	}
	if a.calibration() != nil {
		ans, err := op.Prompt(ctx, fmt.Sprintf("Press ENTER to use provided calibration file associated with the id %s, or type 'c' and press ENTER to run calibration: ", id))
		if err != nil {
			return err
		}
		if strings.ToLower(strings.TrimSpace(ans)) != "c" {
			op.Say(fmt.Sprintf("Writing calibration file associated with the id %s to the motors", id))
			return a.writeCalibration(ctx, a.calibration())
		}
	}
	op.Say(fmt.Sprintf("Running calibration of %s", a))
	if err := a.disableTorque(ctx, 0); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	if err := a.writeAll(ctx, ft.OperatingMode, ft.ModePosition); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	if _, err := op.Prompt(ctx, fmt.Sprintf("Move %s to the middle of its range of motion and press ENTER....", a)); err != nil {
		return err
	}
	offsets, err := a.setHalfTurnHomings(ctx)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	op.Say("Move all joints sequentially through their entire ranges of motion.\nRecording positions. Press ENTER to stop...")
	mins, maxes, err := a.recordRanges(ctx, op)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	cal := Calibration{}
	for i, m := range a.motors {
		cal[m.Name] = MotorCalibration{ID: int(m.ID), HomingOffset: offsets[i], RangeMin: mins[i], RangeMax: maxes[i]}
	}
	if err := a.writeCalibration(ctx, cal); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	if err := SaveCalibration(a.calPath, cal, MotorNames); err != nil {
		return fmt.Errorf("calibrate: save: %w", err)
	}
	op.Say("Calibration saved to " + a.calPath)
	return nil
}

// setHalfTurnHomings resets the calibration registers, reads the raw
// positions and writes offsets that make each read 2047 (§5.1 step 4).
func (a *arm) setHalfTurnHomings(ctx context.Context) ([]int, error) {
	for _, m := range a.motors {
		for _, w := range []struct {
			reg ft.Register
			v   int
		}{{ft.HomingOffset, 0}, {ft.MinPositionLimit, 0}, {ft.MaxPositionLimit, maxRes}} {
			if err := a.bus.Write(ctx, m.ID, w.reg, w.v); err != nil {
				return nil, err
			}
		}
	}
	if err := a.setCalibration(nil); err != nil { // the cache is cleared
		return nil, err
	}
	pos, err := a.readRaw(ctx, ft.PresentPosition)
	if err != nil {
		return nil, err
	}
	offsets := make([]int, len(pos))
	for i, m := range a.motors {
		// Present = Actual − Homing_Offset (§2.1).
		offsets[i] = pos[i] - maxRes/2
		if err := a.bus.Write(ctx, m.ID, ft.HomingOffset, offsets[i]); err != nil {
			return nil, fmt.Errorf("motor %q at raw position %d: homing offset %d: %w (move the joint away from the end of its turn)",
				m.Name, pos[i], offsets[i], err)
		}
	}
	return offsets, nil
}

// RangeRow is one line of the live table shown while recording ranges.
type RangeRow struct {
	Motor         string
	Min, Pos, Max int
}

// recordRanges reads positions until the operator presses ENTER, keeping
// each motor's min and max (LeRobot record_ranges_of_motion).
func (a *arm) recordRanges(ctx context.Context, op Operator) (mins, maxes []int, err error) {
	start, err := a.readRaw(ctx, ft.PresentPosition, ft.WithRetries(rangeRetries))
	if err != nil {
		return nil, nil, err
	}
	mins = append([]int(nil), start...)
	maxes = append([]int(nil), start...)

	// The operator's ENTER is awaited in a goroutine owned here: it is
	// cancelled and waited for on every way out.
	askCtx, cancel := context.WithCancel(ctx)
	answered := make(chan error, 1)
	go func() {
		_, err := op.Prompt(askCtx, "")
		answered <- err
	}()
	waiting := true
	defer func() {
		cancel()
		if waiting {
			<-answered
		}
	}()

	tick := time.NewTicker(20 * time.Millisecond) // LeRobot's throttle
	defer tick.Stop()
	show := func(pos []int) {
		rows := make([]RangeRow, len(a.motors))
		for i, m := range a.motors {
			rows[i] = RangeRow{Motor: m.Name, Min: mins[i], Pos: pos[i], Max: maxes[i]}
		}
		op.ShowRanges(rows)
	}
	show(start)
	for {
		pos, err := a.readRaw(ctx, ft.PresentPosition, ft.WithRetries(rangeRetries))
		if err != nil {
			return nil, nil, err
		}
		changed := false
		for i := range pos {
			if pos[i] < mins[i] {
				mins[i], changed = pos[i], true
			}
			if pos[i] > maxes[i] {
				maxes[i], changed = pos[i], true
			}
		}
		if changed {
			show(pos)
		}
		select {
		case err := <-answered:
			waiting = false
			if err != nil {
				return nil, nil, err
			}
			var same []string
			for i, m := range a.motors {
				if mins[i] == maxes[i] {
					same = append(same, m.Name)
				}
			}
			if len(same) > 0 {
				sort.Strings(same)
				return nil, nil, fmt.Errorf("some motors have the same min and max values (they were not moved): %s", strings.Join(same, ", "))
			}
			return mins, maxes, nil
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-tick.C:
		}
	}
}
