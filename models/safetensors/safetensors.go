// Package safetensors reads and writes the Hugging Face safetensors format
// (an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian data), float32
// only. It is how e2hil stores checkpoints and how pretrained weights such
// as helper2424/resnet10 arrive.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/e2hil/e2hil/internal/atomicfile"
)

// Tensor is one named float32 array.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

type entry struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// maxHeader bounds the JSON header a reader accepts (the format's own limit).
const maxHeader = 100 << 20

// Encode serialises tensors (in the given order) with optional string
// metadata.
func Encode(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, t := range tensors {
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if n != len(t.Data) {
			return nil, fmt.Errorf("safetensors: %s: shape %v holds %d values, data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		if _, dup := header[t.Name]; dup || t.Name == "__metadata__" {
			return nil, fmt.Errorf("safetensors: duplicate or reserved tensor name %q", t.Name)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = entry{Dtype: "F32", Shape: shape, DataOffsets: [2]int64{off, off + 4*int64(len(t.Data))}}
		off += 4 * int64(len(t.Data))
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	for len(hj)%8 != 0 { // the reference writer pads the header with spaces to 8 bytes
		hj = append(hj, ' ')
	}
	buf := bytes.NewBuffer(make([]byte, 0, 8+len(hj)+int(off)))
	binary.Write(buf, binary.LittleEndian, uint64(len(hj)))
	buf.Write(hj)
	b4 := make([]byte, 4)
	for _, t := range tensors {
		for _, v := range t.Data {
			binary.LittleEndian.PutUint32(b4, math.Float32bits(v))
			buf.Write(b4)
		}
	}
	return buf.Bytes(), nil
}

// WriteFile encodes and writes atomically.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	b, err := Encode(tensors, metadata)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, b, 0o644)
}

// File is a decoded safetensors file.
type File struct {
	Tensors  map[string]Tensor
	Metadata map[string]string
}

// Names lists the tensors sorted by name.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Decode parses a safetensors file; F32 tensors are returned as is, F16/BF16
// and F64 are converted to float32 (pretrained weights come in all of them).
func Decode(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("safetensors: %d bytes is too short for a header", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > maxHeader || n > uint64(len(b)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the file (%d bytes)", n, len(b))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &raw); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	data := b[8+n:]
	f := &File{Tensors: map[string]Tensor{}}
	for name, r := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(r, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__: %w", err)
			}
			continue
		}
		var e entry
		if err := json.Unmarshal(r, &e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		size := map[string]int64{"F32": 4, "F16": 2, "BF16": 2, "F64": 8}[e.Dtype]
		if size == 0 {
			return nil, fmt.Errorf("safetensors: tensor %q: dtype %q not supported (F32, F16, BF16, F64)", name, e.Dtype)
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q: negative dimension in %v", name, e.Shape)
			}
			count *= int64(d)
			if count > int64(len(data)) { // also stops overflow
				return nil, fmt.Errorf("safetensors: tensor %q: shape %v exceeds the %d data bytes", name, e.Shape, len(data))
			}
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		if lo < 0 || hi < lo || hi > int64(len(data)) || hi-lo != count*size {
			return nil, fmt.Errorf("safetensors: tensor %q: byte range [%d, %d) does not fit shape %v of %s in %d data bytes", name, lo, hi, e.Shape, e.Dtype, len(data))
		}
		vals := make([]float32, count)
		src := data[lo:hi]
		for i := range vals {
			switch e.Dtype {
			case "F32":
				vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			case "F64":
				vals[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
			case "BF16":
				vals[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
			case "F16":
				vals[i] = half(binary.LittleEndian.Uint16(src[2*i:]))
			}
		}
		f.Tensors[name] = Tensor{Name: name, Shape: e.Shape, Data: vals}
	}
	return f, nil
}

// ReadFile reads and decodes a file.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(fh)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// half converts an IEEE 754 binary16 to float32.
func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(mant) / 1024 * float32(math.Pow(2, -14))
		if sign != 0 {
			return -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
