// Package sim is e2hil's built-in simulated SO-101: a kinematic arm with the
// real robot's joints, limits and link lengths (from the SO-101 URDF), a table
// and a cube, and the tasks judged on them. It is what runs when no hardware is
// attached, through the same robot interface the real follower implements
// (Motors / Connect / Disconnect / ReadJoints / WriteJoints, in the bus's
// units: degrees for the five body joints, 0–100 for the gripper).
//
// The arm is kinematic: a goal is reached within the control period (a real
// STS3215 at its default acceleration covers one 2 cm end-effector step in
// well under 100 ms). Everything is deterministic for a seed.
//
// Tasks: touch_cube (bring the tip to the cube) and pick_cube (grasp it
// between the jaws and lift it; pick.go). Cameras (camera.go) render the
// scene with a small software rasteriser (render.go): "front", fixed, and
// "wrist", on the gripper. Expert (expert.go) is a scripted controller that
// reads the world's privileged state, with noise and scripted failures, for
// recording demonstrations and classifier data.
//
// The package also holds Gymnasium's Pendulum-v1 (pendulum.go), the SAC
// learner's sanity benchmark, with Gymnasium's exact dynamics.
package sim
