package dataset

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/parquet/metadata"
)

// arrow-go deserialises the ARROW:schema key of a Parquet file's metadata
// (the IPC schema message pyarrow and we write) without bounds checks: a
// damaged vector length makes it allocate tens of gigabytes and the process
// dies of OOM, which no recover catches. checkArrowSchema walks that
// FlatBuffer first (Message → Schema → Field tree → KeyValue, with every
// offset and vector length checked against the buffer) so a damaged file
// is an error naming the key instead.

const arrowSchemaKey = "ARROW:schema"

var errBadFlatBuffer = errors.New("malformed FlatBuffer")

func checkArrowSchema(kv metadata.KeyValueMetadata) error {
	v := kv.FindValue(arrowSchemaKey)
	if v == nil {
		return nil
	}
	// pqarrow accepts padded and unpadded base64; so do we.
	b, err := base64.StdEncoding.DecodeString(*v)
	if len(*v)%4 != 0 || err != nil || len(b) == 0 {
		b, err = base64.RawStdEncoding.DecodeString(*v)
	}
	if err != nil {
		return fmt.Errorf("metadata %s: base64: %w", arrowSchemaKey, err)
	}
	// IPC framing: [0xFFFFFFFF] int32 length, then the Message FlatBuffer.
	if len(b) >= 4 && binary.LittleEndian.Uint32(b) == 0xFFFFFFFF {
		b = b[4:]
	}
	if len(b) < 4 {
		return fmt.Errorf("metadata %s: %w: %d bytes", arrowSchemaKey, errBadFlatBuffer, len(b))
	}
	n := int64(int32(binary.LittleEndian.Uint32(b)))
	b = b[4:]
	if n < 8 || n > int64(len(b)) {
		return fmt.Errorf("metadata %s: %w: message length %d, %d bytes follow", arrowSchemaKey, errBadFlatBuffer, n, len(b))
	}
	fb := flatBuf(b[:n])
	msg, err := fb.root()
	if err == nil {
		err = fb.checkMessage(msg)
	}
	if err != nil {
		return fmt.Errorf("metadata %s: %w", arrowSchemaKey, err)
	}
	return nil
}

// flatBuf reads a FlatBuffer with every access bounds-checked.
type flatBuf []byte

func (f flatBuf) u32(p int) (uint32, error) {
	if p < 0 || p+4 > len(f) {
		return 0, fmt.Errorf("%w: offset %d outside %d bytes", errBadFlatBuffer, p, len(f))
	}
	return binary.LittleEndian.Uint32(f[p:]), nil
}

func (f flatBuf) root() (int, error) {
	off, err := f.u32(0)
	if err != nil {
		return 0, err
	}
	return f.table(int(off))
}

// table checks the table at t (its vtable and its inline size) and
// returns t.
func (f flatBuf) table(t int) (int, error) {
	so, err := f.u32(t)
	if err != nil {
		return 0, err
	}
	vt := t - int(int32(so))
	if vt < 0 || vt+4 > len(f) {
		return 0, fmt.Errorf("%w: vtable at %d", errBadFlatBuffer, vt)
	}
	vsize := int(binary.LittleEndian.Uint16(f[vt:]))
	tsize := int(binary.LittleEndian.Uint16(f[vt+2:]))
	if vsize < 4 || vsize%2 != 0 || vt+vsize > len(f) || t+tsize > len(f) {
		return 0, fmt.Errorf("%w: table at %d (vtable %d bytes, table %d bytes)", errBadFlatBuffer, t, vsize, tsize)
	}
	for i := 4; i < vsize; i += 2 {
		if fo := int(binary.LittleEndian.Uint16(f[vt+i:])); fo != 0 && fo >= tsize {
			return 0, fmt.Errorf("%w: field %d of table at %d beyond its %d bytes", errBadFlatBuffer, (i-4)/2, t, tsize)
		}
	}
	return t, nil
}

