package so101

import (
	"context"
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"
	"time"

	ft "github.com/e2hil/e2hil/drivers/feetech"
	"github.com/e2hil/e2hil/drivers/feetech/emulator"
)

// program reads fuzz bytes as numbers; past the end it reads zeros.
type program struct{ b []byte }

func (p *program) u8() int {
	if len(p.b) == 0 {
		return 0
	}
	v := p.b[0]
	p.b = p.b[1:]
	return int(v)
}

func (p *program) u16() int {
	if len(p.b) < 2 {
		return p.u8()
	}
	v := binary.LittleEndian.Uint16(p.b)
	p.b = p.b[2:]
	return int(v)
}

func (p *program) done() bool { return len(p.b) == 0 }

// goal decodes one goal: mostly ordinary values around and beyond the
// motor's range, sometimes NaN, infinities or huge numbers.
func (p *program) goal() float64 {
	switch k := p.u8() % 10; k {
	case 7:
		return math.NaN()
	case 8:
		return math.Copysign(math.Inf(1), float64(p.u8())-127.5)
	case 9:
		return math.Copysign(1e300, float64(p.u8())-127.5)
	default:
		return (float64(p.u16()) - 32768) / 32768 * 300 // ±300: beyond ±100 and ±180°
	}
}

// FuzzSafety drives a calibrated follower over the pty emulator with
// random calibrations, joint bounds, max_relative_target, action
// sequences and emulator faults (silent servos, status errors, corrupt
// replies, pushes, power cycles). The emulator asserts the safety
// invariant on every Goal_Position write it receives: never outside the
// calibrated range intersected with the joint bounds.
func FuzzSafety(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 0x10, 0x02, 0x00, 0x04, 0xE8, 0x03})
	f.Add([]byte{7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
		0xFF, 0x00, 0x7F, 0x80, 0, 7, 8, 9, 1, 2, 3, 3, 4, 1, 1, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2, 200, 10, 100, 7, 80, 30, 250, 1, 0, 9, 0, 8, 1, 9, 255, 0, 7, 4, 3, 1, 5, 2, 0x20, 6, 1, 2, 0, 0, 7, 7, 7, 7, 7, 7, 0, 8, 8, 8, 8, 8, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &program{b: data}
		flags := p.u8()
		useDegrees := flags&1 != 0
		cal := Calibration{}
		for i, name := range MotorNames {
			m := 100 + p.u16()%1800
			M := min(m+50+p.u16()%2000, 4095)
			cal[name] = MotorCalibration{ID: i + 1, HomingOffset: p.u16()%4095 - 2047, RangeMin: m, RangeMax: M}
		}
		var bounds map[string]Bounds
		if flags&4 != 0 {
			bounds = map[string]Bounds{}
			for _, name := range MotorNames {
				if p.u8()%2 == 0 {
					continue
				}
				lo := (float64(p.u8()) - 128) * 1.5
				bounds[name] = Bounds{Min: lo, Max: lo + 1 + float64(p.u8())}
			}
		}
		dir := t.TempDir()
		cfg := DefaultFollowerConfig("")
		cfg.CalibrationDir, cfg.UseDegrees, cfg.JointBounds = dir, useDegrees, bounds
		cfg.TorqueOffOnSignal = false
		// Connect and the final flush run without faults: their deadlines
		// are generous so that a loaded machine (CI runs packages in
		// parallel, ffmpeg included) cannot fail them. In between, short
		// deadlines keep silent servos cheap; the retry logic itself is
		// tested elsewhere.
		const calm, busy = time.Second, 25 * time.Millisecond
		cfg.Bus.LatencyTimer = calm
		cfg.Bus.Retries = ft.Retries{Ping: 3, Read: 3, Write: 3, SyncRead: 2}
		if flags&2 != 0 {
			cfg.MaxRelativeTarget = MaxRelativeTarget{All: 1 + float64(p.u8()%50)}
		}
		if err := SaveCalibration(filepath.Join(dir, "None.json"), cal, MotorNames); err != nil {
			t.Fatal(err)
		}

		ecfg := emulator.Config{Clock: emulator.NewManualClock()}
		for _, id := range allIDs {
			ecfg.Servos = append(ecfg.Servos, emulator.ServoConfig{ID: id, Raw: p.u16() % 4096})
		}
		var violations []emulator.Violation
		ecfg.OnViolation = func(v emulator.Violation) { violations = append(violations, v) }
		emu, err := emulator.Open(ecfg)
		if err != nil {
			t.Fatal(err)
		}
		defer emu.Close()
		cfg.Port = emu.Path()

		op := &scriptedOperator{t: t, emu: emu, shown: make(chan struct{}, 1)} // ENTER: use the file
		fo, err := NewFollower(cfg, op)
		if err != nil {
			return // joint bounds outside the calibrated range: refused up front
		}
		// The invariant, computed independently of the driver: the
		// calibrated range ∩ the bounds converted to steps (rounded outward).
		for i, m := range motors(useDegrees) {
			c := cal[m.Name]
			lo, hi := c.RangeMin, c.RangeMax
			if b, ok := bounds[m.Name]; ok {
				conv := func(v float64) float64 {
					mm, MM := float64(c.RangeMin), float64(c.RangeMax)
					switch m.Mode {
					case Degrees:
						return v*4095/360 + (mm+MM)/2
					case Range0100:
						return math.Max(0, math.Min(100, v))/100*(MM-mm) + mm
					}
					return (math.Max(-100, math.Min(100, v))+100)/200*(MM-mm) + mm
				}
				lo = max(lo, int(math.Floor(conv(b.Min))))
				hi = min(hi, int(math.Ceil(conv(b.Max))))
			}
			emu.SetGoalLimits(allIDs[i], lo, hi)
		}
		ctx := context.Background()
		if err := fo.Connect(ctx); err != nil {
			t.Fatalf("connect before any fault: %v", err)
		}
		defer fo.Disconnect(ctx)
		if err := fo.arm.bus.SetLatencyTimer(busy); err != nil {
			t.Fatal(err)
		}

		for n := 0; n < 48 && !p.done(); n++ {
			id := allIDs[p.u8()%6]
			switch p.u8() % 12 {
			case 0, 1, 2, 3:
				goals := make([]float64, 6)
				for i := range goals {
					goals[i] = p.goal()
				}
				sent, err := fo.SendAction(ctx, goals)
				if err == nil {
					for i, v := range sent {
						if math.IsNaN(v) || math.IsInf(v, 0) {
							t.Fatalf("sent %v for goal %v (motor %s)", v, goals[i], MotorNames[i])
						}
					}
				}
			case 4:
				fo.ReadJoints(ctx)
			case 5:
				emu.Servo(id).SetSilent(p.u8()%2 == 0)
			case 6:
				emu.Servo(id).SetFault(byte(p.u8()) & 0x2F)
			case 7:
				emu.Servo(id).Corrupt(emulator.Corruption(1 + p.u8()%4))
			case 8:
				emu.Servo(id).SetPosition(p.u16())
			case 9:
				emu.Servo(id).PowerCycle()
			case 10:
				ecfg.Clock.(*emulator.ManualClock).Advance(time.Duration(p.u8()) * 10 * time.Millisecond)
			case 11:
				for _, id := range allIDs {
					emu.Servo(id).ClearFaults()
				}
			}
		}
		// Let the emulator handle everything sent (it answers in order).
		for _, id := range allIDs {
			emu.Servo(id).ClearFaults()
		}
		if err := fo.arm.bus.SetLatencyTimer(calm); err != nil {
			t.Fatal(err)
		}
		if _, err := fo.arm.bus.Ping(ctx, 1, ft.WithRetries(3)); err != nil {
			t.Fatalf("flush: %v", err)
		}
		if v := emu.Violations(); len(v) > 0 || len(violations) > 0 {
			t.Fatalf("unsafe Goal_Position writes: %v", v)
		}
	})
}
