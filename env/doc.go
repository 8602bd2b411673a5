// Package env owns the gym_manipulator loop: an Env with Reset/Step over a
// robot (simulated or real), the end-effector action space (delta → IK →
// joint goals inside the end-effector bounds), the episode time limit, and
// the reward and success signals. Observations and actions are in the units
// the dataset records; normalisation belongs to the policy.
//
// It must not import training or gorgonia.
package env
