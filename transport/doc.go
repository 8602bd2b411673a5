// Package transport carries HIL-SERL's actor ⇄ learner traffic over gRPC:
// transitions and episode statistics from actors to the learner, fresh ONNX
// policies from the learner to actors, and a health check.
//
// It keeps LeRobot's service shape (shared/design/HILSERL.md §3: the
// LearnerService methods, TransferState chunks of 2 MiB under a 4 MiB
// message limit) and fixes its known failures (§7.5): the server has no
// worker cap, every client call that waits has a deadline or a context,
// keepalives notice dead peers, a token guards every RPC, and every incoming
// transition is validated before the learner sees it.
//
// Delivery: an actor keeps each batch until the learner acknowledges it
// and resends it otherwise; a learner drops batches it already has (actor
// session and sequence number), so within one learner process delivery is
// exactly once, and across a learner restart at least once (a batch the old
// learner queued as it stopped may reach the new one too).
//
// The package owns the wire (transportpb), chunking, authentication, TLS,
// validation, backpressure and reconnection. It must not know the learner's
// internals: the learner reads validated Batches from Server.Batches and
// publishes policies as ONNX bytes with Server.Publish.
package transport
