// Package emulator is an STS3215 bus that answers at the wire exactly as the
// servos do (shared/design/SO101.md §9): on a pseudo-terminal (both ends
// raw) for end-to-end tests and `--port emu://so101`, or over an in-memory
// feetech.Pipe for fast tests.
//
// Each servo has a little-endian memory image with the power-up values of
// §9.3, EEPROM and Lock semantics (§2.2), simulated motion toward
// Goal_Position with torque on, and a "hand" (SetPosition) that moves a
// joint while torque is off. Faults are injectable: a silent servo, status
// error bits, corrupted replies. Every Goal_Position a host writes is checked
// against an allowed range per servo (SetGoalRange, CheckGoals), the
// invariant the so101 fuzz test asserts.
//
// It must never send unsolicited bytes, never echo, and never invent
// Dynamixel error bits. It imports only the protocol layer.
package emulator
