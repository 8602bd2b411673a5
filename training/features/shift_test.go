package features

import (
	"math/rand/v2"
	"testing"
)

// reference is DrQ's random shift written as LeRobot does it, literally:
// pad the CHW float image by Pad with replication, then crop h×w at
// (Pad+DY, Pad+DX).
func reference(src []uint8, h, w int, s Shift) []float32 {
	ph, pw := h+2*Pad, w+2*Pad
	padded := make([]float32, 3*ph*pw)
	for c := 0; c < 3; c++ {
		for y := 0; y < ph; y++ {
			for x := 0; x < pw; x++ {
				sy, sx := y-Pad, x-Pad
				if sy < 0 {
					sy = 0
				}
				if sy >= h {
					sy = h - 1
				}
				if sx < 0 {
					sx = 0
				}
				if sx >= w {
					sx = w - 1
				}
				padded[(c*ph+y)*pw+x] = float32(src[(sy*w+sx)*3+c]) / 255
			}
		}
	}
	out := make([]float32, 3*h*w)
	top, left := Pad+s.DY, Pad+s.DX
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out[(c*h+y)*w+x] = padded[(c*ph+top+y)*pw+left+x]
			}
		}
	}
	return out
}

func TestShiftMatchesPadAndCrop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][2]int{{7, 5}, {12, 12}, {3, 9}} {
		h, w := sz[0], sz[1]
		src := make([]uint8, 3*h*w)
		for i := range src {
			src[i] = uint8(rng.IntN(256))
		}
		dst := make([]float32, 3*h*w)
		for dy := -Pad; dy <= Pad; dy++ {
			for dx := -Pad; dx <= Pad; dx++ {
				s := Shift{dy, dx}
				if err := ToCHW(dst, src, h, w, s); err != nil {
					t.Fatal(err)
				}
				want := reference(src, h, w, s)
				for i := range want {
					if dst[i] != want[i] {
						t.Fatalf("%d×%d shift %+v: value %d = %g, reference %g", h, w, s, i, dst[i], want[i])
					}
				}
			}
		}
	}
	if err := ToCHW(make([]float32, 12), make([]uint8, 12), 2, 2, Shift{5, 0}); err == nil {
		t.Error("a shift beyond the pad was accepted")
	}
}

func TestRandomShiftCoversTheRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	seen := map[Shift]int{}
	for i := 0; i < 20000; i++ {
		seen[RandomShift(rng)]++
	}
	if len(seen) != (2*Pad+1)*(2*Pad+1) {
		t.Fatalf("%d distinct shifts, want %d", len(seen), (2*Pad+1)*(2*Pad+1))
	}
	for s, n := range seen {
		if s.DY < -Pad || s.DY > Pad || s.DX < -Pad || s.DX > Pad || n < 150 {
			t.Errorf("shift %+v drawn %d times of 20000 (≈ 247 expected)", s, n)
		}
	}
}
