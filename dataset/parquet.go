package dataset

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// newParquetWriter opens a Parquet writer on w as LeRobot's pq.ParquetWriter
// is configured (spec §1.2, §8): snappy, dictionary encoding, and the Arrow
// schema stored under ARROW:schema, so schema metadata (huggingface, pandas)
// lands both in the key-value metadata and inside ARROW:schema.
func newParquetWriter(w io.Writer, schema *arrow.Schema, mem memory.Allocator) (*pqarrow.FileWriter, error) {
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithDictionaryDefault(true),
		// pyarrow marks the root group REQUIRED; arrow-go's default REPEATED
		// makes readers that count it (hyparquet) misread every column.
		parquet.WithRootRepetition(parquet.Repetitions.Required),
		parquet.WithAllocator(mem),
	)
	arrowProps := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem))
	return pqarrow.NewFileWriter(schema, w, props, arrowProps)
}

// writeRecords writes a Parquet file to w holding each record as its own row group.
func writeRecords(w io.Writer, schema *arrow.Schema, mem memory.Allocator, recs ...arrow.Record) error {
	fw, err := newParquetWriter(w, schema, mem)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if err := fw.Write(rec); err != nil {
			fw.Close()
			return err
		}
	}
	return fw.Close()
}

// parquetFile is a Parquet file opened for reading through pqarrow.
type parquetFile struct {
	path string
	rdr  *file.Reader
	fr   *pqarrow.FileReader
}

func openParquet(path string, mem memory.Allocator) (*parquetFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // names the path
	}
	pf, err := openParquetReader(path, f, mem)
	if err != nil {
		f.Close()
	}
	return pf, err
}

