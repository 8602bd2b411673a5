package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// LeRobot writes every JSON file (info.json, stats.json) and every JSON string
// stored in Parquet metadata (huggingface, pandas) with Python's json module.
// This file reproduces that output byte for byte, so files we write diff
// cleanly against files LeRobot writes: key order as inserted, Python's float
// repr (0.0, 1e-05), ", " and ": " separators, indent=4 layout.

// obj is a JSON object whose keys keep their insertion order, as Python dicts do.
type obj []member

type member struct {
	key string
	val any
}

// pyJSON configures the emitter like Python's json.dumps.
type pyJSON struct {
	indent      int  // 0: one line with ", " and ": " separators; n: indent=n
	ensureASCII bool // json.dumps default; json.dump(..., ensure_ascii=False) when false
}

// marshal renders v, which may hold obj, []any, []string, []int, []int64,
// []float64, string, bool, nil, int, int64, float64, json.Number and
// json.RawMessage (re-rendered in this layout, key order kept).
func (p pyJSON) marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := p.write(&buf, v, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (p pyJSON) write(buf *bytes.Buffer, v any, level int) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case string:
		writePyString(buf, x, p.ensureASCII)
	case int:
		buf.WriteString(strconv.Itoa(x))
	case int64:
		buf.WriteString(strconv.FormatInt(x, 10))
	case float64:
		s, err := pyFloat(x)
		if err != nil {
			return err
		}
		buf.WriteString(s)
	case json.Number:
		buf.WriteString(string(x))
	case json.RawMessage:
		dec, err := decodeOrdered(x)
		if err != nil {
			return err
		}
		return p.write(buf, dec, level)
	case []string:
		return p.writeList(buf, len(x), level, func(i int) any { return x[i] })
	case []int:
		return p.writeList(buf, len(x), level, func(i int) any { return x[i] })
	case []int64:
		return p.writeList(buf, len(x), level, func(i int) any { return x[i] })
	case []float64:
		return p.writeList(buf, len(x), level, func(i int) any { return x[i] })
	case []any:
		return p.writeList(buf, len(x), level, func(i int) any { return x[i] })
	case obj:
		if len(x) == 0 {
			buf.WriteString("{}")
			return nil
		}
		buf.WriteByte('{')
		for i, m := range x {
			p.itemSep(buf, i, level+1)
			writePyString(buf, m.key, p.ensureASCII)
			buf.WriteString(": ")
			if err := p.write(buf, m.val, level+1); err != nil {
				return fmt.Errorf("%s: %w", m.key, err)
			}
		}
		p.closeSep(buf, level)
		buf.WriteByte('}')
	default:
		return fmt.Errorf("pyjson: unsupported type %T", v)
	}
	return nil
}

func (p pyJSON) writeList(buf *bytes.Buffer, n, level int, at func(int) any) error {
	if n == 0 {
		buf.WriteString("[]")
		return nil
	}
	buf.WriteByte('[')
	for i := 0; i < n; i++ {
		p.itemSep(buf, i, level+1)
		if err := p.write(buf, at(i), level+1); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
	}
	p.closeSep(buf, level)
	buf.WriteByte(']')
	return nil
}

// itemSep writes what precedes item i of a container whose items sit at
// level: Python's ", " without indent, ",\n" plus indentation with it.
func (p pyJSON) itemSep(buf *bytes.Buffer, i, level int) {
	if i > 0 {
		buf.WriteByte(',')
	}
	if p.indent == 0 {
		if i > 0 {
			buf.WriteByte(' ')
		}
		return
	}
	buf.WriteByte('\n')
	buf.WriteString(strings.Repeat(" ", p.indent*level))
}

// closeSep writes what precedes the closing bracket of a non-empty container.
func (p pyJSON) closeSep(buf *bytes.Buffer, level int) {
	if p.indent == 0 {
		return
	}
	buf.WriteByte('\n')
	buf.WriteString(strings.Repeat(" ", p.indent*level))
}

// pyFloat formats f as Python's repr(float) does: the shortest string that
// round-trips, fixed notation for 1e-4 <= |f| < 1e16 (always with a ".0"
// when integral), else exponent notation with at least two exponent digits.
// Python would write NaN and Infinity, which are not JSON; we refuse them.
func pyFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("non-finite number %v cannot be written as JSON", f)
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0", nil
		}
		return "0.0", nil
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX, Go pads the exponent to two digits like Python
	exp, err := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if err != nil {
		return "", err
	}
	if exp < -4 || exp >= 16 {
		return e, nil
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s, nil
}

// writePyString quotes s as json.dumps does: with ensureASCII every non-ASCII
// rune becomes \uXXXX (surrogate pairs above U+FFFF).
func writePyString(buf *bytes.Buffer, s string, ensureASCII bool) {
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			buf.WriteString(`\"`)
		case r == '\\':
			buf.WriteString(`\\`)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r == '\b':
			buf.WriteString(`\b`)
		case r == '\f':
			buf.WriteString(`\f`)
		case r < 0x20:
			fmt.Fprintf(buf, `\u%04x`, r)
		case r < utf8.RuneSelf:
			buf.WriteByte(byte(r))
		case !ensureASCII:
			buf.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(buf, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(buf, `\u%04x`, r)
		}
	}
	buf.WriteByte('"')
}

// decodeOrdered parses one JSON value keeping object key order (obj) and
// number text (json.Number). Duplicate keys are an error: Python keeps the
// last, Go's decoder too, but a file with duplicates is not one we wrote.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// maxJSONDepth bounds nesting so hostile input cannot exhaust the stack.
const maxJSONDepth = 64

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := obj{}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %T, not a string", kt)
				}
				if seen[k] {
					return nil, fmt.Errorf("duplicate key %q", k)
				}
				seen[k] = true
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				o = append(o, member{k, v})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return o, nil
		case '[':
			l := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, fmt.Errorf("[%d]: %w", len(l), err)
				}
				l = append(l, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return l, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default: // string, json.Number, bool, nil
		return t, nil
	}
}
