package emulator

import (
	"encoding/binary"
	"math"
	"time"

	ft "github.com/e2hil/e2hil/drivers/feetech"
)

const (
	memSize    = 256 // the image answers READs anywhere in 0–255
	eepromEnd  = 40  // 0–39 is EEPROM (§2)
	stepsTurn  = 4096
	maxSubstep = time.Millisecond
	// settleAfter: beyond this much simulated time in one go a servo has
	// certainly arrived, so it jumps instead of integrating.
	settleAfter = 10 * time.Second
)

// servo is one STS3215: its memory image, its flash copy of the EEPROM and
// the simulated shaft.
type servo struct {
	mem   [memSize]byte
	flash [eepromEnd]byte

	// raw is the shaft angle in steps, [0, 4096). vel is the signed speed in
	// steps/s in the offset frame.
	raw float64
	vel float64

	// Faults.
	silent  bool
	errBits byte
	corrupt []Corruption

	// pending is a REG_WRITE (addr, data…) awaiting ACTION.
	pending []byte

	// index orders the servo on the bus (it staggers the hand's periods).
	index int
	// The hand holds the joint from handT0 on, moving it around handC.
	handC  float64
	handT0 time.Time
}

func (s *servo) id() byte { return s.mem[ft.ID.Addr] }

func (s *servo) u8(r ft.Register) int { return int(s.mem[r.Addr]) }

func (s *servo) u16(r ft.Register) int {
	return int(binary.LittleEndian.Uint16(s.mem[r.Addr:]))
}

func (s *servo) reg(r ft.Register) int {
	if r.Size == 1 {
		return r.Decode(s.mem[r.Addr : r.Addr+1])
	}
	return r.Decode(s.mem[r.Addr : r.Addr+2])
}

func (s *servo) put(r ft.Register, v int) {
	b, err := r.Encode(v)
	if err != nil {
		// Only emulator-internal values come here; clamp rather than fail.
		b, _ = r.Encode(0)
	}
	copy(s.mem[r.Addr:], b)
}

// powerUp sets the factory image (§9.3). Values the spec does not give are
// plausible constants, marked [I].
func powerUpImage(sc ServoConfig) [memSize]byte {
	var s servo
	s.put(ft.FirmwareMajorVersion, int(sc.Firmware[0]))
	s.put(ft.FirmwareMinorVersion, int(sc.Firmware[1]))
	s.put(ft.ModelNumber, int(sc.Model))
	s.put(ft.ID, int(sc.ID))
	s.put(ft.BaudRate, 0)
	s.put(ft.ReturnDelayTime, 250)
	s.put(ft.ResponseStatusLevel, 1)
	s.put(ft.MinPositionLimit, 0)
	s.put(ft.MaxPositionLimit, 4095)
	s.put(ft.MaxTemperatureLimit, 70)
	s.put(ft.MaxVoltageLimit, 140) // [I] 14.0 V
	s.put(ft.MinVoltageLimit, 40)  // [I] 4.0 V
	s.put(ft.MaxTorqueLimit, 1000)
	s.put(ft.PCoefficient, 32)
	s.put(ft.DCoefficient, 32)
	s.put(ft.ICoefficient, 0)
	s.put(ft.AngularResolution, 1) // [I]
	s.put(ft.HomingOffset, 0)
	s.put(ft.OperatingMode, ft.ModePosition)
	s.put(ft.MaximumVelocityLimit, 254) // [I]
	s.put(ft.MaximumAcceleration, 254)  // [I]
	return s.mem
}

func newServo(sc ServoConfig) *servo {
	if sc.Model == 0 {
		sc.Model = ft.ModelSTS3215
	}
	s := &servo{mem: powerUpImage(sc), raw: float64(mod(sc.Raw, stepsTurn))}
	copy(s.flash[:], s.mem[:eepromEnd])
	s.resetRAM()
	return s
}

