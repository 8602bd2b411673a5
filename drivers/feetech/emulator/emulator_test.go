package emulator

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	ft "github.com/e2hil/e2hil/drivers/feetech"
)

func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newEmu(t testing.TB, cfg Config) *Emulator {
	t.Helper()
	if cfg.Servos == nil {
		for id := byte(1); id <= 6; id++ {
			cfg.Servos = append(cfg.Servos, ServoConfig{ID: id, Raw: 2048})
		}
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// exchange feeds raw request bytes and returns the raw reply bytes.
func exchange(t testing.TB, e *Emulator, req []byte) []byte {
	t.Helper()
	rest, out := e.process(append([]byte(nil), req...), nil)
	if len(rest) != 0 {
		t.Fatalf("request % X left % X unconsumed", req, rest)
	}
	return out
}

// TestWorkedExchanges replays every §1.7 request and compares the reply
// bytes (§9.7).
func TestWorkedExchanges(t *testing.T) {
	e := newEmu(t, Config{})
	for i, raw := range []int{2047, 1800, 2300, 2100, 2047, 1500} {
		e.Servo(byte(i + 1)).SetPosition(raw)
	}
	tests := []struct{ name, req, reply string }{
		{"ping", "FF FF 01 02 01 FB", "FF FF 01 02 00 FC"},
		{"read model", "FF FF 01 04 02 03 02 F3", "FF FF 01 04 00 09 03 EE"},
		{"read firmware major", "FF FF 01 04 02 00 01 F7", "FF FF 01 03 00 03 F8"},
		{"read present position", "FF FF 01 04 02 38 02 BE", "FF FF 01 04 00 FF 07 F4"},
		{"sync read", "FF FF FE 0A 82 38 02 01 02 03 04 05 06 26",
			"FF FF 01 04 00 FF 07 F4 FF FF 02 04 00 08 07 EA FF FF 03 04 00 FC 08 F4 FF FF 04 04 00 34 08 BB FF FF 05 04 00 FF 07 F0 FF FF 06 04 00 DC 05 14"},
		{"sync write is silent", "FF FF FE 16 83 2A 02 01 00 08 02 6C 07 03 98 08 04 D0 07 05 00 08 06 40 06 E7", ""},
		{"torque enable", "FF FF 01 04 03 28 01 CE", "FF FF 01 02 00 FC"},
		{"lock 0", "FF FF 01 04 03 37 00 C0", "FF FF 01 02 00 FC"},
		{"homing offset", "FF FF 01 05 03 1F E8 0B E4", "FF FF 01 02 00 FC"},
		{"goal", "FF FF 01 05 03 2A 00 08 C4", "FF FF 01 02 00 FC"},
		{"broadcast ping", "FF FF FE 02 01 FE",
			"FF FF 01 02 00 FC FF FF 02 02 00 FB FF FF 03 02 00 FA FF FF 04 02 00 F9 FF FF 05 02 00 F8 FF FF 06 02 00 F7"},
		{"unknown id", "FF FF 09 02 01 F3", ""},
		{"bad checksum", "FF FF 01 02 01 FA", ""},
		{"unknown instruction", "FF FF 01 02 77 85", ""},
		{"read with wrong length", "FF FF 01 03 02 38 C1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, e, hx(t, tt.req))
			if want := hx(t, tt.reply); !bytes.Equal(got, want) {
				t.Fatalf("reply % X, want % X", got, want)
			}
		})
	}
	goals := []int{2048, 1900, 2200, 2000, 2048, 1600}
	for i, g := range goals {
		if got := e.Servo(byte(i + 1)).Register(ft.GoalPosition); got != g {
			t.Errorf("id %d Goal_Position %d, want %d", i+1, got, g)
		}
	}
	if got := e.Servo(1).Register(ft.HomingOffset); got != -1000 {
		t.Errorf("Homing_Offset %d, want -1000", got)
	}
}

// TestSplitAndConcatenatedInput: packets cut anywhere or glued together
// are answered the same (§9.1).
func TestSplitAndConcatenatedInput(t *testing.T) {
	e := newEmu(t, Config{})
	req := hx(t, "00 FF FF 01 02 01 FB FF FF 02 02 01 FA")
	var buf, out []byte
	for _, b := range req {
		buf = append(buf, b)
		buf, out = e.process(buf, out)
	}
	if want := hx(t, "FF FF 01 02 00 FC FF FF 02 02 00 FB"); !bytes.Equal(out, want) {
		t.Fatalf("byte-by-byte replies % X, want % X", out, want)
	}
}

func TestResponseStatusLevel(t *testing.T) {
	e := newEmu(t, Config{})
	write := func(id, addr byte, data ...byte) []byte {
		p, _ := ft.WritePacket(id, addr, data).MarshalBinary()
		return exchange(t, e, p)
	}
	if out := write(1, ft.ResponseStatusLevel.Addr, 0); len(out) == 0 {
		t.Fatal("the write setting level 0 is answered under level 1")
	}
	if out := write(1, ft.TorqueEnable.Addr, 1); len(out) != 0 {
		t.Fatalf("level 0 answered a WRITE: % X", out)
	}
	p, _ := ft.ReadPacket(1, ft.TorqueEnable.Addr, 1).MarshalBinary()
	if out := exchange(t, e, p); !bytes.Equal(out, hx(t, "FF FF 01 03 00 01 FA")) {
		t.Fatalf("level 0 must still answer READ: % X", out)
	}
}

func TestIDChangeAnswersFromOldID(t *testing.T) {
	e := newEmu(t, Config{Servos: []ServoConfig{{ID: 1, Raw: 100}}})
	p, _ := ft.WritePacket(1, ft.ID.Addr, []byte{7}).MarshalBinary()
	if out := exchange(t, e, p); !bytes.Equal(out, hx(t, "FF FF 01 02 00 FC")) {
		t.Fatalf("reply % X, want one from id 1", out)
	}
	if e.Servo(1) != nil || e.Servo(7) == nil {
		t.Fatal("the servo did not switch to id 7")
	}
}

// TestLockAndPowerCycle: EEPROM writes persist only while Lock = 0 (§2.2).
func TestLockAndPowerCycle(t *testing.T) {
	e := newEmu(t, Config{})
	write := func(id byte, r ft.Register, v int) {
		b, err := r.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := ft.WritePacket(id, r.Addr, b).MarshalBinary()
		exchange(t, e, p)
	}
	write(1, ft.HomingOffset, 300) // Lock = 1 at power-up: applied, not persisted
	write(2, ft.Lock, 0)
	write(2, ft.HomingOffset, -300) // persisted
	for id, want := range map[byte]int{1: 300, 2: -300} {
		if got := e.Servo(id).Register(ft.HomingOffset); got != want {
			t.Fatalf("id %d offset %d before power cycle, want %d", id, got, want)
		}
	}
	e.Servo(1).PowerCycle()
	e.Servo(2).PowerCycle()
	for id, want := range map[byte]int{1: 0, 2: -300} {
		if got := e.Servo(id).Register(ft.HomingOffset); got != want {
			t.Errorf("id %d offset %d after power cycle, want %d", id, got, want)
		}
	}
	if got := e.Servo(2).Register(ft.Lock); got != 1 {
		t.Errorf("Lock %d after power cycle, want 1", got)
	}
	// Writes to the present-state block are answered but ignored.
	write(3, ft.PresentPosition, 5)
	if got := e.Servo(3).Register(ft.PresentPosition); got != 2048 {
		t.Errorf("Present_Position %d after a write, want 2048", got)
	}
}

// TestMotion: torque on drives Present toward Goal clamped to the limits,
// at the speed limit; torque off leaves the joint to the hand.
func TestMotion(t *testing.T) {
	clk := NewManualClock()
	e := newEmu(t, Config{Clock: clk, MaxSpeed: 1000})
	s := e.Servo(1)
	write := func(r ft.Register, v int) {
		b, _ := r.Encode(v)
		p, _ := ft.WritePacket(1, r.Addr, b).MarshalBinary()
		exchange(t, e, p)
	}
	write(ft.MaxPositionLimit, 2500)
	write(ft.TorqueEnable, 1)
	if got := s.Register(ft.GoalPosition); got != 2048 {
		t.Fatalf("torque on set Goal %d, want to hold 2048", got)
	}
	write(ft.GoalPosition, 3000) // beyond Max_Position_Limit
	clk.Advance(100 * time.Millisecond)
	if got := s.Register(ft.PresentPosition); got < 2140 || got > 2160 {
		t.Fatalf("after 100 ms at 1000 steps/s: %d, want ≈ 2148", got)
	}
	if s.Register(ft.Moving) != 1 || s.Register(ft.PresentVelocity) != 1000 {
		t.Fatalf("Moving %d, velocity %d while travelling", s.Register(ft.Moving), s.Register(ft.PresentVelocity))
	}
	clk.Advance(time.Second)
	if got := s.Register(ft.PresentPosition); got != 2500 {
		t.Fatalf("settled at %d, want the limit 2500", got)
	}
	if s.Register(ft.Moving) != 0 {
		t.Fatal("still moving after arrival")
	}
	write(ft.GoalPosition, 1000)
	clk.Advance(50 * time.Millisecond)
	if v := s.Register(ft.PresentVelocity); v != -1000 {
		t.Fatalf("velocity %d moving down, want -1000 (sign-magnitude)", v)
	}
	write(ft.TorqueEnable, 0)
	p := s.Register(ft.PresentPosition)
	clk.Advance(time.Second)
	if got := s.Register(ft.PresentPosition); got != p {
		t.Fatalf("torque off but the joint moved from %d to %d", p, got)
	}
	s.SetPosition(4095 + 10) // wraps
	if got := s.Raw(); got != 9 {
		t.Fatalf("raw %d, want 9", got)
	}
}

func TestHand(t *testing.T) {
	clk := NewManualClock()
	e := newEmu(t, Config{Clock: clk, Hand: &Hand{Amplitude: 500, Period: time.Second}})
	s := e.Servo(1)
	lo, hi := 4096, 0
	for i := 0; i < 100; i++ {
		clk.Advance(10 * time.Millisecond)
		p := s.Register(ft.PresentPosition)
		lo, hi = min(lo, p), max(hi, p)
	}
	if lo > 1560 || hi < 2540 {
		t.Fatalf("hand swept [%d, %d], want about [1548, 2548]", lo, hi)
	}
}

func TestGoalViolations(t *testing.T) {
	var seen []Violation
	e := newEmu(t, Config{OnViolation: func(v Violation) { seen = append(seen, v) }})
	e.SetGoalLimits(2, 1000, 3000)
	p, _ := ft.WritePacket(2, ft.GoalPosition.Addr, []byte{0xB8, 0x0B}).MarshalBinary() // 3000: allowed
	exchange(t, e, p)
	sw, _ := ft.SyncWritePacket(ft.GoalPosition.Addr, 2, []byte{1, 2}, [][]byte{{0xFF, 0x0F}, {0xB9, 0x0B}}) // id 2: 3001
	b, _ := sw.MarshalBinary()
	exchange(t, e, b)
	v := e.Violations()
	if len(v) != 1 || v[0].ID != 2 || v[0].Goal != 3001 || v[0].Instr != ft.InstrSyncWrite || len(seen) != 1 {
		t.Fatalf("violations %v (hook saw %v), want one for id 2 at 3001", v, seen)
	}
	if !strings.Contains(v[0].String(), "3001") {
		t.Errorf("violation text %q", v[0])
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Servos: []ServoConfig{{ID: 1}, {ID: 1, Raw: 5000}, {ID: 0xFE}}, Hand: &Hand{}}.Validate()
	for _, want := range []string{"servos[1].id: 1 is used twice", "servos[1].raw", "servos[2].id", "hand.amplitude", "hand.period"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want %q", err, want)
		}
	}
	if err := SO101().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenURL(t *testing.T) {
	for _, bad := range []string{"emu://nope", "/dev/ttyUSB0"} {
		if _, _, err := OpenURL(bad, 0); err == nil {
			t.Errorf("OpenURL(%q) succeeded", bad)
		}
	}
	port, emu, err := OpenURL("emu://so101", ft.DefaultBaud)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := ft.NewBus(port, ft.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Ping(t.Context(), 6); err != nil {
		t.Fatal(err)
	}
	if emu.Count(ft.InstrPing) != 1 {
		t.Fatal("the ping did not reach the emulator")
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// FuzzEmulator: any byte stream is handled without panic, and every reply
// is a well-formed status packet from a servo on the bus.
func FuzzEmulator(f *testing.F) {
	for _, s := range []string{
		"FF FF 01 02 01 FB", "FF FF FE 0A 82 38 02 01 02 03 04 05 06 26",
		"FF FF FE 16 83 2A 02 01 00 08 02 6C 07 03 98 08 04 D0 07 05 00 08 06 40 06 E7",
		"FF FF 01 04 03 28 01 CE", "FF FF FE 02 01 FE", "FF FF 01 05 03 05 07 00 EC",
	} {
		f.Add(hx(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		e := newEmu(t, Config{Clock: NewManualClock()})
		_, out := e.process(in, nil)
		for len(out) > 0 {
			s, n, err := ft.ScanStatus(out)
			if err != nil || n != len(s.Params)+6 {
				t.Fatalf("reply stream % X: %v (consumed %d)", out, err, n)
			}
			if s.ID == ft.BroadcastID || s.Error != 0 {
				t.Fatalf("reply from id %d with ERR 0x%02X", s.ID, s.Error)
			}
			out = out[n:]
		}
	})
}
