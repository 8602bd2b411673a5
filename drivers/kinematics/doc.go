// Package kinematics owns SO-101 forward and inverse kinematics: it parses a
// URDF (the SO-101 "new calibration" URDF is embedded), computes the pose of a
// target frame from joint angles, and solves damped-least-squares IK for the
// gripper frame. It also maps end-effector delta actions to clipped targets.
//
// Angles are radians here; callers convert from the bus's degrees. It must not
// talk to hardware.
package kinematics
