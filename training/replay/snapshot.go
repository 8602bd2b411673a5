package replay

import "fmt"

// Snapshot is a buffer's contents for a checkpoint: the first Size rows of
// each column, and the ring position.
type Snapshot struct {
	Size, Pos int
	Columns   map[string][]float32 `json:"-"`
}

// Snapshot copies the stored transitions.
func (b *Buffer) Snapshot() Snapshot {
	tag := make([]float32, b.size)
	for i := range tag {
		tag[i] = float32(b.tag[i])
	}
	return Snapshot{Size: b.size, Pos: b.pos, Columns: map[string][]float32{
		"state": clone(b.state[:b.size*b.stateDim]), "next_state": clone(b.next[:b.size*b.stateDim]),
		"action": clone(b.action[:b.size*b.actionDim]), "reward": clone(b.reward[:b.size]),
		"done": clone(b.done[:b.size]), "tag": tag,
	}}
}

func clone(v []float32) []float32 { return append(make([]float32, 0, len(v)), v...) }

// Restore replaces the buffer's contents with s.
func (b *Buffer) Restore(s Snapshot) error {
	if s.Size < 0 || s.Size > b.capacity || s.Pos < 0 || s.Pos >= b.capacity || (s.Size < b.capacity && s.Pos != s.Size) {
		return fmt.Errorf("replay: snapshot of %d transitions at %d does not fit capacity %d", s.Size, s.Pos, b.capacity)
	}
	for _, c := range []struct {
		name string
		dst  []float32
		per  int
	}{{"state", b.state, b.stateDim}, {"next_state", b.next, b.stateDim}, {"action", b.action, b.actionDim},
		{"reward", b.reward, 1}, {"done", b.done, 1}, {"tag", nil, 1}} {
		src := s.Columns[c.name]
		if len(src) != s.Size*c.per {
			return fmt.Errorf("replay: snapshot column %s has %d values, want %d×%d", c.name, len(src), s.Size, c.per)
		}
		if c.dst != nil {
			copy(c.dst, src)
		}
	}
	for i, t := range s.Columns["tag"] {
		b.tag[i] = uint8(t)
	}
	b.size, b.pos = s.Size, s.Pos
	return nil
}