// resetRAM is the RAM half of a power-up: torque off, Lock 1, Torque_Limit
// from Max_Torque_Limit, Goal_Position = Present_Position (UNVERIFIED).
func (s *servo) resetRAM() {
	for a := eepromEnd; a < memSize; a++ {
		if a < int(ft.MovingVelocity.Addr) {
			s.mem[a] = 0
		}
	}
	s.vel = 0
	s.pending = nil
	s.put(ft.Lock, 1)
	s.put(ft.TorqueLimit, s.u16(ft.MaxTorqueLimit))
	s.put(ft.GoalPosition, s.present())
	s.refresh()
}

// powerCycle reloads EEPROM from flash and resets RAM (§9.4).
func (s *servo) powerCycle(now time.Time) {
	copy(s.mem[:eepromEnd], s.flash[:])
	s.resetRAM()
	s.releaseHand(now)
}

// answersAll: Response_Status_Level 1 answers every instruction addressed
// to the servo; 0 only READ and PING (§1.4).
func (s *servo) answersAll() bool { return s.u8(ft.ResponseStatusLevel) != 0 }

// readMem returns n bytes of the image from addr; beyond the image it
// reads zeros. n is bounded by what one status packet can carry.
func (s *servo) readMem(addr, n int) []byte {
	n = min(n, ft.MaxPacketLen-6)
	out := make([]byte, n)
	if addr < memSize {
		copy(out, s.mem[addr:])
	}
	return out
}

// Read-only ranges: the firmware and model bytes, and the present-state
// block 56–71 (writes there are answered but ignored, §9.3, UNVERIFIED).
func writable(a int) bool {
	switch {
	case a <= int(ft.ModelNumber.Addr)+1:
		return false
	case a >= int(ft.PresentPosition.Addr) && a <= int(ft.GoalPosition2.Addr)+1:
		return false
	}
	return a < memSize
}

