// Package training runs learning: the in-process online loop that trains a
// SAC policy against an environment (the simulator) and checkpoints it. The
// algorithms themselves live in subpackages (sac, replay, optim).
//
// It must not import drivers or the inference actor loop.
package training
