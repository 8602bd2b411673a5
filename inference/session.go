package inference

import (
	"errors"
	"fmt"
	"strconv"

	ort "github.com/yalue/onnxruntime_go"
)

// ElemType is the element type of a model input or output.
type ElemType int

// The element types a Session handles: inputs are float32; outputs float32
// or int64 (an ArgMax index).
const (
	Float32 ElemType = iota + 1
	Int64
)

func (t ElemType) String() string {
	switch t {
	case Float32:
		return "float32"
	case Int64:
		return "int64"
	}
	return "ElemType(" + strconv.Itoa(int(t)) + ")"
}

// TensorInfo is a model input or output as onnxruntime reports it.
type TensorInfo struct {
	Name string
	Type ElemType
	// Dims has -1 for the dynamic batch axis; only the leading axis may be
	// dynamic.
	Dims []int64
}

// SessionOptions tune a Session. The zero value is the default: one thread,
// which is what a per-step policy on a shared machine wants (small matrices
// gain nothing from a thread pool, and spinning pool threads steal cores).
type SessionOptions struct {
	// IntraOpThreads is the number of threads one operator may use; 0 means 1.
	IntraOpThreads int
	// InterOpThreads is the number of threads running independent operators
	// at once; 0 means 1.
	InterOpThreads int
}

// ErrClosed is returned by a Session's methods after Close.
var ErrClosed = errors.New("inference session closed")

// Session is one model loaded in onnxruntime, with an input and an output
// buffer per tensor allocated at batch 1. Fill the slices Input returns, call
// Run, read the slices Output returns: no allocation per step. RunBatch runs
// other batch sizes with fresh buffers.
//
// A Session is not safe for concurrent use: the buffers are shared state.
type Session struct {
	sess    *ort.DynamicAdvancedSession
	binding *ort.IoBinding

	inputs, outputs []TensorInfo
	inIndex         map[string]int
	outIndex        map[string]int

	// The batch-1 tensors bound to the session, and their data slices.
	inTensors  []*ort.Tensor[float32]
	outTensors []ort.Value
	inData     [][]float32
	outF32     [][]float32 // nil at an int64 output
	outI64     [][]int64   // nil at a float32 output
}

// NewSession loads a model from its ONNX bytes (initialising onnxruntime if
// needed), discovers its inputs and outputs, and allocates their batch-1
// buffers. Close it when done.
func NewSession(model []byte, opts SessionOptions) (*Session, error) {
	s, err := newSession(model, opts)
	if err != nil {
		return nil, fmt.Errorf("new inference session: %w", err)
	}
	return s, nil
}

func newSession(model []byte, opts SessionOptions) (_ *Session, err error) {
	if err := Init(); err != nil {
		return nil, err
	}
	if opts.IntraOpThreads < 0 || opts.InterOpThreads < 0 {
		return nil, fmt.Errorf("threads: must be ≥ 0, got intra-op %d, inter-op %d", opts.IntraOpThreads, opts.InterOpThreads)
	}
	// This loads the model in a throwaway onnxruntime session: the
	// DynamicAdvancedSession below needs the names before it exists.
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	s := &Session{inIndex: map[string]int{}, outIndex: map[string]int{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	for _, in := range ins {
		ti, err := tensorInfo(in, "input")
		if err != nil {
			return nil, err
		}
		if ti.Type != Float32 {
			return nil, fmt.Errorf("input %q: type %s: only float32 inputs are supported", ti.Name, in.DataType)
		}
		s.inIndex[ti.Name] = len(s.inputs)
		s.inputs = append(s.inputs, ti)
	}
	for _, out := range outs {
		ti, err := tensorInfo(out, "output")
		if err != nil {
			return nil, err
		}
		s.outIndex[ti.Name] = len(s.outputs)
		s.outputs = append(s.outputs, ti)
	}

	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(max(opts.IntraOpThreads, 1)); err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	if err := so.SetInterOpNumThreads(max(opts.InterOpThreads, 1)); err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	s.sess, err = ort.NewDynamicAdvancedSessionWithONNXData(model, names(s.inputs), names(s.outputs), so)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}

	// The hot path: batch-1 tensors bound once to an IoBinding, so Run is a
	// single cgo call (DynamicAdvancedSession.Run allocates its argument
	// arrays on every call).
	s.binding, err = s.sess.CreateIoBinding()
	if err != nil {
		return nil, fmt.Errorf("io binding: %w", err)
	}
	for _, ti := range s.inputs {
		t, err := ort.NewEmptyTensor[float32](ort.NewShape(shapeAt(ti.Dims, 1)...))
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", ti.Name, err)
		}
		s.inTensors = append(s.inTensors, t)
		s.inData = append(s.inData, t.GetData())
		if err := s.binding.BindInput(ti.Name, t); err != nil {
			return nil, fmt.Errorf("bind input %q: %w", ti.Name, err)
		}
	}
	for _, ti := range s.outputs {
		v, f32, i64, err := newOutput(ti, 1)
		if err != nil {
			return nil, err
		}
		s.outTensors = append(s.outTensors, v)
		s.outF32 = append(s.outF32, f32)
		s.outI64 = append(s.outI64, i64)
		if err := s.binding.BindOutput(ti.Name, v); err != nil {
			return nil, fmt.Errorf("bind output %q: %w", ti.Name, err)
		}
	}
	return s, nil
}

