// Package transportpb holds the Go types and gRPC stubs generated from
// transport.proto, the actor ⇄ learner wire format. Use package transport,
// which chunks, authenticates and validates; this package is its wire layer.
//
// transport.pb.go and transport_grpc.pb.go are generated and committed. To
// regenerate them (needs protoc: `apt-get install protobuf-compiler`, or
// `make deps`):
//
//	go generate ./transport/transportpb
package transportpb

//go:generate go run gen.go
