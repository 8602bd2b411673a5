package transport

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	pb "github.com/e2hil/e2hil/transport/transportpb"
)

const (
	begin  = pb.TransferState_TRANSFER_BEGIN
	middle = pb.TransferState_TRANSFER_MIDDLE
	end    = pb.TransferState_TRANSFER_END
)

func TestChunksRoundTrip(t *testing.T) {
	const size = 4
	for _, tc := range []struct {
		n      int
		states []pb.TransferState
	}{
		{0, []pb.TransferState{end}},
		{1, []pb.TransferState{end}},
		{size, []pb.TransferState{end}}, // one chunk: END alone, as LeRobot
		{size + 1, []pb.TransferState{begin, end}},
		{3*size + 2, []pb.TransferState{begin, middle, middle, end}},
	} {
		payload := make([]byte, tc.n)
		for i := range payload {
			payload[i] = byte(i)
		}
		var states []pb.TransferState
		a := assembler{max: 1 << 20}
		var got []byte
		err := chunks(payload, size, func(s pb.TransferState, d []byte) error {
			states = append(states, s)
			out, err := a.add(s, d)
			if out != nil {
				got = out
			}
			return err
		})
		if err != nil {
			t.Fatalf("%d bytes: %v", tc.n, err)
		}
		if !slices.Equal(states, tc.states) {
			t.Errorf("%d bytes: states %v, want %v", tc.n, states, tc.states)
		}
		if !bytes.Equal(got, payload) || (got == nil && tc.n > 0) {
			t.Errorf("%d bytes: reassembled %d bytes", tc.n, len(got))
		}
	}
}

func TestAssemblerRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []pb.TransferState
		size   int
		tooBig bool
	}{
		{"middle without begin", []pb.TransferState{middle}, 1, false},
		{"unknown state", []pb.TransferState{pb.TransferState_TRANSFER_UNKNOWN}, 1, false},
		{"beyond the bound", []pb.TransferState{begin, middle, middle}, 6, true},
	} {
		a := assembler{max: 10}
		var err error
		for _, s := range tc.states {
			if _, err = a.add(s, make([]byte, tc.size)); err != nil {
				break
			}
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
		} else if errors.Is(err, ErrTooLarge) != tc.tooBig {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
