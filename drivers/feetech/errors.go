package feetech

import (
	"errors"
	"fmt"
	"strings"
)

// Communication failures (the SDK's COMM_* results, §1.5–1.6).
var (
	// ErrTimeout: no status packet before the deadline (COMM_RX_TIMEOUT,
	// "There is no status packet!").
	ErrTimeout = errors.New("no status packet (timeout)")
	// ErrCorrupt: a partial or bad-checksum status packet, or one too short
	// for the request (COMM_RX_CORRUPT, "Incorrect status packet!").
	ErrCorrupt = errors.New("incorrect status packet")
	// ErrClosed: the bus or its port is closed.
	ErrClosed = errors.New("feetech: bus closed")
	// ErrValueRange: a value does not fit its register or its sign-magnitude
	// encoding (LeRobot's ValueError).
	ErrValueRange = errors.New("value out of register range")
)

// Status-error bits as sentinels; errors.Is(err, ErrOverload) holds for a
// StatusError with that bit set (§1.3).
var (
	ErrVoltage     = errors.New("input voltage error")
	ErrAngleSensor = errors.New("angle sensor error")
	ErrOverheat    = errors.New("overheat error")
	ErrOverCurrent = errors.New("over-current error")
	ErrOverload    = errors.New("overload error")
)

// Status-error bits of the ERR byte and the Status register (§1.3).
const (
	ErrBitVoltage     byte = 0x01
	ErrBitAngleSensor byte = 0x02
	ErrBitOverheat    byte = 0x04
	ErrBitOverCurrent byte = 0x08
	ErrBitOverload    byte = 0x20
)

var statusBits = []struct {
	bit byte
	err error
}{
	{ErrBitVoltage, ErrVoltage},
	{ErrBitAngleSensor, ErrAngleSensor},
	{ErrBitOverheat, ErrOverheat},
	{ErrBitOverCurrent, ErrOverCurrent},
	{ErrBitOverload, ErrOverload},
}

// StatusError is a non-zero ERR byte of a status packet. LeRobot raises on it
// for READ, WRITE and PING and ignores it for SYNC_READ (§1.4, §1.6).
type StatusError byte

// Error names every set bit (the SDK names only the first).
func (e StatusError) Error() string {
	var names []string
	for _, sb := range statusBits {
		if byte(e)&sb.bit != 0 {
			names = append(names, sb.err.Error())
		}
	}
	if rest := byte(e) &^ (ErrBitVoltage | ErrBitAngleSensor | ErrBitOverheat | ErrBitOverCurrent | ErrBitOverload); rest != 0 {
		names = append(names, fmt.Sprintf("undefined bits 0x%02X", rest))
	}
	return fmt.Sprintf("servo status 0x%02X: %s", byte(e), strings.Join(names, ", "))
}

// Is matches the sentinel of every bit set.
func (e StatusError) Is(target error) bool {
	for _, sb := range statusBits {
		if target == sb.err {
			return byte(e)&sb.bit != 0
		}
	}
	return false
}

// MotorError is a failed transaction with one motor. It names the operation,
// the motor (its label when the bus has one) and the register, and unwraps to
// the cause: ErrTimeout, ErrCorrupt, a StatusError, ErrValueRange, a context
// error or a port error.
type MotorError struct {
	Op       string // "ping", "read", "write", "sync read", "sync write"
	ID       byte
	Motor    string // label given to the Bus, "" if none
	Register string // register name, or "addr 0xNN" for raw access; "" for ping
	Tries    int    // attempts made; 0 when nothing was sent
	Err      error
}

func (e *MotorError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Register != "" {
		b.WriteString(" ")
		b.WriteString(e.Register)
	}
	b.WriteString(" on ")
	b.WriteString(MotorLabel(e.ID, e.Motor))
	if e.Tries > 1 {
		fmt.Fprintf(&b, " after %d tries", e.Tries)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *MotorError) Unwrap() error { return e.Err }

// MotorLabel formats a motor for messages: `motor "elbow_flex" (id 3)` or
// `motor id 3`.
func MotorLabel(id byte, name string) string {
	if name == "" {
		return fmt.Sprintf("motor id %d", id)
	}
	return fmt.Sprintf("motor %q (id %d)", name, id)
}
