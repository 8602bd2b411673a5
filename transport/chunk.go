package transport

import (
	"errors"
	"fmt"

	pb "github.com/e2hil/e2hil/transport/transportpb"
)

// Wire limits (LeRobot's CHUNK_SIZE and MAX_MESSAGE_SIZE).
const (
	ChunkSize      = 2 << 20
	MaxMessageSize = 4 << 20
)

// chunks splits payload as LeRobot's send_bytes_in_chunks does: a payload
// of at most one chunk is a single END; a larger one is BEGIN, MIDDLE…, END.
func chunks(payload []byte, size int, emit func(pb.TransferState, []byte) error) error {
	if len(payload) == 0 {
		return emit(pb.TransferState_TRANSFER_END, nil)
	}
	for sent := 0; sent < len(payload); sent += size {
		end := min(sent+size, len(payload))
		state := pb.TransferState_TRANSFER_MIDDLE
		switch {
		case end == len(payload):
			state = pb.TransferState_TRANSFER_END
		case sent == 0:
			state = pb.TransferState_TRANSFER_BEGIN
		}
		if err := emit(state, payload[sent:end]); err != nil {
			return err
		}
	}
	return nil
}

// ErrTooLarge: a reassembled message exceeded the assembler's bound.
var ErrTooLarge = errors.New("transport: message too large")

// assembler rebuilds payloads from chunks (receive_bytes_in_chunks), with a
// bound on the reassembled size so a peer cannot grow memory without limit.
type assembler struct {
	buf     []byte
	started bool
	max     int
}

// add takes one chunk; it returns the whole payload at END.
func (a *assembler) add(state pb.TransferState, data []byte) ([]byte, error) {
	switch state {
	case pb.TransferState_TRANSFER_BEGIN:
		a.buf, a.started = append(a.buf[:0], data...), true
	case pb.TransferState_TRANSFER_MIDDLE:
		if !a.started {
			return nil, fmt.Errorf("transport: chunk MIDDLE without BEGIN")
		}
		a.buf = append(a.buf, data...)
	case pb.TransferState_TRANSFER_END:
		if !a.started {
			a.buf = a.buf[:0]
		}
		a.buf = append(a.buf, data...)
		a.started = false
		out := a.buf
		a.buf = nil
		return out, nil
	default:
		return nil, fmt.Errorf("transport: chunk transfer_state %v", state)
	}
	if len(a.buf) > a.max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, a.max)
	}
	return nil, nil
}
