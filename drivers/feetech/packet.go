package feetech

import (
	"errors"
	"fmt"
)

// Instr is an instruction code (§1.2).
type Instr byte

// Instruction codes of the SDK. LeRobot uses PING, READ, WRITE, SYNC_READ and
// SYNC_WRITE; REG_WRITE and ACTION exist in the SDK and the emulator.
const (
	InstrPing      Instr = 0x01
	InstrRead      Instr = 0x02
	InstrWrite     Instr = 0x03
	InstrRegWrite  Instr = 0x04
	InstrAction    Instr = 0x05
	InstrSyncRead  Instr = 0x82
	InstrSyncWrite Instr = 0x83
)

func (i Instr) String() string {
	switch i {
	case InstrPing:
		return "PING"
	case InstrRead:
		return "READ"
	case InstrWrite:
		return "WRITE"
	case InstrRegWrite:
		return "REG_WRITE"
	case InstrAction:
		return "ACTION"
	case InstrSyncRead:
		return "SYNC_READ"
	case InstrSyncWrite:
		return "SYNC_WRITE"
	}
	return fmt.Sprintf("INSTR_0x%02X", byte(i))
}

// Wire constants (§1.2).
const (
	// BroadcastID addresses every servo.
	BroadcastID byte = 0xFE
	// MaxPacketLen bounds a whole packet, header and checksum included
	// (SDK TXPACKET_MAX_LEN / RXPACKET_MAX_LEN).
	MaxPacketLen = 250
	// headerLen is FF FF ID LEN.
	headerLen = 4
	// minPacketLen is FF FF ID LEN INSTR/ERR CHK.
	minPacketLen = 6
)

// Framing errors. ErrIncomplete is not a failure: the scanner needs more bytes.
var (
	ErrIncomplete = errors.New("feetech: incomplete packet")
	ErrChecksum   = errors.New("feetech: bad checksum")
	ErrMalformed  = errors.New("feetech: malformed packet")
)

// Checksum is ~(sum of bytes) & 0xFF over everything after the FF FF header
// and before the checksum byte (§1.2).
func Checksum(body []byte) byte {
	var s byte
	for _, b := range body {
		s += b
	}
	return ^s
}

// Instruction is a host → servo packet: FF FF ID LEN INSTR P1..Pn CHK.
type Instruction struct {
	ID     byte
	Instr  Instr
	Params []byte
}

// Status is a servo → host packet: FF FF ID LEN ERR P1..Pn CHK.
type Status struct {
	ID     byte
	Error  byte
	Params []byte
}

// Err returns the status-error bits as an error, nil when ERR is 0.
func (s Status) Err() error {
	if s.Error == 0 {
		return nil
	}
	return StatusError(s.Error)
}

func appendFrame(dst []byte, id, code byte, params []byte) ([]byte, error) {
	total := len(params) + minPacketLen
	if total > MaxPacketLen {
		return dst, fmt.Errorf("%w: %d bytes exceed the %d-byte packet limit", ErrMalformed, total, MaxPacketLen)
	}
	start := len(dst)
	dst = append(dst, 0xFF, 0xFF, id, byte(len(params)+2), code)
	dst = append(dst, params...)
	return append(dst, Checksum(dst[start+2:])), nil
}

// Append encodes the packet onto dst.
func (p Instruction) Append(dst []byte) ([]byte, error) {
	return appendFrame(dst, p.ID, byte(p.Instr), p.Params)
}

// MarshalBinary encodes the packet.
func (p Instruction) MarshalBinary() ([]byte, error) { return p.Append(nil) }

// Append encodes the packet onto dst.
func (s Status) Append(dst []byte) ([]byte, error) {
	return appendFrame(dst, s.ID, s.Error, s.Params)
}

// MarshalBinary encodes the packet.
func (s Status) MarshalBinary() ([]byte, error) { return s.Append(nil) }

// Instruction builders (§1.2, §1.4).

// PingPacket is PING to id (BroadcastID for a broadcast ping).
func PingPacket(id byte) Instruction { return Instruction{ID: id, Instr: InstrPing} }

// ReadPacket is READ of n bytes at addr.
func ReadPacket(id, addr, n byte) Instruction {
	return Instruction{ID: id, Instr: InstrRead, Params: []byte{addr, n}}
}

// WritePacket is WRITE of data at addr.
func WritePacket(id, addr byte, data []byte) Instruction {
	return Instruction{ID: id, Instr: InstrWrite, Params: append([]byte{addr}, data...)}
}

// SyncReadPacket is SYNC_READ of n bytes at addr from ids, answered in ids order.
func SyncReadPacket(addr, n byte, ids []byte) Instruction {
	return Instruction{ID: BroadcastID, Instr: InstrSyncRead, Params: append([]byte{addr, n}, ids...)}
}

// SyncWritePacket is SYNC_WRITE of n bytes at addr; data[i] goes to ids[i]
// and must be n bytes long.
func SyncWritePacket(addr, n byte, ids []byte, data [][]byte) (Instruction, error) {
	if len(ids) != len(data) {
		return Instruction{}, fmt.Errorf("%w: %d ids but %d values", ErrMalformed, len(ids), len(data))
	}
	params := make([]byte, 0, 2+len(ids)*(1+int(n)))
	params = append(params, addr, n)
	for i, id := range ids {
		if len(data[i]) != int(n) {
			return Instruction{}, fmt.Errorf("%w: value for id %d has %d bytes, want %d", ErrMalformed, id, len(data[i]), n)
		}
		params = append(params, id)
		params = append(params, data[i]...)
	}
	return Instruction{ID: BroadcastID, Instr: InstrSyncWrite, Params: params}, nil
}

