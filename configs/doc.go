// Package configs holds e2hil's configuration: plain structs whose JSON keys
// are LeRobot's HIL-SERL keys (so users' configs carry over), their defaults,
// Validate() with the JSON path of every problem, loading with unknown-key
// reporting, and the shipped example configs (embedded, so the binaries run
// without the source tree).
//
// It must not import any other e2hil package.
package configs
