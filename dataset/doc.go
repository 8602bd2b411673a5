// Package dataset reads and writes LeRobot datasets, codebase versions v3.0
// (LeRobot ≥ 0.4) and v2.1 (LeRobot ≤ 0.3), on Arrow/Parquet and mp4,
// byte-compatible with what LeRobot itself writes, so that episodes recorded
// here train in LeRobot and LeRobot recordings train here.
//
// It owns the on-disk format: meta/info.json; for v3.0 meta/stats.json,
// meta/tasks.parquet, meta/episodes/*/*.parquet, data/*/*.parquet and
// videos/*/*/*.mp4; for v2.1 the JSON-lines metadata and one data file and
// mp4 per episode; and the statistics LeRobot stores in them. It validates
// datasets as LeRobot's loaders would (Validate), converts v2.1 to v3.0
// (ConvertV21), and makes every episode save all-or-nothing across a crash
// (commit.go). The specification it follows, with the sources of every rule,
// is shared/design/LEROBOT_DATASET.md; comments cite its sections (spec §N).
//
// It must not know about robots, policies or training: callers hand it
// frames of named features and read back columns, frames and pictures.
// Arrow builders, Parquet readers and their memory stay inside; every Arrow
// object is released here. Video files are encoded and decoded by the
// ffmpeg tools through the video subpackage.
package dataset
