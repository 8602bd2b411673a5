package replay

import (
	"fmt"
	"strconv"
)

// Snapshot is a buffer's contents for a checkpoint: each column's stored
// rows from the oldest on (the whole ring, in ring order, when full), and the
// ring position. A camera buffer adds each row's observation slots
// ("obs_slot", "next_slot"), every slot's data per camera
// ("observations.<camera>", float16 features or image bytes as float32,
// exactly) and "slot_state" = [next slot, newest next observation's slot].
type Snapshot struct {
	Size, Pos int
	Columns   map[string][]float32 `json:"-"`
}

// Snapshot copies the stored transitions.
func (b *Buffer) Snapshot() Snapshot {
	pos := b.pos
	if b.size < b.capacity {
		pos = b.size // rows are written from 0 on restore
	}
	gather := func(col []float32, per int) []float32 {
		out := make([]float32, 0, b.size*per)
		for k := 0; k < b.size; k++ {
			i := b.row(k)
			out = append(out, col[i*per:(i+1)*per]...)
		}
		return out
	}
	tag := make([]float32, b.size)
	for k := range tag {
		tag[k] = float32(b.tag[b.row(k)])
	}
	s := Snapshot{Size: b.size, Pos: pos, Columns: map[string][]float32{
		"state": gather(b.state, b.stateDim), "next_state": gather(b.next, b.stateDim),
		"action": gather(b.action, b.actionDim), "reward": gather(b.reward, 1),
		"done": gather(b.done, 1), "tag": tag,
	}}
	if o := b.obs; o != nil {
		os, ns := make([]float32, b.size), make([]float32, b.size)
		for k := range os {
			os[k], ns[k] = float32(b.obsSlot[b.row(k)]), float32(b.nextSlot[b.row(k)])
		}
		s.Columns["obs_slot"], s.Columns["next_slot"] = os, ns
		s.Columns["slot_state"] = []float32{float32(o.pos), float32(o.last)}
		for c := range o.cfg.Sizes {
			var v []float32
			if o.cfg.Format == Features {
				v = make([]float32, len(o.half[c]))
				halfToFloat(v, o.half[c])
			} else {
				v = make([]float32, len(o.bytes[c]))
				for i, x := range o.bytes[c] {
					v[i] = float32(x)
				}
			}
			s.Columns["observations."+strconv.Itoa(c)] = v
		}
	}
	return s
}

// Restore replaces the buffer's contents with s.
func (b *Buffer) Restore(s Snapshot) error {
	if s.Size < 0 || s.Size > b.capacity || s.Pos < 0 || s.Pos >= b.capacity || (s.Size < b.capacity && s.Pos != s.Size) {
		return fmt.Errorf("replay: snapshot of %d transitions at %d does not fit capacity %d", s.Size, s.Pos, b.capacity)
	}
	type column struct {
		name string
		dst  []float32
		per  int
	}
	cols := []column{{"state", b.state, b.stateDim}, {"next_state", b.next, b.stateDim}, {"action", b.action, b.actionDim},
		{"reward", b.reward, 1}, {"done", b.done, 1}, {"tag", nil, 1}}
	if b.obs != nil {
		cols = append(cols, column{"obs_slot", nil, 1}, column{"next_slot", nil, 1})
	}
	for _, c := range cols {
		if src := s.Columns[c.name]; len(src) != s.Size*c.per {
			return fmt.Errorf("replay: snapshot column %s has %d values, want %d×%d", c.name, len(src), s.Size, c.per)
		}
	}
	if o := b.obs; o != nil {
		st := s.Columns["slot_state"]
		if len(st) != 2 || st[0] < 0 || int(st[0]) >= o.n || st[1] < -1 || int(st[1]) >= o.n {
			return fmt.Errorf("replay: snapshot slot_state %v does not fit %d slots", st, o.n)
		}
		for _, name := range []string{"obs_slot", "next_slot"} {
			for _, v := range s.Columns[name] {
				if v < 0 || int(v) >= o.n {
					return fmt.Errorf("replay: snapshot %s %g does not fit %d slots", name, v, o.n)
				}
			}
		}
		for c, size := range o.cfg.Sizes {
			name := "observations." + strconv.Itoa(c)
			if want := o.n * o.cfg.Copies * size; len(s.Columns[name]) != want {
				return fmt.Errorf("replay: snapshot column %s has %d values, want %d", name, len(s.Columns[name]), want)
			}
		}
		clear(o.ref)
		for k := 0; k < s.Size; k++ {
			b.obsSlot[k], b.nextSlot[k] = int32(s.Columns["obs_slot"][k]), int32(s.Columns["next_slot"][k])
			o.ref[b.obsSlot[k]]++
			o.ref[b.nextSlot[k]]++
		}
		o.pos, o.last = int(st[0]), int32(st[1])
		for c := range o.cfg.Sizes {
			v := s.Columns["observations."+strconv.Itoa(c)]
			if o.cfg.Format == Features {
				floatToHalf(o.half[c], v)
			} else {
				for i, x := range v {
					o.bytes[c][i] = uint8(x)
				}
			}
		}
	}
	for _, c := range cols {
		if c.dst != nil {
			copy(c.dst, s.Columns[c.name])
		}
	}
	for i, t := range s.Columns["tag"] {
		b.tag[i] = uint8(t)
	}
	b.size, b.pos = s.Size, s.Pos
	return nil
}