// field is the position of field i of table t, or 0 when absent.
func (f flatBuf) field(t, i int) int {
	so := int32(binary.LittleEndian.Uint32(f[t:]))
	vt := t - int(so)
	vsize := int(binary.LittleEndian.Uint16(f[vt:]))
	if 4+2*i+2 > vsize {
		return 0
	}
	fo := int(binary.LittleEndian.Uint16(f[vt+4+2*i:]))
	if fo == 0 {
		return 0
	}
	return t + fo
}

// ref follows the uoffset at p (a sub-table, vector or string).
func (f flatBuf) ref(p int) (int, error) {
	off, err := f.u32(p)
	if err != nil {
		return 0, err
	}
	return p + int(off), nil
}

// vector returns the position of the first element and the length of the
// vector referenced from p, checking that n elements of size fit.
func (f flatBuf) vector(p, size int) (int, int, error) {
	v, err := f.ref(p)
	if err != nil {
		return 0, 0, err
	}
	n, err := f.u32(v)
	if err != nil {
		return 0, 0, err
	}
	if int64(n)*int64(size) > int64(len(f)-v-4) {
		return 0, 0, fmt.Errorf("%w: vector of %d × %d bytes at %d in %d bytes", errBadFlatBuffer, n, size, v, len(f))
	}
	return v + 4, int(n), nil
}

// tables checks each table of a vector of tables (field i of t) with fn.
func (f flatBuf) tables(t, i int, depth int, fn func(int, int) error) error {
	p := f.field(t, i)
	if p == 0 {
		return nil
	}
	first, n, err := f.vector(p, 4)
	if err != nil {
		return err
	}
	for k := 0; k < n; k++ {
		st, err := f.ref(first + 4*k)
		if err == nil {
			st, err = f.table(st)
		}
		if err == nil {
			err = fn(st, depth)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sub checks the optional sub-table in field i of t.
func (f flatBuf) sub(t, i int) (int, error) {
	p := f.field(t, i)
	if p == 0 {
		return 0, nil
	}
	st, err := f.ref(p)
	if err != nil {
		return 0, err
	}
	return f.table(st)
}

func (f flatBuf) str(t, i int) error {
	if p := f.field(t, i); p != 0 {
		_, _, err := f.vector(p, 1)
		return err
	}
	return nil
}

func (f flatBuf) keyValue(t, _ int) error {
	if err := f.str(t, 0); err != nil {
		return err
	}
	return f.str(t, 1)
}

// Message: version, header_type, header (Schema), bodyLength, custom_metadata.
func (f flatBuf) checkMessage(m int) error {
	if err := f.tables(m, 4, 0, f.keyValue); err != nil {
		return err
	}
	s, err := f.sub(m, 2)
	if err != nil || s == 0 {
		if err == nil {
			err = fmt.Errorf("%w: message without a schema", errBadFlatBuffer)
		}
		return err
	}
	// Schema: endianness, fields, custom_metadata, features ([long]).
	if err := f.tables(s, 2, 0, f.keyValue); err != nil {
		return err
	}
	if p := f.field(s, 3); p != 0 {
		if _, _, err := f.vector(p, 8); err != nil {
			return err
		}
	}
	return f.tables(s, 1, 0, f.checkField)
}

// Field: name, nullable, type_type, type, dictionary, children, custom_metadata.
func (f flatBuf) checkField(t, depth int) error {
	if depth > 64 {
		return fmt.Errorf("%w: fields nested deeper than 64", errBadFlatBuffer)
	}
	if err := f.str(t, 0); err != nil {
		return err
	}
	typ, err := f.sub(t, 3)
	if err != nil {
		return err
	}
	// Union's typeIds ([int]) is the only vector inside a type table.
	if typ != 0 && f.field(t, 2) != 0 && f[f.field(t, 2)] == 14 {
		if p := f.field(typ, 1); p != 0 {
			if _, _, err := f.vector(p, 4); err != nil {
				return err
			}
		}
	}
	dict, err := f.sub(t, 4)
	if err != nil {
		return err
	}
	if dict != 0 { // DictionaryEncoding: id, indexType (Int), isOrdered, kind
		if _, err := f.sub(dict, 1); err != nil {
			return err
		}
	}
	if err := f.tables(t, 6, depth, f.keyValue); err != nil {
		return err
	}
	return f.tables(t, 5, depth+1, f.checkField)
}
