package features

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/e2hil/e2hil/models"
	"github.com/e2hil/e2hil/training/replay"
	G "gorgonia.org/gorgonia"
)

const imgH, imgW = 8, 8

// convBackbone is a small real backbone: Conv2d(3→4, 3×3/2, pad 1) → ReLU →
// Conv2d(4→2, 3×3/2, pad 1) → ReLU, 8×8 images → 2×2×2 features.
func convBackbone(t *testing.T, batch int) *GraphBackbone {
	t.Helper()
	p := models.NewParams()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, w := range []struct {
		name  string
		shape []int
	}{{"bb.c1", []int{4, 3, 3, 3}}, {"bb.c2", []int{2, 4, 3, 3}}} {
		d := p.Add(w.name, w.shape...).Data().([]float32)
		for i := range d {
			d[i] = float32(rng.NormFloat64() * 0.5)
		}
	}
	g, err := NewGraphBackbone(p, batch, imgH, imgW, func(b *models.Graph, x *G.Node) (*G.Node, error) {
		y, err := models.Conv2d(x, b.Param("bb.c1"), 2, 1)
		if err != nil {
			return nil, err
		}
		if y, err = models.ReLU(y); err != nil {
			return nil, err
		}
		if y, err = models.Conv2d(y, b.Param("bb.c2"), 2, 1); err != nil {
			return nil, err
		}
		return models.ReLU(y)
	})
	if err != nil {
		t.Fatal(err)
	}
	if g.FeatureSize() != 8 {
		t.Fatalf("feature size %d, want 8", g.FeatureSize())
	}
	return g
}

var cams = []Camera{{Height: imgH, Width: imgW, FeatureSize: 8}, {Height: imgH, Width: imgW, FeatureSize: 8}}

// episodes returns images per observation id: obs id, camera → HWC bytes.
func randomImages(rng *rand.Rand, n int) [][][]uint8 {
	out := make([][][]uint8, n)
	for i := range out {
		for range cams {
			im := make([]uint8, 3*imgH*imgW)
			for j := range im {
				im[j] = uint8(rng.IntN(256))
			}
			out[i] = append(out[i], im)
		}
	}
	return out
}