func tensorInfo(io ort.InputOutputInfo, kind string) (TensorInfo, error) {
	ti := TensorInfo{Name: io.Name, Dims: append([]int64{}, io.Dimensions...)}
	if io.OrtValueType != ort.ONNXTypeTensor {
		return ti, fmt.Errorf("%s %q: a %s: only tensors are supported", kind, io.Name, io.OrtValueType)
	}
	switch io.DataType {
	case ort.TensorElementDataTypeFloat:
		ti.Type = Float32
	case ort.TensorElementDataTypeInt64:
		ti.Type = Int64
	default:
		return ti, fmt.Errorf("%s %q: type %s: only float32 and int64 are supported", kind, io.Name, io.DataType)
	}
	if len(ti.Dims) == 0 {
		// onnxruntime_go cannot make rank-0 tensors.
		return ti, fmt.Errorf("%s %q: a scalar: give it shape [1]", kind, io.Name)
	}
	for i, d := range ti.Dims {
		if d < 0 && i > 0 {
			return ti, fmt.Errorf("%s %q: dims %v: only the leading (batch) axis may be dynamic", kind, io.Name, ti.Dims)
		}
	}
	return ti, nil
}

func names(tis []TensorInfo) []string {
	n := make([]string, len(tis))
	for i, ti := range tis {
		n[i] = ti.Name
	}
	return n
}

// shapeAt returns dims with the dynamic batch axis set to batch.
func shapeAt(dims []int64, batch int) []int64 {
	shape := append([]int64{}, dims...)
	if len(shape) > 0 && shape[0] < 0 {
		shape[0] = int64(batch)
	}
	return shape
}

func newOutput(ti TensorInfo, batch int) (v ort.Value, f32 []float32, i64 []int64, err error) {
	shape := ort.NewShape(shapeAt(ti.Dims, batch)...)
	switch ti.Type {
	case Float32:
		t, err := ort.NewEmptyTensor[float32](shape)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("output %q: %w", ti.Name, err)
		}
		return t, t.GetData(), nil, nil
	default:
		t, err := ort.NewEmptyTensor[int64](shape)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("output %q: %w", ti.Name, err)
		}
		return t, nil, t.GetData(), nil
	}
}

// Inputs describes the model's inputs, in the model's order.
func (s *Session) Inputs() []TensorInfo { return append([]TensorInfo{}, s.inputs...) }

// Outputs describes the model's outputs, in the model's order.
func (s *Session) Outputs() []TensorInfo { return append([]TensorInfo{}, s.outputs...) }

// Input returns the batch-1 buffer of the named input, to be filled before
// Run; nil if the model has no such input. The slice is the tensor's memory:
// keep it, refill it each step, do not append to it.
func (s *Session) Input(name string) []float32 {
	i, ok := s.inIndex[name]
	if !ok || s.inData == nil {
		return nil
	}
	return s.inData[i]
}

// Output returns the batch-1 buffer of the named float32 output, valid after
// Run and overwritten by the next; nil if the model has no such float32
// output.
func (s *Session) Output(name string) []float32 {
	i, ok := s.outIndex[name]
	if !ok || s.outF32 == nil {
		return nil
	}
	return s.outF32[i]
}

// OutputInt64 is Output for an int64 output.
func (s *Session) OutputInt64(name string) []int64 {
	i, ok := s.outIndex[name]
	if !ok || s.outI64 == nil {
		return nil
	}
	return s.outI64[i]
}

