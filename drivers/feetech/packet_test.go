package feetech

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestWorkedInstructions encodes every host packet of SO101.md §1.7.
func TestWorkedInstructions(t *testing.T) {
	goals := [][]byte{{0x00, 0x08}, {0x6C, 0x07}, {0x98, 0x08}, {0xD0, 0x07}, {0x00, 0x08}, {0x40, 0x06}}
	syncWrite, err := SyncWritePacket(GoalPosition.Addr, 2, []byte{1, 2, 3, 4, 5, 6}, goals)
	if err != nil {
		t.Fatal(err)
	}
	homing, err := HomingOffset.Encode(-1000)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    Instruction
		want string
	}{
		{"ping id 1", PingPacket(1), "FF FF 01 02 01 FB"},
		{"broadcast ping", PingPacket(BroadcastID), "FF FF FE 02 01 FE"},
		{"read model", ReadPacket(1, 3, 2), "FF FF 01 04 02 03 02 F3"},
		{"read firmware major", ReadPacket(1, 0, 1), "FF FF 01 04 02 00 01 F7"},
		{"read present position", ReadPacket(1, PresentPosition.Addr, 2), "FF FF 01 04 02 38 02 BE"},
		{"sync read present position", SyncReadPacket(PresentPosition.Addr, 2, []byte{1, 2, 3, 4, 5, 6}), "FF FF FE 0A 82 38 02 01 02 03 04 05 06 26"},
		{"sync read present current", SyncReadPacket(PresentCurrent.Addr, 2, []byte{1, 2, 3, 4, 5, 6}), "FF FF FE 0A 82 45 02 01 02 03 04 05 06 19"},
		{"sync write goal", syncWrite, "FF FF FE 16 83 2A 02 01 00 08 02 6C 07 03 98 08 04 D0 07 05 00 08 06 40 06 E7"},
		{"torque enable", WritePacket(1, TorqueEnable.Addr, []byte{1}), "FF FF 01 04 03 28 01 CE"},
		{"lock 0", WritePacket(1, Lock.Addr, []byte{0}), "FF FF 01 04 03 37 00 C0"},
		{"homing offset -1000", WritePacket(1, HomingOffset.Addr, homing), "FF FF 01 05 03 1F E8 0B E4"},
		{"goal 2048", WritePacket(1, GoalPosition.Addr, []byte{0x00, 0x08}), "FF FF 01 05 03 2A 00 08 C4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if want := hexBytes(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("got % X, want % X", got, want)
			}
			back, err := ParseInstruction(got)
			if err != nil {
				t.Fatalf("parse back: %v", err)
			}
			if back.ID != tt.p.ID || back.Instr != tt.p.Instr || !bytes.Equal(back.Params, tt.p.Params) {
				t.Fatalf("round trip: got %+v, want %+v", back, tt.p)
			}
		})
	}
}

// TestWorkedStatus decodes every servo reply of SO101.md §1.7.
func TestWorkedStatus(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		id     byte
		err    byte
		value  int // decoded 2-byte value, -1 if none
		errIs  error
		errMsg string
	}{
		{"ping reply", "FF FF 01 02 00 FC", 1, 0, -1, nil, ""},
		{"model 777", "FF FF 01 04 00 09 03 EE", 1, 0, 777, nil, ""},
		{"position 2047", "FF FF 01 04 00 FF 07 F4", 1, 0, 2047, nil, ""},
		{"position 1800 id 2", "FF FF 02 04 00 08 07 EA", 2, 0, 1800, nil, ""},
		{"position 2300 id 3", "FF FF 03 04 00 FC 08 F4", 3, 0, 2300, nil, ""},
		{"position 2100 id 4", "FF FF 04 04 00 34 08 BB", 4, 0, 2100, nil, ""},
		{"position 2047 id 5", "FF FF 05 04 00 FF 07 F0", 5, 0, 2047, nil, ""},
		{"position 1500 id 6", "FF FF 06 04 00 DC 05 14", 6, 0, 1500, nil, ""},
		{"overload", "FF FF 01 02 20 DC", 1, 0x20, -1, ErrOverload, "overload error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseStatus(hexBytes(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if s.ID != tt.id || s.Error != tt.err {
				t.Fatalf("got id %d err 0x%02X, want id %d err 0x%02X", s.ID, s.Error, tt.id, tt.err)
			}
			if tt.value >= 0 {
				if got := PresentPosition.Decode(s.Params); got != tt.value {
					t.Fatalf("value %d, want %d", got, tt.value)
				}
			}
			serr := s.Err()
			if tt.errIs == nil {
				if serr != nil {
					t.Fatalf("unexpected status error %v", serr)
				}
				return
			}
			if !errors.Is(serr, tt.errIs) || !strings.Contains(serr.Error(), tt.errMsg) {
				t.Fatalf("status error %v, want %v", serr, tt.errIs)
			}
			if errors.Is(serr, ErrVoltage) {
				t.Fatalf("%v matches a bit that is not set", serr)
			}
		})
	}
}

