// Package models defines e2hil's networks once: a named parameter store that
// training, checkpoints and the ONNX exporter all walk in the same order;
// Gorgonia graph builders (layers as plain functions over a Graph that binds
// the store's tensors); custom Gorgonia ops with hand-written gradients where
// Gorgonia lacks an op or its composite is slow; and the exporters to ONNX.
//
// It must not import training or inference.
package models