// fill writes 3 episodes of 4 steps; transition j of episode e has state
// id = observation id (e·5+j), next observation id+1.
func fill(t *testing.T, w *Writer, images [][][]uint8) {
	t.Helper()
	for e := 0; e < 3; e++ {
		for j := 0; j < 4; j++ {
			id := e*5 + j
			tr := replay.Transition{State: []float32{float32(id)}, NextState: []float32{float32(id + 1)}, Action: []float32{0}}
			if err := w.Add(tr, images[id], images[id+1]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// recompute is the backbone on one shifted image.
func recompute(t *testing.T, g Backbone, img []uint8, s Shift) []float32 {
	t.Helper()
	x := make([]float32, 3*imgH*imgW)
	if err := ToCHW(x, img, imgH, imgW, s); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, 8)
	if err := g.Features(y, x, 1); err != nil {
		t.Fatal(err)
	}
	return y
}

func close16(a, b []float32) bool { // float16 storage: 11 significant bits
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-3*math.Max(1, math.Abs(float64(b[i]))) {
			return false
		}
	}
	return true
}

// matchesShift reports whether got is the backbone of img under some DrQ
// shift (cmp decides equality), and whether the shift was not zero.
func matchesShift(t *testing.T, g Backbone, img []uint8, got []float32, cmp func(a, b []float32) bool) (ok, shifted bool) {
	for dy := -Pad; dy <= Pad; dy++ {
		for dx := -Pad; dx <= Pad; dx++ {
			if cmp(got, recompute(t, g, img, Shift{dy, dx})) {
				return true, dy != 0 || dx != 0
			}
		}
	}
	return false, false
}

func TestCacheEqualsRecomputation(t *testing.T) {
	g := convBackbone(t, 4)
	images := randomImages(rand.New(rand.NewPCG(1, 1)), 15)
	for _, copies := range []int{1, 3} {
		shift := copies > 1
		buf, err := replay.NewWithObservations(20, 1, 1, replay.ObservationConfig{Format: replay.Features, Sizes: []int{8, 8}, Copies: copies})
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewWriter(buf, g, cams, shift, 9)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, w, images)
		batch := replay.NewBatch(40, 1, 1).WithFeatures([]int{8, 8})
		if err := buf.Sample(rand.New(rand.NewPCG(2, 2)), batch); err != nil {
			t.Fatal(err)
		}
		var shifted int
		for r := 0; r < batch.Size; r++ {
			id := int(batch.State[r])
			for c := range cams {
				for _, side := range []struct {
					got []float32
					img []uint8
				}{{batch.Features[c][r*8 : (r+1)*8], images[id][c]}, {batch.NextFeatures[c][r*8 : (r+1)*8], images[id+1][c]}} {
					if !shift {
						if want := recompute(t, g, side.img, Shift{}); !close16(side.got, want) {
							t.Fatalf("row %d camera %d: cached %v, recomputed %v", r, c, side.got, want)
						}
						continue
					}
					ok, sh := matchesShift(t, g, side.img, side.got, close16)
					if !ok {
						t.Fatalf("copies %d row %d camera %d: cached %v is no DrQ shift of the image", copies, r, c, side.got)
					}
					if sh {
						shifted++
					}
				}
			}
		}
		if shift && shifted == 0 {
			t.Errorf("copies %d: no cached observation was shifted", copies)
		}
	}
}

// Uncached mode: images stored, shifted and encoded per batch; every
// sampled observation is the backbone of its own image under some shift,
// and without shifts exactly the plain recomputation.
func TestUncachedSampler(t *testing.T) {
	g := convBackbone(t, 16)
	images := randomImages(rand.New(rand.NewPCG(3, 1)), 15)
	buf, err := replay.NewWithObservations(20, 1, 1, replay.ObservationConfig{Format: replay.Images, Sizes: []int{3 * imgH * imgW, 3 * imgH * imgW}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(buf, nil, cams, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, w, images)
	if got := buf.Observations().Slots; got == 0 {
		t.Fatal("no slots")
	}
	exact := func(a, b []float32) bool {
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-5 {
				return false
			}
		}
		return true
	}
	for _, shift := range []bool{false, true} {
		s := NewSampler(buf, g, cams, shift)
		batch := replay.NewBatch(24, 1, 1).WithFeatures([]int{8, 8})
		if err := s.Sample(rand.New(rand.NewPCG(4, 4)), batch); err != nil {
			t.Fatal(err)
		}
		var shifted int
		for r := 0; r < batch.Size; r++ {
			id := int(batch.State[r])
			for c := range cams {
				got, next := batch.Features[c][r*8:(r+1)*8], batch.NextFeatures[c][r*8:(r+1)*8]
				if !shift {
					if want := recompute(t, g, images[id][c], Shift{}); !exact(got, want) {
						t.Fatalf("row %d camera %d: %v, recomputed %v", r, c, got, want)
					}
					if want := recompute(t, g, images[id+1][c], Shift{}); !exact(next, want) {
						t.Fatalf("row %d camera %d next: %v, recomputed %v", r, c, next, want)
					}
					continue
				}
				for _, side := range []struct {
					got []float32
					img []uint8
				}{{got, images[id][c]}, {next, images[id+1][c]}} {
					ok, sh := matchesShift(t, g, side.img, side.got, exact)
					if !ok {
						t.Fatalf("row %d camera %d: %v is no DrQ shift of its image", r, c, side.got)
					}
					if sh {
						shifted++
					}
				}
			}
		}
		if shift && shifted < batch.Size { // 80 of 81 shifts move the image
			t.Errorf("only %d of %d observations shifted", shifted, 4*batch.Size)
		}
	}
}

// Consecutive transitions of an episode share their observation: the
// backbone runs once per observation, not twice per transition.
type countingBackbone struct {
	Backbone
	images int
}

func (c *countingBackbone) Features(dst, images []float32, n int) error {
	c.images += n
	return c.Backbone.Features(dst, images, n)
}

func TestWriterSharesObservations(t *testing.T) {
	cb := &countingBackbone{Backbone: convBackbone(t, 4)}
	buf, _ := replay.NewWithObservations(20, 1, 1, replay.ObservationConfig{Format: replay.Features, Sizes: []int{8, 8}, Copies: 2})
	w, err := NewWriter(buf, cb, cams, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, w, randomImages(rand.New(rand.NewPCG(7, 7)), 15))
	// 3 episodes × 5 observations × 2 cameras × 2 copies.
	if cb.images != 60 || buf.Len() != 12 {
		t.Errorf("%d backbone images for %d transitions, want 60 for 12", cb.images, buf.Len())
	}
	if _, err := NewWriter(buf, cb, cams, false, 1); err == nil {
		t.Error("2 unshifted copies accepted")
	}
}
