// Package feetech speaks the Feetech STS/SCS serial protocol as LeRobot uses
// it for the STS3215 (scservo_sdk protocol 0, little-endian): instruction and
// status packets with their checksum, the SDK's receive and resync rules,
// PING, READ, WRITE, SYNC_READ and SYNC_WRITE, status-error bits as typed
// errors, sign-magnitude registers, LeRobot's per-transaction timeouts and
// retries, and the STS3215 control table as data.
//
// The Bus runs over any Port (a serial device, a pseudo-terminal, or the
// in-memory Pipe), so the emulator in ./emulator is a fake at the wire.
//
// The spec is shared/design/SO101.md; section numbers (§1.5) refer to it.
//
// This package knows registers and motor IDs, not arms: it must not know
// about calibration, normalisation or joint names beyond the labels a caller
// gives it for error messages.
package feetech
