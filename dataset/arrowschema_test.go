package dataset

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/flight"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
)

// seedParquet is the committed fuzz seed written by our writer (an
// episodes file with list, struct-free and string columns and ARROW:schema).
func seedParquet(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/fuzz/FuzzEpisodesParquet/ours")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 2)
	lit := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lines[1]), "[]byte("), ")")
	s, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

// TestArrowSchemaHugeLengths overwrites each 4-byte word of a real
// ARROW:schema message with a huge value: checkArrowSchema must either
// refuse it or leave arrow-go's deserialiser something it reads without a
// giant allocation (before the check, one such word made it allocate
// 141 GB and the process died of OOM).
func TestArrowSchemaHugeLengths(t *testing.T) {
	rdr, err := file.NewParquetReader(bytes.NewReader(seedParquet(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	kv := rdr.MetaData().KeyValueMetadata()
	v := kv.FindValue(arrowSchemaKey)
	if v == nil {
		t.Fatal("seed has no ARROW:schema")
	}
	orig := *v
	defer func() { *v = orig }()
	if err := checkArrowSchema(kv); err != nil {
		t.Fatalf("intact schema refused: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(orig)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for p := 8; p+4 <= len(raw); p += 4 {
		b := append([]byte(nil), raw...)
		binary.LittleEndian.PutUint32(b[p:], 0x7FFFFFF0)
		*v = base64.StdEncoding.EncodeToString(b)
		if checkArrowSchema(kv) != nil {
			refused++
			continue
		}
		func() {
			defer func() { recover() }() // a panic is arrow-go's, recovered by the reader
			_, _ = flight.DeserializeSchema(b, memory.DefaultAllocator)
		}()
	}
	if refused == 0 {
		t.Error("no corruption refused")
	}
	t.Logf("%d of %d corrupted words refused", refused, (len(raw)-8)/4)
}

// TestCorruptEpisodesFile flips bytes of a real episodes file (mostly in
// its footer, where the metadata lives): reading gives a result or an
// error, never a panic or a runaway allocation. A short, deterministic
// cousin of FuzzEpisodesParquet that runs in every `go test`.
func TestCorruptEpisodesFile(t *testing.T) {
	seed := seedParquet(t)
	r := rand.New(rand.NewPCG(1, 2))
	n := 1500
	if testing.Short() {
		n = 200
	}
	for i := 0; i < n; i++ {
		data := append([]byte(nil), seed...)
		for k := 0; k < 1+r.IntN(4); k++ {
			pos := r.IntN(len(data))
			if r.IntN(2) == 0 {
				pos = len(data) - 1 - r.IntN(min(len(data), 16000))
			}
			data[pos] = byte(r.IntN(256))
		}
		pf, err := openParquetReader("episodes.parquet", bytes.NewReader(data), memory.DefaultAllocator)
		if err != nil {
			continue
		}
		_, _ = readEpisodes(pf, episodeVideoKeys)
		pf.Close()
	}
}

// TestColumnChunkOutsideFile rewrites a column chunk's
// total_compressed_size in the Thrift footer to 16 GiB: the reader must
// refuse the file up front (arrow-go would allocate the stated size).
func TestColumnChunkOutsideFile(t *testing.T) {
	data := seedParquet(t)
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	col, err := rdr.MetaData().RowGroup(0).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	size := col.TotalCompressedSize()
	rdr.Close()
	varint := func(v int64) []byte {
		u := uint64(v<<1) ^ uint64(v>>63) // zigzag
		return binary.AppendUvarint(nil, u)
	}
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	footer := data[len(data)-8-n : len(data)-8]
	// Compact protocol: field 6 (i64) after field 5 → header byte 0x16.
	old := append([]byte{0x16}, varint(size)...)
	i := bytes.Index(footer, old)
	if i < 0 {
		t.Fatalf("total_compressed_size %d not found in the footer", size)
	}
	nf := append(append(append([]byte(nil), footer[:i+1]...), varint(16<<30)...), footer[i+len(old):]...)
	out := append(append([]byte(nil), data[:len(data)-8-n]...), nf...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(nf)))
	out = append(out, "PAR1"...)
	_, err = openParquetReader("episodes.parquet", bytes.NewReader(out), memory.DefaultAllocator)
	if err == nil || !strings.Contains(err.Error(), "outside the") {
		t.Fatalf("err = %v, want the chunk refused", err)
	}
	t.Log(err)
}
