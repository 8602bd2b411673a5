// Package dataset reads and writes LeRobot datasets (codebase version v3.0)
// on Arrow/Parquet, byte-compatible with what LeRobot itself writes, so that
// episodes recorded here train in LeRobot and LeRobot recordings train here.
//
// It owns the on-disk format: meta/info.json, meta/stats.json,
// meta/tasks.parquet, meta/episodes/*/*.parquet and data/*/*.parquet, and the
// statistics LeRobot stores in them. The specification it follows, with the
// sources of every rule, is shared/design/LEROBOT_DATASET.md; comments cite
// its sections (spec §N).
//
// It must not know about robots, policies or training: callers hand it
// frames of named features and read back columns. Arrow builders, Parquet
// readers and their memory stay inside; every Arrow object is released here.
//
// This first slice writes and reads numeric, bool and string features.
// Video and image features, v2.1 reading and writing, conversion, validation
// and crash recovery are planned on top of the same column and (chunk, file)
// machinery.
package dataset