// TestScanStatusResync covers the host receive rules of §1.5.
func TestScanStatusResync(t *testing.T) {
	good := "FF FF 01 04 00 FF 07 F4"
	tests := []struct {
		name    string
		in      string
		wantErr error
		wantN   int // bytes consumed
		wantID  byte
	}{
		{"exact", good, nil, 8, 1},
		{"leading noise", "00 13 " + good, nil, 10, 1},
		{"lone FF before header", "FF 00 " + good, nil, 10, 1},
		{"triple FF", "FF " + good, nil, 9, 1},
		{"id above 0xFD is skipped", "FF FF FE 02 00 FF FF 01 02 00 FC", nil, 11, 1},
		{"LEN above 250 is skipped", "FF FF 01 FB 00 " + good, nil, 13, 1},
		{"ERR above 0x7F is skipped", "FF FF 01 02 80 " + good, nil, 13, 1},
		{"short", "FF FF 01 04 00", ErrIncomplete, 0, 0},
		{"partial", "FF FF 01 04 00 FF 07", ErrIncomplete, 0, 0},
		{"garbage only", "00 01 02 03 04 05 06", ErrIncomplete, 7, 0},
		{"garbage keeps trailing FF", "00 01 02 03 04 05 FF", ErrIncomplete, 6, 0},
		{"bad checksum", "FF FF 01 04 00 FF 07 F5", ErrChecksum, 8, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, n, err := ScanStatus(hexBytes(t, tt.in))
			if !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if n != tt.wantN {
				t.Fatalf("consumed %d, want %d", n, tt.wantN)
			}
			if err == nil && s.ID != tt.wantID {
				t.Fatalf("id %d, want %d", s.ID, tt.wantID)
			}
		})
	}
}

func TestSignMagnitude(t *testing.T) {
	tests := []struct {
		v, bit, enc int
		err         bool
	}{
		{0, 11, 0, false},
		{1000, 11, 1000, false},
		{-1000, 11, 0x800 | 1000, false},
		{2047, 11, 2047, false},
		{-2047, 11, 0x800 | 2047, false},
		{2048, 11, 0, true},
		{-2048, 11, 0, true},
		{-5, 15, 0x8005, false},
		{32767, 15, 32767, false},
		{32768, 15, 0, true},
	}
	for _, tt := range tests {
		enc, err := EncodeSignMagnitude(tt.v, tt.bit)
		if tt.err {
			if !errors.Is(err, ErrValueRange) {
				t.Errorf("encode(%d, %d): err %v, want ErrValueRange", tt.v, tt.bit, err)
			}
			continue
		}
		if err != nil || enc != tt.enc {
			t.Errorf("encode(%d, %d) = %#x, %v; want %#x", tt.v, tt.bit, enc, err, tt.enc)
		}
		if dec := DecodeSignMagnitude(enc, tt.bit); dec != tt.v {
			t.Errorf("decode(%#x, %d) = %d, want %d", enc, tt.bit, dec, tt.v)
		}
	}
	// Higher bits are ignored on decode.
	if got := DecodeSignMagnitude(0xF000|0x800|12, 11); got != -12 {
		t.Errorf("decode ignores high bits: got %d, want -12", got)
	}
}

