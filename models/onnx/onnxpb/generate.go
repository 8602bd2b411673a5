// Package onnxpb holds the Go types generated from onnx.proto, the subset of
// the ONNX file format that e2hil writes and reads. Use package onnx, which
// builds and inspects models; this package is its wire layer.
//
// onnx.pb.go is generated and committed. To regenerate it (needs protoc:
// `apt-get install protobuf-compiler`, or `make deps`):
//
//	go generate ./models/onnx/onnxpb
package onnxpb

//go:generate go run gen.go
