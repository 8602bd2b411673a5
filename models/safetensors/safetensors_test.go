package safetensors

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	in := []Tensor{
		{Name: "a.weight", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30}},
		{Name: "log_alpha", Shape: []int{1}, Data: []float32{-4.6}},
		{Name: "scalar", Shape: []int{}, Data: []float32{7}},
	}
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(p, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || len(f.Tensors) != 3 {
		t.Fatalf("file %+v", f)
	}
	for _, w := range in {
		g := f.Tensors[w.Name]
		if len(g.Shape) != len(w.Shape) || len(g.Data) != len(w.Data) {
			t.Fatalf("%s: %v", w.Name, g)
		}
		for i := range w.Data {
			if g.Data[i] != w.Data[i] {
				t.Errorf("%s[%d] = %g, want %g", w.Name, i, g.Data[i], w.Data[i])
			}
		}
	}
}

// The layout is the reference one: header length, JSON header padded to 8
// bytes, then data at the stated offsets.
func TestLayout(t *testing.T) {
	b, err := Encode([]Tensor{{Name: "x", Shape: []int{2}, Data: []float32{1, 2}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 || !strings.HasPrefix(string(b[8:8+n]), `{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`) {
		t.Errorf("header %q", b[8:8+n])
	}
	if math.Float32frombits(binary.LittleEndian.Uint32(b[8+n+4:])) != 2 {
		t.Error("data not little-endian at its offset")
	}
}

func TestDecodeOtherDtypes(t *testing.T) {
	hdr := `{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[6,8]}}`
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	b = append(b, hdr...)
	b = binary.LittleEndian.AppendUint16(b, 0x3c00) // 1.0
	b = binary.LittleEndian.AppendUint16(b, 0xc000) // -2.0
	b = binary.LittleEndian.AppendUint16(b, 0x0001) // smallest subnormal
	b = binary.LittleEndian.AppendUint16(b, 0x3fc0) // bf16 1.5
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	h := f.Tensors["h"].Data
	if h[0] != 1 || h[1] != -2 || math.Abs(float64(h[2])-5.960464477539063e-08) > 1e-15 || f.Tensors["b"].Data[0] != 1.5 {
		t.Errorf("decoded %v %v", h, f.Tensors["b"].Data)
	}
}

func TestDecodeRejects(t *testing.T) {
	mk := func(hdr string, data int) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
		return append(append(b, hdr...), make([]byte, data)...)
	}
	cases := []struct {
		b    []byte
		want string
	}{
		{[]byte{1, 2}, "too short"},
		{binary.LittleEndian.AppendUint64(nil, 1<<40), "exceeds the file"},
		{mk(`{"x":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, 1), `dtype "I8" not supported`},
		{mk(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "does not fit shape"},
		{mk(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 2), "does not fit shape"},
		{mk(`not json`, 0), "header"},
	}
	for _, tc := range cases {
		if _, err := Decode(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode = %v, want %q", err, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode([]Tensor{{Name: "x", Shape: []int{2, 1}, Data: []float32{1, 2}}}, map[string]string{"k": "v"})
	f.Add(good)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode(b) // must not panic or allocate without bound
	})
}
