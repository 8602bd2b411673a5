package training

import (
	"errors"
	"fmt"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/dataset"
	"github.com/e2hil/e2hil/env"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/replay"
)

// Demonstrations turns a LeRobot dataset into offline transitions as
// LeRobot's ReplayBuffer.from_lerobot_dataset does: state =
// observation.state, action = action (its first nCont values, plus the last
// one as the gripper index when gripper is set), reward = next.reward,
// done = next.done, next_state = the next frame of the same episode (the
// same frame at an episode's end). Every transition is tagged human.
func Demonstrations(ds *dataset.Dataset, stateDim, nCont int, gripper bool) ([]replay.Transition, error) {
	wrap := func(err error) error { return fmt.Errorf("demonstrations %s: %w", ds.Root, err) }
	state, sd, err := ds.Float32Column("observation.state")
	if err != nil {
		return nil, wrap(err)
	}
	if sd != stateDim {
		return nil, wrap(fmt.Errorf("observation.state has %d values per frame, the environment %d", sd, stateDim))
	}
	action, ad, err := ds.Float32Column("action")
	if err != nil {
		return nil, wrap(err)
	}
	need := nCont
	if gripper {
		need++
	}
	if ad < need {
		return nil, wrap(fmt.Errorf("action has %d values per frame, the policy needs %d", ad, need))
	}
	reward, _, err := ds.Float32Column("next.reward")
	if err != nil {
		return nil, wrap(err)
	}
	done, _, err := ds.BoolColumn("next.done")
	if err != nil {
		return nil, wrap(err)
	}
	episode, _, err := ds.Int64Column("episode_index")
	if err != nil {
		return nil, wrap(err)
	}
	n := len(episode)
	if len(state) != n*sd || len(action) != n*ad || len(reward) != n || len(done) != n {
		return nil, wrap(errors.New("columns have different frame counts"))
	}
	out := make([]replay.Transition, n)
	for i := range out {
		next := i + 1
		if next == n || episode[next] != episode[i] {
			next = i
		}
		a := make([]float32, need)
		copy(a, action[i*ad:i*ad+nCont])
		if gripper {
			a[nCont] = action[i*ad+ad-1]
		}
		out[i] = replay.Transition{
			State: state[i*sd : (i+1)*sd], NextState: state[next*sd : (next+1)*sd], Action: a,
			Reward: reward[i], Done: done[i], Human: true,
		}
	}
	return out, nil
}

// applyNormalization sets spec's observation.state normalisation from
// policy.normalization_mapping["STATE"] and the first stats available:
// policy.dataset_stats["observation.state"], the demonstration dataset's
// stats, the environment's bounds (MIN_MAX only).
func applyNormalization(spec *models.SACSpec, p configs.SACConfig, es env.Spec, dsStats *dataset.Stats) error {
	mode := p.NormalizationMapping["STATE"]
	if mode == "" {
		mode = models.NormMinMax
	}
	spec.StateNormalization = mode
	const key = "observation.state"
	f32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	var low, high, mean, std []float64
	source := "the environment's bounds"
	if s, ok := p.DatasetStats[key]; ok {
		low, high, mean, std = s["min"], s["max"], s["mean"], s["std"]
		source = "policy.dataset_stats"
	} else if dsStats != nil {
		low, high, mean, std = dsStats.Min, dsStats.Max, dsStats.Mean, dsStats.Std
		source = "the dataset's meta/stats.json"
	}
	switch mode {
	case models.NormMinMax:
		if low == nil || high == nil {
			if source != "the environment's bounds" {
				return fmt.Errorf("training: MIN_MAX normalisation of %s: %s lacks min/max", key, source)
			}
			spec.StateLow, spec.StateHigh = es.StateLow, es.StateHigh
			return nil
		}
		if len(low) != spec.StateDim || len(high) != spec.StateDim {
			return fmt.Errorf("training: %s min/max in %s have %d/%d values, want %d", key, source, len(low), len(high), spec.StateDim)
		}
		spec.StateLow, spec.StateHigh = f32(low), f32(high)
	case models.NormMeanStd:
		if len(mean) != spec.StateDim || len(std) != spec.StateDim {
			return fmt.Errorf("training: MEAN_STD normalisation of %s needs mean and std of %d values (from policy.dataset_stats or a dataset's stats.json); %s has %d/%d",
				key, spec.StateDim, source, len(mean), len(std))
		}
		spec.StateMean, spec.StateStd = f32(mean), f32(std)
	default:
		return fmt.Errorf("training: normalization_mapping.STATE %q is not supported", mode)
	}
	return nil
}