// write applies data at addr (§9.3–9.4) and reports whether it touched
// Goal_Position.
func (s *servo) write(addr int, data []byte, now time.Time) (touchesGoal bool) {
	wasOn := s.torqueOn()
	lockOpen := s.u8(ft.Lock) == 0
	for i, b := range data {
		a := addr + i
		if !writable(a) {
			continue
		}
		s.mem[a] = b
		if a < eepromEnd && lockOpen {
			// EEPROM persists only while Lock = 0 (§2.2).
			s.flash[a] = b
		}
		if a == int(ft.GoalPosition.Addr) || a == int(ft.GoalPosition.Addr)+1 {
			touchesGoal = true
		}
	}
	if addr <= int(ft.TorqueEnable.Addr) && int(ft.TorqueEnable.Addr) < addr+len(data) {
		switch v := s.u8(ft.TorqueEnable); {
		case v == 128:
			// [V] re-centre: the present position becomes 2048.
			s.put(ft.HomingOffset, max(min(int(math.Round(s.raw))-2048, 2047), -2047))
			s.put(ft.TorqueEnable, b2i(wasOn))
		case v == 1 && !wasOn:
			// [I] torque on holds the joint where it is.
			s.put(ft.GoalPosition, s.present())
			s.vel = 0
		case v != 1 && wasOn:
			s.vel = 0
			s.releaseHand(now)
		}
	}
	s.refresh()
	return touchesGoal
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// releaseHand: the hand takes the joint where it is now.
func (s *servo) releaseHand(now time.Time) {
	s.handC = s.raw
	s.handT0 = now
}

// handMove puts the shaft where the scripted hand has it at now.
func (s *servo) handMove(now time.Time, h *Hand) {
	period := h.Period.Seconds() * (1 + 0.17*float64(s.index))
	phase := 2 * math.Pi * now.Sub(s.handT0).Seconds() / period
	s.raw = fmod(s.handC+h.Amplitude*math.Sin(phase), stepsTurn)
}

func (s *servo) offset() int { return s.reg(ft.HomingOffset) }

// present is Present_Position = (raw − offset) mod 4096 (§2.1, inferred).
func (s *servo) present() int {
	return mod(int(math.Round(s.raw))-s.offset(), stepsTurn)
}

// presentF is the same in float, for the motion model.
func (s *servo) presentF() float64 {
	return fmod(s.raw-float64(s.offset()), stepsTurn)
}

func (s *servo) setPresentF(p float64) {
	s.raw = fmod(p+float64(s.offset()), stepsTurn)
}

func (s *servo) torqueOn() bool { return s.u8(ft.TorqueEnable) == 1 }

// target is the position the controller drives to, in the offset frame:
// Goal clamped to the limits when Max > Min (§9.5), and to one turn.
func (s *servo) target() int {
	goal := ft.DecodeSignMagnitude(s.u16(ft.GoalPosition), 15)
	lo, hi := s.u16(ft.MinPositionLimit), s.u16(ft.MaxPositionLimit)
	if hi > lo {
		goal = min(max(goal, lo), hi)
	}
	return min(max(goal, 0), stepsTurn-1)
}

// step integrates dt of motion (§9.5): torque on and position mode move the
// shaft toward the target at most at the speed limit (Goal_Velocity or
// maxSpeed), ramping at Acceleration·100 steps/s² (0 = no ramp), and stop
// inside the dead zone.
func (s *servo) step(dt time.Duration, maxSpeed float64) {
	if !s.torqueOn() || s.u8(ft.OperatingMode) != ft.ModePosition {
		s.vel = 0
		return
	}
	tgt := float64(s.target())
	vmax := float64(abs(s.reg(ft.GoalVelocity)))
	if vmax == 0 {
		vmax = maxSpeed
	}
	acc := float64(s.u8(ft.Acceleration)) * 100
	p := s.presentF()
	if dt >= settleAfter {
		s.setPresentF(tgt)
		s.vel = 0
		return
	}
	for left := dt; left > 0; left -= maxSubstep {
		h := min(left, maxSubstep).Seconds()
		dist := tgt - p
		dz := float64(s.u8(ft.CCWDeadZone))
		if dist < 0 {
			dz = float64(s.u8(ft.CWDeadZone))
		}
		if math.Abs(dist) <= dz || math.Abs(dist) < 1e-9 {
			s.vel = 0
			break
		}
		want := math.Copysign(vmax, dist)
		if acc > 0 {
			// Brake in time: v² ≤ 2·a·d.
			want = math.Copysign(math.Min(vmax, math.Sqrt(2*acc*math.Abs(dist))), dist)
			dv := want - s.vel
			s.vel += math.Max(-acc*h, math.Min(acc*h, dv))
		} else {
			s.vel = want
		}
		move := s.vel * h
		if math.Abs(move) >= math.Abs(dist) && math.Signbit(move) == math.Signbit(dist) {
			p = tgt
			s.vel = 0
			break
		}
		p += move
	}
	s.setPresentF(p)
}

// refresh writes the simulated readings into the read-only RAM registers.
func (s *servo) refresh() {
	s.put(ft.PresentPosition, s.present())
	v := int(math.Round(s.vel))
	v = max(min(v, 1<<15-1), -(1<<15 - 1))
	s.put(ft.PresentVelocity, v)
	// A simple load/current model: proportional to speed while driven [I].
	load, current := 0, 0
	if s.torqueOn() {
		load = min(abs(v)/4, 1000)
		current = 5 + abs(v)/50
	}
	if v < 0 {
		load |= 1 << 10 // [V] bit 10 = direction
	}
	s.put(ft.PresentLoad, load)
	s.put(ft.PresentVoltage, 120)
	s.put(ft.PresentTemperature, 30)
	s.put(ft.StatusRegister, int(s.errBits))
	moving := 0
	if s.torqueOn() && (s.vel != 0 || s.present() != s.target() && !s.inDeadZone()) {
		moving = 1
	}
	s.put(ft.Moving, moving)
	s.put(ft.PresentCurrent, current)
	s.put(ft.GoalPosition2, s.target()) // UNVERIFIED register; mirrors the target
}

func (s *servo) inDeadZone() bool {
	d := s.target() - s.present()
	if d < 0 {
		return -d <= s.u8(ft.CWDeadZone)
	}
	return d <= s.u8(ft.CCWDeadZone)
}

func mod(a, m int) int {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}

func fmod(a, m float64) float64 {
	r := math.Mod(a, m)
	if r < 0 {
		r += m
	}
	if r >= m { // -tiny + m rounds to m
		r = 0
	}
	return r
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
