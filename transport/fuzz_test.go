package transport

import (
	"math"
	"testing"

	pb "github.com/e2hil/e2hil/transport/transportpb"
	"google.golang.org/protobuf/proto"
)

// FuzzAccept: whatever bytes arrive as a transition batch, the server
// neither panics nor lets through a transition that breaks the schema.
func FuzzAccept(f *testing.F) {
	good := goodTransition()
	bad := goodTransition()
	bad.State[0] = float32(math.NaN())
	for _, steps := range [][]Transition{{good}, {good, bad}, {}} {
		b := &pb.TransitionBatch{ActorId: "a", Session: 1, Seq: 1}
		for i := range steps {
			b.Steps = append(b.Steps, toPB(&steps[i]))
		}
		msg, err := proto.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	f.Add([]byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Server{
			cfg:      ServerConfig{Schema: testSchema, MaxMessageBytes: 1 << 20},
			stats:    ServerStats{Rejected: map[string]int64{}, Actors: map[string]ActorStats{}},
			sessions: map[string][2]uint64{},
		}
		b, ok := s.accept(data)
		if !ok {
			return
		}
		for _, tr := range b.Transitions {
			if reason, err := testSchema.check(toPB(&tr)); err != nil {
				t.Fatalf("accepted a transition the schema rejects (%s): %v", reason, err)
			}
		}
	})
}
