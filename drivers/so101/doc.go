// Package so101 knows the SO-101 arm on a Feetech bus: the follower and the
// leader with LeRobot's motor names and IDs, LeRobot's calibration files and
// procedure, the three normalisation modes, the configure writes, torque on
// and off (also on disconnect and on SIGINT/SIGTERM), max_relative_target,
// and the safety clamp.
//
// Safety invariant: every Goal_Position this package writes goes through
// arm.writeGoals (safety.go), which clamps each motor's goal into its
// calibrated range intersected with the configured joint bounds. Nothing
// else in the package writes Goal_Position; the emulator's assertion hook
// checks it in the fuzz test.
//
// The spec is shared/design/SO101.md (§3 bus sequences, §4 arms, §5
// calibration, §6 normalisation). It speaks to the bus through
// drivers/feetech and must not import env, training or inference; it
// satisfies env.Robot structurally.
package so101
