package transport

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkTransitions measures transitions/s from one actor to the
// learner over loopback gRPC, validation included: state-only (18 state
// values, 4 action values, the sim's layout) and with two 3×128×128 uint8
// cameras in both the observation and the next observation (HIL-SERL's
// front and wrist images after crop/resize). Need: 8 actors at 10 fps =
// 80 transitions/s; the goal is ≥ 800.
func BenchmarkTransitions(b *testing.B) {
	for _, bc := range []struct {
		name      string
		cameras   int
		batchSize int
	}{
		{"state", 0, 256},
		{"images_2x3x128x128", 2, 16},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const stateDim = 18
			shape := []int{3, 128, 128}
			schema := Schema{StateDim: stateDim, ActionLow: []float32{-1, -1, -1, 0}, ActionHigh: []float32{1, 1, 1, 2}}
			var images []Image
			for i := range bc.cameras {
				name := fmt.Sprintf("observation.images.cam%d", i)
				schema.Images = append(schema.Images, ImageSpec{Name: name, Shape: shape})
				images = append(images, Image{Name: name, Shape: shape, Pixels: make([]uint8, 3*128*128)})
			}
			s := startServer(b, func(c *ServerConfig) { c.Schema = schema })
			consume(b, s)
			c := startClient(b, func(c *ClientConfig) { c.Addr, c.BatchSize = s.Addr(), bc.batchSize }, nil)
			tr := Transition{
				State: make([]float32, stateDim), NextState: make([]float32, stateDim), Action: []float32{0.1, 0.2, 0.3, 1},
				Images: images, NextImages: images,
			}
			b.SetBytes(int64(4*(2*stateDim+4+1) + 2*bc.cameras*3*128*128))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			// Flush every window: the client never holds more than that,
			// so nothing is dropped.
			window := 8 * bc.batchSize
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				c.Add(tr)
				if (i+1)%window == 0 {
					if err := c.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := c.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if got := s.Stats().Received; got != int64(b.N) {
				b.Fatalf("received %d of %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transitions/s")
		})
	}
}
