package training

import (
	"fmt"
	"io"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/dataset"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/replay"
	"github.com/e2hil/e2hil/training/sac"
)

// learnerSetup is what Run and Serve build the same way: the network spec
// (with its normalisation), the learner, and the online and offline buffers
// (the offline one holding the demonstrations and extra transitions).
type learnerSetup struct {
	spec            models.SACSpec
	learner         *sac.Learner
	online, offline *replay.Buffer
	sampler         sac.Sampler
	// cameras is the image path (nil: state only).
	cameras *cameraPath
}

// newLearnerSetup checks the config against the env spec, loads
// dataset.root's demonstrations (reported on progress, if non-nil) and
// builds the learner and buffers; extra transitions join the offline buffer.
func newLearnerSetup(cfg configs.TrainConfig, es env.Spec, extra []replay.Transition, progress io.Writer) (*learnerSetup, error) {
	if n := cfg.Policy.Discrete(); n > 0 && !es.HasGripper {
		return nil, fmt.Errorf("training: policy.num_discrete_actions is %d but env %s/%s has no gripper; set it to null", n, cfg.Env.Type, cfg.Env.Task)
	}
	spec := SpecFromEnv(es, cfg.Policy)
	var dsStats *dataset.Stats
	if cfg.Dataset != nil {
		ds, err := dataset.Open(cfg.Dataset.Root)
		if err != nil {
			return nil, fmt.Errorf("training: dataset.root: %w", err)
		}
		demos, err := Demonstrations(ds, spec.StateDim, spec.ActionDim, spec.NumDiscrete > 0)
		if err != nil {
			return nil, err
		}
		extra = append(demos, extra...)
		if st, ok := ds.Stats["observation.state"]; ok {
			dsStats = &st
		}
		if progress != nil {
			fmt.Fprintf(progress, "offline buffer: %d demonstration transitions from %s (%d episodes)\n", len(demos), cfg.Dataset.Root, len(ds.Episodes))
		}
	}
	if err := applyNormalization(&spec, cfg.Policy, es, dsStats); err != nil {
		return nil, err
	}
	cameras, err := newCameraPath(cfg, es, &spec)
	if err != nil {
		return nil, err
	}
	learner, err := sac.New(cfg.Policy, spec, cfg.BatchSize, uint64(cfg.Seed))
	if err != nil {
		return nil, err
	}
	// Stored actions: the continuous part, plus the gripper index when a
	// discrete critic learns it.
	nStored := spec.ActionDim + min(spec.NumDiscrete, 1)
	newBuffer := func(capacity int) (*replay.Buffer, error) {
		if cameras != nil {
			return replay.NewWithObservations(capacity, spec.StateDim, nStored, cameras.observations(cfg.Policy))
		}
		return replay.New(capacity, spec.StateDim, nStored)
	}
	online, err := newBuffer(cfg.Policy.OnlineBufferCapacity)
	if err != nil {
		return nil, err
	}
	offline, err := newBuffer(cfg.Policy.OfflineBufferCapacity)
	if err != nil {
		return nil, err
	}
	if len(extra) > cfg.Policy.OfflineBufferCapacity {
		// LeRobot refuses too; a silently truncated demo set would mislead.
		return nil, fmt.Errorf("training: %d demonstration transitions exceed policy.offline_buffer_capacity %d", len(extra), cfg.Policy.OfflineBufferCapacity)
	}
	for i, t := range extra {
		t.Human = true
		if err := offline.Add(t); err != nil {
			return nil, fmt.Errorf("training: offline transition %d: %w", i, err)
		}
	}
	ls := &learnerSetup{spec: spec, learner: learner, online: online, offline: offline,
		sampler: replay.Mix{Online: online, Offline: offline}, cameras: cameras}
	if cameras != nil {
		if ls.sampler, err = cameras.attach(cfg, online, offline, replay.Mix{Online: online, Offline: offline}); err != nil {
			return nil, err
		}
	}
	return ls, nil
}
