package sac

import (
	"math/rand/v2"
	"testing"

	"github.com/e2hil/e2hil/configs"
	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/replay"
)

func benchSpec(hidden, latent, state int) models.SACSpec {
	low, high := make([]float32, state), make([]float32, state)
	for i := range high {
		low[i], high[i] = -1, 1
	}
	return models.SACSpec{StateDim: state, ActionDim: 3, StateLow: low, StateHigh: high, LatentDim: latent,
		ActorHidden: []int{hidden, hidden}, ActorActivateFinal: true, CriticHidden: []int{hidden, hidden}, CriticActivateFinal: true,
		NumCritics: 2, StdMin: 1e-5, StdMax: 5, InitFinal: 0.05}
}

func fullBuffer(b *testing.B, state int) *replay.Buffer {
	buf, _ := replay.New(10000, state, 3)
	rng := rand.New(rand.NewPCG(1, 1))
	v := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		return x
	}
	for i := 0; i < 10000; i++ {
		buf.Add(replay.Transition{State: v(state), Action: v(3), Reward: float32(rng.Float64()), NextState: v(state)})
	}
	return buf
}

// BenchmarkUpdate times one learner iteration (utd 1, actor + temperature).
// Sub-benchmark "demo" is configs/sim_touch_cube.json's network.
func BenchmarkUpdate(b *testing.B) {
	for _, c := range []struct {
		name                         string
		hidden, latent, state, batch int
	}{{"demo", 128, 64, 12, 256}, {"hilserl_state", 256, 256, 18, 256}} {
		b.Run(c.name, func(b *testing.B) {
			UseBLAS()
			cfg := configs.DefaultSACConfig()
			l, err := New(cfg, benchSpec(c.hidden, c.latent, c.state), c.batch, 1)
			if err != nil {
				b.Fatal(err)
			}
			buf := fullBuffer(b, c.state)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.Update(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