func TestRegisterEncode(t *testing.T) {
	tests := []struct {
		reg  Register
		v    int
		want []byte
		err  bool
	}{
		{GoalPosition, 2048, []byte{0x00, 0x08}, false},
		{GoalPosition, 65535, []byte{0xFF, 0xFF}, false},
		{GoalPosition, 65536, nil, true},
		{GoalPosition, -1, nil, true},
		{TorqueEnable, 1, []byte{1}, false},
		{TorqueEnable, 256, nil, true},
		{HomingOffset, -1000, []byte{0xE8, 0x0B}, false},
		{HomingOffset, 2048, nil, true},
		{GoalVelocity, -50, []byte{50, 0x80}, false},
	}
	for _, tt := range tests {
		got, err := tt.reg.Encode(tt.v)
		if tt.err {
			if !errors.Is(err, ErrValueRange) || !strings.Contains(err.Error(), tt.reg.Name) {
				t.Errorf("%s.Encode(%d): err %v, want ErrValueRange naming the register", tt.reg.Name, tt.v, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%s.Encode(%d) = % X, %v; want % X", tt.reg.Name, tt.v, got, err, tt.want)
		}
		if back := tt.reg.Decode(got); back != tt.v {
			t.Errorf("%s.Decode = %d, want %d", tt.reg.Name, back, tt.v)
		}
	}
}

func TestControlTable(t *testing.T) {
	for _, name := range []string{"Goal_Position", "Present_Position", "Homing_Offset", "Acceleration_Multiplier ", "Lock"} {
		if _, ok := STS3215.Lookup(name); !ok {
			t.Errorf("%q missing from the STS3215 table", name)
		}
	}
	r, _ := STS3215.Lookup("Minimum_Startup_Force")
	if r.Addr != 24 || r.Size != 2 {
		t.Errorf("Minimum_Startup_Force = addr %d size %d, want LeRobot's 24/2", r.Addr, r.Size)
	}
	prevEnd := 0
	for _, r := range STS3215 {
		if int(r.Addr) < prevEnd && r.Addr != 80 { // 80 has two names
			t.Errorf("%s at %d overlaps the previous register", r.Name, r.Addr)
		}
		prevEnd = int(r.Addr) + r.Size
	}
}

// FuzzScanStatus: the host-side scanner never panics, always makes
// progress or waits for more, and what it accepts re-encodes identically.
func FuzzScanStatus(f *testing.F) {
	for _, s := range []string{
		"FF FF 01 02 00 FC", "FF FF 01 04 00 FF 07 F4", "00 FF FF 01 02 20 DC",
		"FF FF FE 02 00 FF FF 01 02 00 FC", "FF FF 01 04 00 FF 07 F5", "FF FF FF FF",
	} {
		f.Add(hexBytes(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			s, n, err := ScanStatus(b)
			if n < 0 || n > len(b) {
				t.Fatalf("consumed %d of %d", n, len(b))
			}
			if err == nil {
				enc, merr := s.MarshalBinary()
				if merr != nil {
					t.Fatalf("accepted packet does not re-encode: %v", merr)
				}
				if !bytes.Equal(enc, b[n-len(enc):n]) {
					t.Fatalf("re-encoded % X, consumed % X", enc, b[n-len(enc):n])
				}
				if s.ID > 0xFD || s.Error > 0x7F {
					t.Fatalf("accepted id 0x%02X err 0x%02X", s.ID, s.Error)
				}
			}
			if errors.Is(err, ErrIncomplete) {
				return
			}
			if n == 0 {
				t.Fatalf("no progress on % X (err %v)", b, err)
			}
			b = b[n:]
		}
	})
}

// FuzzScanInstruction is FuzzScanStatus for the servo side.
func FuzzScanInstruction(f *testing.F) {
	for _, s := range []string{
		"FF FF 01 02 01 FB", "FF FF FE 0A 82 38 02 01 02 03 04 05 06 26",
		"FF FF FE 16 83 2A 02 01 00 08 02 6C 07 03 98 08 04 D0 07 05 00 08 06 40 06 E7",
		"12 FF FF 01 05 03 2A 00 08 C4",
	} {
		f.Add(hexBytes(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			p, n, err := ScanInstruction(b)
			if n < 0 || n > len(b) {
				t.Fatalf("consumed %d of %d", n, len(b))
			}
			if err == nil {
				enc, merr := p.MarshalBinary()
				if merr != nil || !bytes.Equal(enc, b[n-len(enc):n]) {
					t.Fatalf("re-encoded % X (%v), consumed % X", enc, merr, b[n-len(enc):n])
				}
			}
			if errors.Is(err, ErrIncomplete) {
				return
			}
			if n == 0 {
				t.Fatalf("no progress on % X (err %v)", b, err)
			}
			b = b[n:]
		}
	})
}