// Run runs the model at batch 1 on the Input buffers, writing the Output
// buffers. It does not allocate.
func (s *Session) Run() error {
	if s.binding == nil {
		return ErrClosed
	}
	if err := s.sess.RunWithBinding(s.binding); err != nil {
		return fmt.Errorf("inference run: %w", err)
	}
	return nil
}

// maxExactInt is the largest magnitude up to which every integer is a
// float32 (2^24).
const maxExactInt = 1 << 24

// RunBatch runs the model on batch rows at once with freshly allocated
// buffers, leaving the batch-1 buffers alone; for tests, parity checks and
// evaluation, not the control loop. inputs maps every input name to its
// row-major data (batch × the rest of its dims). The result maps every output
// name to its data; int64 outputs (indices) are converted to float32, and an
// error is returned rather than round one beyond 2^24.
func (s *Session) RunBatch(inputs map[string][]float32, batch int) (_ map[string][]float32, err error) {
	if s.sess == nil {
		return nil, ErrClosed
	}
	if batch < 1 {
		return nil, fmt.Errorf("run batch: batch %d: must be ≥ 1", batch)
	}
	for name := range inputs {
		if _, ok := s.inIndex[name]; !ok {
			return nil, fmt.Errorf("run batch: model has no input %q (inputs: %v)", name, names(s.inputs))
		}
	}
	var values []ort.Value
	defer func() {
		for _, v := range values {
			if v != nil {
				v.Destroy()
			}
		}
	}()

	dynamic := false
	ins := make([]ort.Value, len(s.inputs))
	for i, ti := range s.inputs {
		dynamic = dynamic || ti.Dims[0] < 0
		data, ok := inputs[ti.Name]
		if !ok {
			return nil, fmt.Errorf("run batch: input %q missing", ti.Name)
		}
		shape := ort.NewShape(shapeAt(ti.Dims, batch)...)
		if int64(len(data)) != shape.FlattenedSize() {
			return nil, fmt.Errorf("run batch: input %q: shape %v needs %d values, got %d", ti.Name, shape, shape.FlattenedSize(), len(data))
		}
		t, err := ort.NewTensor(shape, data)
		if err != nil {
			return nil, fmt.Errorf("run batch: input %q: %w", ti.Name, err)
		}
		values = append(values, t)
		ins[i] = t
	}
	if batch != 1 && !dynamic {
		return nil, fmt.Errorf("run batch: batch %d: the model has no dynamic batch axis", batch)
	}

	outs := make([]ort.Value, len(s.outputs))
	f32 := make([][]float32, len(s.outputs))
	i64 := make([][]int64, len(s.outputs))
	for i, ti := range s.outputs {
		v, f, n, err := newOutput(ti, batch)
		if err != nil {
			return nil, fmt.Errorf("run batch: %w", err)
		}
		values = append(values, v)
		outs[i], f32[i], i64[i] = v, f, n
	}
	if err := s.sess.Run(ins, outs); err != nil {
		return nil, fmt.Errorf("run batch: %w", err)
	}

	res := make(map[string][]float32, len(s.outputs))
	for i, ti := range s.outputs {
		if ti.Type == Float32 {
			res[ti.Name] = append([]float32{}, f32[i]...)
			continue
		}
		conv := make([]float32, len(i64[i]))
		for j, v := range i64[i] {
			if v > maxExactInt || v < -maxExactInt {
				return nil, fmt.Errorf("run batch: output %q[%d] = %d: not exact as float32", ti.Name, j, v)
			}
			conv[j] = float32(v)
		}
		res[ti.Name] = conv
	}
	return res, nil
}

// Close releases the onnxruntime session and the buffers; the slices from
// Input and Output must not be used afterwards. Calling it again does
// nothing.
func (s *Session) Close() error {
	var err error
	if s.binding != nil {
		s.binding.Destroy()
		s.binding = nil
	}
	if s.sess != nil {
		if e := s.sess.Destroy(); e != nil {
			err = fmt.Errorf("close inference session: %w", e)
		}
		s.sess = nil
	}
	for _, t := range s.inTensors {
		t.Destroy()
	}
	for _, t := range s.outTensors {
		t.Destroy()
	}
	s.inTensors, s.outTensors = nil, nil
	s.inData, s.outF32, s.outI64 = nil, nil, nil
	return err
}