// openParquetReader opens Parquet data from r, called path in errors.
func openParquetReader(path string, r parquet.ReaderAtSeeker, mem memory.Allocator) (pf *parquetFile, err error) {
	defer recoverParquetPanic(&err, path)
	rdr, err := file.NewParquetReader(r, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := checkArrowSchema(rdr.MetaData().KeyValueMetadata()); err != nil {
		rdr.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := checkColumnChunks(rdr, r); err != nil {
		rdr.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		rdr.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &parquetFile{path: path, rdr: rdr, fr: fr}, nil
}

func (p *parquetFile) Close() error { return p.rdr.Close() }

func (p *parquetFile) numRows() int64 { return p.rdr.NumRows() }

func (p *parquetFile) numRowGroups() int { return p.rdr.NumRowGroups() }

// schema is the Arrow schema of the file, from ARROW:schema when present
// (which restores fixed_size_list), else derived from the Parquet schema.
func (p *parquetFile) schema() (*arrow.Schema, error) {
	s, err := p.fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("%s: schema: %w", p.path, err)
	}
	return s, nil
}

// keyValue returns a key of the Parquet key-value metadata.
func (p *parquetFile) keyValue(key string) (string, bool) {
	v := p.rdr.MetaData().KeyValueMetadata().FindValue(key)
	if v == nil {
		return "", false
	}
	return *v, true
}

// hasField reports whether the file has a top-level column called name.
func (p *parquetFile) hasField(name string) bool {
	return len(p.leaves(name)) > 0
}

func (p *parquetFile) leaves(name string) []int {
	sc := p.rdr.MetaData().Schema
	var leaves []int
	for i := 0; i < sc.NumColumns(); i++ {
		if sc.ColumnRoot(i).Name() == name {
			leaves = append(leaves, i)
		}
	}
	return leaves
}

// readField reads the whole top-level column name, over the given row groups
// (all when nil). The caller releases the result.
func (p *parquetFile) readField(name string, rowGroups []int) (*arrow.Chunked, error) {
	leaves := p.leaves(name)
	if len(leaves) == 0 {
		return nil, fmt.Errorf("%s: no column %q", p.path, name)
	}
	tbl, err := p.readRowGroups(leaves, rowGroups)
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	col := tbl.Column(0).Data()
	col.Retain()
	return col, nil
}

// readRowGroups reads the given leaf columns (all when nil) of the given row
// groups (all when nil). The caller releases the table.
func (p *parquetFile) readRowGroups(leaves, rowGroups []int) (tbl arrow.Table, err error) {
	defer recoverParquetPanic(&err, p.path)
	if leaves == nil {
		for i := 0; i < p.rdr.MetaData().Schema.NumColumns(); i++ {
			leaves = append(leaves, i)
		}
	}
	if rowGroups == nil {
		for i := 0; i < p.rdr.NumRowGroups(); i++ {
			rowGroups = append(rowGroups, i)
		}
	}
	// pqarrow's ReadRowGroups reads columns on goroutines of its own, where
	// a panic on corrupt data cannot be recovered; read them here, in turn.
	for _, rg := range rowGroups {
		if rg < 0 || rg >= p.rdr.NumRowGroups() {
			return nil, fmt.Errorf("read %s: no row group %d", p.path, rg)
		}
	}
	for _, l := range leaves {
		if l < 0 || l >= p.rdr.MetaData().Schema.NumColumns() {
			return nil, fmt.Errorf("read %s: no column %d", p.path, l)
		}
	}
	readers, schema, err := p.fieldReaders(leaves, rowGroups)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, r := range readers {
			r.Release()
		}
	}()
	cols := make([]arrow.Column, 0, len(readers))
	defer func() {
		for i := range cols {
			cols[i].Release()
		}
	}()
	var rows int64
	for i, r := range readers {
		chunked, err := p.fr.ReadColumn(rowGroups, r)
		if err != nil {
			return nil, fmt.Errorf("read %s: column %q: %w", p.path, schema.Field(i).Name, err)
		}
		cols = append(cols, *arrow.NewColumn(schema.Field(i), chunked))
		chunked.Release()
		if i == 0 {
			rows = int64(cols[0].Len())
		} else if int64(cols[i].Len()) != rows {
			return nil, fmt.Errorf("read %s: column %q has %d rows, %q has %d", p.path, schema.Field(i).Name, cols[i].Len(), schema.Field(0).Name, rows)
		}
	}
	return array.NewTable(schema, cols, rows), nil
}

// checkColumnChunks refuses column chunks whose byte range lies outside the
// file: arrow-go allocates a chunk's whole stated size before reading it,
// so a damaged total_compressed_size would cost gigabytes (or the process).
func checkColumnChunks(rdr *file.Reader, r io.Seeker) error {
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	md := rdr.MetaData()
	for g := 0; g < len(md.RowGroups); g++ {
		rg := md.RowGroup(g)
		for c := 0; c < rg.NumColumns(); c++ {
			col, err := rg.ColumnChunk(c)
			if err != nil {
				return fmt.Errorf("row group %d column %d: %w", g, c, err)
			}
			start := col.DataPageOffset()
			if col.HasDictionaryPage() && col.DictionaryPageOffset() > 0 && start > col.DictionaryPageOffset() {
				start = col.DictionaryPageOffset()
			}
			n := col.TotalCompressedSize()
			if start < 0 || n < 0 || start > size || n > size-start {
				return fmt.Errorf("row group %d column %q: chunk of %d bytes at offset %d lies outside the %d-byte file",
					g, col.PathInSchema().String(), n, start, size)
			}
		}
	}
	return nil
}

// fieldReaders is pqarrow's GetFieldReaders without its goroutines (it
// opens every column on an errgroup goroutine even when not parallel, and
// a corrupt column chunk panics there, out of reach of recover).
func (p *parquetFile) fieldReaders(leaves, rowGroups []int) ([]*pqarrow.ColumnReader, *arrow.Schema, error) {
	fieldIdx, err := p.fr.Manifest.GetFieldIndices(leaves)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", p.path, err)
	}
	included := make(map[int]bool, len(leaves))
	for _, l := range leaves {
		included[l] = true
	}
	readers := make([]*pqarrow.ColumnReader, 0, len(fieldIdx))
	fields := make([]arrow.Field, 0, len(fieldIdx))
	for _, fi := range fieldIdx {
		r, err := p.fr.GetFieldReader(context.Background(), fi, included, rowGroups)
		if err != nil {
			for _, r := range readers {
				r.Release()
			}
			return nil, nil, fmt.Errorf("read %s: %w", p.path, err)
		}
		readers = append(readers, r)
		fields = append(fields, *r.Field())
	}
	return readers, arrow.NewSchema(fields, p.fr.Manifest.SchemaMeta), nil
}

// recoverParquetPanic, deferred, turns a panic of the Parquet library on a
// corrupt file (arrow-go does not check every length it reads) into an
// error naming what was being read.
func recoverParquetPanic(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: corrupt Parquet data: %v", what, r)
	}
}