// headerOK decides whether a frame may start at buf[0] (buf[0:2] == FF FF and
// len(buf) ≥ 5).
type headerOK func(id, length, code byte) bool

// statusHeaderOK is the SDK rxPacket rule (§1.5): drop a byte if
// ID > 0xFD, LEN > 250 or ERR > 0x7F. LEN < 2 cannot hold ERR and CHK, so it
// is dropped too (the SDK would misparse it).
func statusHeaderOK(id, length, code byte) bool {
	return id <= 0xFD && length <= MaxPacketLen && length >= 2 && code <= 0x7F
}

// instructionHeaderOK is the servo side: any ID up to broadcast, any code.
func instructionHeaderOK(id, length, _ byte) bool {
	return id <= BroadcastID && length >= 2 && int(length)+headerLen <= MaxPacketLen
}

// scan finds the first frame in buf following the SDK's rxPacket rules. It
// returns the frame and the number of bytes consumed (garbage skipped plus
// the frame). With ErrIncomplete, n bytes of garbage may be dropped and the
// rest must be kept for the next call. With ErrChecksum, n covers the bad
// frame, which the SDK reports as COMM_RX_CORRUPT.
func scan(buf []byte, ok headerOK) (id, code byte, params []byte, n int, err error) {
	for {
		rest := buf[n:]
		if len(rest) < minPacketLen {
			// Like the SDK, wait for 6 bytes before looking for the header,
			// but drop what can never start one.
			return 0, 0, nil, n + garbagePrefix(rest), ErrIncomplete
		}
		i := headerIndex(rest)
		if i < 0 {
			// Keep a trailing FF: it may be the first header byte.
			drop := len(rest)
			if rest[len(rest)-1] == 0xFF {
				drop--
			}
			n += drop
			continue
		}
		if i > 0 {
			n += i
			continue
		}
		if !ok(rest[2], rest[3], rest[4]) {
			n++ // §1.5: remove the first byte and retry
			continue
		}
		total := int(rest[3]) + headerLen
		if len(rest) < total {
			return 0, 0, nil, n, ErrIncomplete
		}
		frame := rest[:total]
		if Checksum(frame[2:total-1]) != frame[total-1] {
			return 0, 0, nil, n + total, ErrChecksum
		}
		return frame[2], frame[4], frame[5 : total-1], n + total, nil
	}
}

// headerIndex is the index of the first FF FF pair, or -1.
func headerIndex(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == 0xFF && b[i+1] == 0xFF {
			return i
		}
	}
	return -1
}

// garbagePrefix counts leading bytes of a short buffer that cannot begin a
// header: everything before the first FF.
func garbagePrefix(b []byte) int {
	for i, c := range b {
		if c == 0xFF {
			return i
		}
	}
	return len(b)
}

// ScanStatus looks for a status packet in buf with the host's receive rules
// (§1.5). n is the number of bytes to discard from buf. err is nil (a packet),
// ErrIncomplete (keep buf[n:] and read more) or ErrChecksum (a corrupt packet
// was consumed). The returned Params alias buf.
func ScanStatus(buf []byte) (s Status, n int, err error) {
	id, code, params, n, err := scan(buf, statusHeaderOK)
	if err != nil {
		return Status{}, n, err
	}
	return Status{ID: id, Error: code, Params: params}, n, nil
}

// ScanInstruction is ScanStatus for the servo side: it accepts the broadcast
// ID and instruction codes above 0x7F. The returned Params alias buf.
func ScanInstruction(buf []byte) (p Instruction, n int, err error) {
	id, code, params, n, err := scan(buf, instructionHeaderOK)
	if err != nil {
		return Instruction{}, n, err
	}
	return Instruction{ID: id, Instr: Instr(code), Params: params}, n, nil
}

// ParseStatus decodes exactly one status packet; leading garbage, trailing
// bytes or a bad checksum are errors.
func ParseStatus(b []byte) (Status, error) {
	s, n, err := ScanStatus(b)
	if err == nil && (n != len(b) || n != len(s.Params)+minPacketLen) {
		err = fmt.Errorf("%w: %d stray bytes around the packet", ErrMalformed, len(b)-len(s.Params)-minPacketLen)
	}
	if err != nil {
		return Status{}, err
	}
	s.Params = append([]byte(nil), s.Params...)
	return s, nil
}

// ParseInstruction decodes exactly one instruction packet.
func ParseInstruction(b []byte) (Instruction, error) {
	p, n, err := ScanInstruction(b)
	if err == nil && (n != len(b) || n != len(p.Params)+minPacketLen) {
		err = fmt.Errorf("%w: %d stray bytes around the packet", ErrMalformed, len(b)-len(p.Params)-minPacketLen)
	}
	if err != nil {
		return Instruction{}, err
	}
	p.Params = append([]byte(nil), p.Params...)
	return p, nil
}
