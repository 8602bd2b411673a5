package video

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// A minimal ISO BMFF (mp4) reader and concatenator for the files LeRobot and
// ffmpeg write for one camera: a single video track, constant sample
// description, no composition offsets, an identity edit list. Concatenating
// them needs no process: sample tables are joined, sample data copied, and
// segment k starts exactly where the sample durations of the segments
// before it end. Files outside that shape are reported with
// errUnsupportedMP4, and Concat falls back to ffmpeg.

var errUnsupportedMP4 = errors.New("mp4 layout not supported by the built-in concatenation")

// mp4File is the video track of an mp4 file.
type mp4File struct {
	path             string
	ftyp, mvhd, tkhd []byte // raw boxes, header included
	mdhd, hdlr       []byte
	vmhd, dinf, stsd []byte
	udta             []byte
	movieTimescale   uint32
	timescale        uint32 // media timescale
	durations        []uint32
	sizes            []uint32
	offsets          []int64
	sync             []uint32 // 1-based sync samples; nil: every sample is one
}

// MP4Info is what ReadMP4 learns from an mp4's sample tables, without
// decoding: enough to check an episode's file.
type MP4Info struct {
	Codec         string  // sample entry four-cc: "av01", "avc1", "hev1", …
	Width, Height int     // from the track header
	Frames        int     // samples
	Duration      float64 // sum of sample durations, seconds (exact in the media time base)
	FrameDuration float64 // duration of the first sample, seconds
}

// ReadMP4 reads the video track of an mp4 written by ffmpeg or PyAV.
func ReadMP4(path string) (MP4Info, error) {
	m, err := readMP4(path)
	if err != nil {
		return MP4Info{}, err
	}
	info := MP4Info{Frames: len(m.sizes)}
	if len(m.stsd) >= 8+8+8 {
		info.Codec = string(m.stsd[8+8+4 : 8+8+8])
	}
	if len(m.tkhd) >= 8 {
		w := binary.BigEndian.Uint32(m.tkhd[len(m.tkhd)-8:])
		h := binary.BigEndian.Uint32(m.tkhd[len(m.tkhd)-4:])
		info.Width, info.Height = int(w>>16), int(h>>16)
	}
	info.Duration = m.duration()
	if len(m.durations) > 0 {
		info.FrameDuration = float64(m.durations[0]) / float64(m.timescale)
	}
	return info, nil
}

// CodecName is the canonical codec name (what PyAV's codec.canonical_name
// and ffprobe's codec_name say, and LeRobot stores as video.codec) of an
// mp4 sample entry four-cc.
func CodecName(fourcc string) string {
	switch fourcc {
	case "av01":
		return "av1"
	case "avc1", "avc3":
		return "h264"
	case "hvc1", "hev1":
		return "hevc"
	}
	return fourcc
}

type box struct {
	typ          string
	start, size  int64 // in the file / parent buffer
	hdr          int64
	payloadStart int64
}

// readBoxes lists the boxes of b[start:end].
func readBoxes(b []byte, start, end int64) ([]box, error) {
	var out []box
	for off := start; off < end; {
		if end-off < 8 {
			return nil, fmt.Errorf("truncated box header at %d", off)
		}
		size := int64(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		hdr := int64(8)
		switch size {
		case 1:
			if end-off < 16 {
				return nil, fmt.Errorf("truncated box header at %d", off)
			}
			size = int64(binary.BigEndian.Uint64(b[off+8:]))
			hdr = 16
		case 0:
			size = end - off
		}
		if size < hdr || off+size > end {
			return nil, fmt.Errorf("box %q at %d has size %d beyond its parent", typ, off, size)
		}
		out = append(out, box{typ: typ, start: off, size: size, hdr: hdr, payloadStart: off + hdr})
		off += size
	}
	return out, nil
}

func findBox(bs []box, typ string) (box, bool) {
	for _, b := range bs {
		if b.typ == typ {
			return b, true
		}
	}
	return box{}, false
}

// readMP4 parses the top-level boxes from the file and the moov in memory.
func readMP4(path string) (*mp4File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	m := &mp4File{path: path}
	var moov []byte
	var hdr [16]byte
	for off := int64(0); off < st.Size(); {
		if _, err := f.ReadAt(hdr[:8], off); err != nil {
			return nil, fmt.Errorf("%s: box header at %d: %w", path, off, err)
		}
		size := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		h := int64(8)
		if size == 1 {
			if _, err := f.ReadAt(hdr[8:16], off+8); err != nil {
				return nil, fmt.Errorf("%s: box header at %d: %w", path, off, err)
			}
			size, h = int64(binary.BigEndian.Uint64(hdr[8:16])), 16
		} else if size == 0 {
			size = st.Size() - off
		}
		if size < h || off+size > st.Size() {
			return nil, fmt.Errorf("%s: box %q at %d: size %d beyond the end of the file", path, typ, off, size)
		}
		switch typ {
		case "ftyp", "moov":
			if size > 64<<20 {
				return nil, fmt.Errorf("%s: %s box of %d bytes: %w", path, typ, size, errUnsupportedMP4)
			}
			buf := make([]byte, size)
			if _, err := f.ReadAt(buf, off); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if typ == "ftyp" {
				m.ftyp = buf
			} else {
				moov = buf
			}
		}
		off += size
	}
	if moov == nil {
		return nil, fmt.Errorf("%s: no moov box (not a finished mp4 file)", path)
	}
	if err := m.parseMoov(moov); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func (m *mp4File) parseMoov(moov []byte) error {
	top, err := readBoxes(moov, 8, int64(len(moov)))
	if err != nil {
		return err
	}
	var traks []box
	for _, b := range top {
		switch b.typ {
		case "mvhd":
			m.mvhd = moov[b.start : b.start+b.size]
		case "trak":
			traks = append(traks, b)
		case "udta":
			m.udta = moov[b.start : b.start+b.size]
		case "mvex":
			return fmt.Errorf("fragmented mp4: %w", errUnsupportedMP4)
		}
	}
	if m.mvhd == nil || len(traks) != 1 {
		return fmt.Errorf("%d tracks: %w", len(traks), errUnsupportedMP4)
	}
	ts, _, err := timescaleDuration(m.mvhd)
	if err != nil {
		return fmt.Errorf("mvhd: %w", err)
	}
	m.movieTimescale = ts
	child := func(parent box, typ string) (box, error) {
		bs, err := readBoxes(moov, parent.payloadStart, parent.start+parent.size)
		if err != nil {
			return box{}, err
		}
		b, ok := findBox(bs, typ)
		if !ok {
			return box{}, fmt.Errorf("no %s box in %s", typ, parent.typ)
		}
		return b, nil
	}
	raw := func(b box) []byte { return moov[b.start : b.start+b.size] }
	trak := traks[0]
	tkhd, err := child(trak, "tkhd")
	if err != nil {
		return err
	}
	m.tkhd = raw(tkhd)
	if edts, err := child(trak, "edts"); err == nil {
		elst, err := child(edts, "elst")
		if err != nil {
			return err
		}
		if err := checkIdentityEdit(raw(elst)); err != nil {
			return err
		}
	}
	mdia, err := child(trak, "mdia")
	if err != nil {
		return err
	}
	mdhd, err := child(mdia, "mdhd")
	if err != nil {
		return err
	}
	m.mdhd = raw(mdhd)
	if m.timescale, _, err = timescaleDuration(m.mdhd); err != nil {
		return fmt.Errorf("mdhd: %w", err)
	}
	hdlr, err := child(mdia, "hdlr")
	if err != nil {
		return err
	}
	m.hdlr = raw(hdlr)
	if len(m.hdlr) < 20 || string(m.hdlr[16:20]) != "vide" {
		return fmt.Errorf("the track is not video: %w", errUnsupportedMP4)
	}
	minf, err := child(mdia, "minf")
	if err != nil {
		return err
	}
	bs, err := readBoxes(moov, minf.payloadStart, minf.start+minf.size)
	if err != nil {
		return err
	}
	var stbl box
	for _, b := range bs {
		switch b.typ {
		case "vmhd":
			m.vmhd = raw(b)
		case "dinf":
			m.dinf = raw(b)
		case "stbl":
			stbl = b
		}
	}
	if m.vmhd == nil || m.dinf == nil || stbl.typ == "" {
		return fmt.Errorf("minf lacks vmhd, dinf or stbl: %w", errUnsupportedMP4)
	}
	return m.parseSampleTables(moov, stbl)
}

// timescaleDuration reads timescale and duration of an mvhd or mdhd box
// (after creation and modification times, whose width depends on version).
func timescaleDuration(b []byte) (uint32, uint64, error) {
	if len(b) < 12 {
		return 0, 0, errors.New("truncated")
	}
	v := b[8]
	p := b[12:]
	if v == 1 {
		if len(p) < 28 {
			return 0, 0, errors.New("truncated")
		}
		ts := binary.BigEndian.Uint32(p[16:])
		if ts == 0 {
			return 0, 0, errors.New("timescale 0")
		}
		return ts, binary.BigEndian.Uint64(p[20:]), nil
	}
	if len(p) < 16 {
		return 0, 0, errors.New("truncated")
	}
	ts := binary.BigEndian.Uint32(p[8:])
	if ts == 0 {
		return 0, 0, errors.New("timescale 0")
	}
	return ts, uint64(binary.BigEndian.Uint32(p[12:])), nil
}

func checkIdentityEdit(elst []byte) error {
	if len(elst) < 16 {
		return errors.New("elst: truncated")
	}
	v := elst[8]
	n := binary.BigEndian.Uint32(elst[12:])
	if n != 1 {
		return fmt.Errorf("edit list of %d entries: %w", n, errUnsupportedMP4)
	}
	var mediaTime int64
	switch {
	case v == 0 && len(elst) >= 28:
		mediaTime = int64(int32(binary.BigEndian.Uint32(elst[20:])))
	case v == 1 && len(elst) >= 36:
		mediaTime = int64(binary.BigEndian.Uint64(elst[24:]))
	default:
		return errors.New("elst: truncated")
	}
	if mediaTime != 0 {
		return fmt.Errorf("edit list starts the media at %d: %w", mediaTime, errUnsupportedMP4)
	}
	return nil
}

// duration is the sum of the sample durations, in seconds.
func (m *mp4File) duration() float64 {
	var total uint64
	for _, d := range m.durations {
		total += uint64(d)
	}
	return float64(total) / float64(m.timescale)
}

func (m *mp4File) parseSampleTables(moov []byte, stbl box) error {
	bs, err := readBoxes(moov, stbl.payloadStart, stbl.start+stbl.size)
	if err != nil {
		return err
	}
	payload := func(typ string) ([]byte, bool) {
		b, ok := findBox(bs, typ)
		if !ok {
			return nil, false
		}
		return moov[b.payloadStart : b.start+b.size], true
	}
	if b, ok := findBox(bs, "stsd"); ok {
		m.stsd = withoutBtrt(moov[b.start : b.start+b.size])
	} else {
		return errors.New("no stsd box")
	}
	if n := binary.BigEndian.Uint32(pad(m.stsd, 16)[12:]); n != 1 {
		return fmt.Errorf("%d sample descriptions: %w", n, errUnsupportedMP4)
	}
	if p, ok := payload("ctts"); ok {
		// Composition offsets: frames are reordered; a concatenation
		// would have to shift them too. AV1 never has them.
		if len(p) >= 8 && binary.BigEndian.Uint32(p[4:]) > 0 {
			return fmt.Errorf("composition offsets (ctts): %w", errUnsupportedMP4)
		}
	}
	table := func(typ string, entrySize int) ([]byte, uint32, error) {
		p, ok := payload(typ)
		if !ok {
			return nil, 0, fmt.Errorf("no %s box", typ)
		}
		if len(p) < 8 {
			return nil, 0, fmt.Errorf("%s: truncated", typ)
		}
		n := binary.BigEndian.Uint32(p[4:])
		if uint64(len(p)-8) < uint64(n)*uint64(entrySize) {
			return nil, 0, fmt.Errorf("%s: %d entries do not fit in %d bytes", typ, n, len(p)-8)
		}
		return p[8:], n, nil
	}
	// Sample sizes.
	p, ok := payload("stsz")
	if !ok || len(p) < 12 {
		return errors.New("no stsz box")
	}
	fixed, count := binary.BigEndian.Uint32(p[4:]), binary.BigEndian.Uint32(p[8:])
	if count > 1<<24 {
		return fmt.Errorf("stsz: %d samples", count)
	}
	m.sizes = make([]uint32, count)
	for i := range m.sizes {
		if fixed != 0 {
			m.sizes[i] = fixed
			continue
		}
		if len(p) < 12+4*(i+1) {
			return errors.New("stsz: truncated")
		}
		m.sizes[i] = binary.BigEndian.Uint32(p[12+4*i:])
	}
	// Sample durations.
	t, n, err := table("stts", 8)
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		c, d := binary.BigEndian.Uint32(t[8*i:]), binary.BigEndian.Uint32(t[8*i+4:])
		if uint64(len(m.durations))+uint64(c) > uint64(count) {
			return errors.New("stts: more durations than samples")
		}
		for j := uint32(0); j < c; j++ {
			m.durations = append(m.durations, d)
		}
	}
	if len(m.durations) != int(count) {
		return fmt.Errorf("stts: %d durations for %d samples", len(m.durations), count)
	}
	// Sync samples.
	if s, n, err := table("stss", 4); err == nil {
		m.sync = make([]uint32, n)
		for i := range m.sync {
			m.sync[i] = binary.BigEndian.Uint32(s[4*i:])
		}
	}
	// Chunk offsets, then sample offsets through sample-to-chunk.
	var chunks []int64
	if c, n, err := table("stco", 4); err == nil {
		for i := uint32(0); i < n; i++ {
			chunks = append(chunks, int64(binary.BigEndian.Uint32(c[4*i:])))
		}
	} else if c, n, err := table("co64", 8); err == nil {
		for i := uint32(0); i < n; i++ {
			chunks = append(chunks, int64(binary.BigEndian.Uint64(c[8*i:])))
		}
	} else {
		return errors.New("no stco or co64 box")
	}
	sc, nsc, err := table("stsc", 12)
	if err != nil {
		return err
	}
	m.offsets = make([]int64, 0, count)
	for e := uint32(0); e < nsc; e++ {
		first := binary.BigEndian.Uint32(sc[12*e:])
		per := binary.BigEndian.Uint32(sc[12*e+4:])
		last := uint32(len(chunks)) + 1
		if e+1 < nsc {
			last = binary.BigEndian.Uint32(sc[12*(e+1):])
		}
		if first == 0 || last < first || last > uint32(len(chunks))+1 {
			return errors.New("stsc: chunk numbers out of order")
		}
		for c := first; c < last; c++ {
			off := chunks[c-1]
			for k := uint32(0); k < per; k++ {
				i := len(m.offsets)
				if i >= int(count) {
					return errors.New("stsc: more samples than stsz")
				}
				m.offsets = append(m.offsets, off)
				off += int64(m.sizes[i])
			}
		}
	}
	if len(m.offsets) != int(count) {
		return fmt.Errorf("stsc/stco place %d samples, stsz has %d", len(m.offsets), count)
	}
	return nil
}

// withoutBtrt returns stsd without the bit-rate box of its visual sample
// entry: ffmpeg writes each file's own bit rates there, which differ
// between files of identical codec parameters and no longer hold for their
// concatenation. Anything it cannot parse is returned unchanged.
func withoutBtrt(stsd []byte) []byte {
	const entryStart = 16                  // stsd header, version/flags, entry count
	const childStart = entryStart + 8 + 78 // visual sample entry: box header, fixed fields
	if len(stsd) < childStart {
		return stsd
	}
	entrySize := int(binary.BigEndian.Uint32(stsd[entryStart:]))
	if entrySize < childStart-entryStart || entryStart+entrySize > len(stsd) {
		return stsd
	}
	children, err := readBoxes(stsd, childStart, int64(entryStart+entrySize))
	if err != nil {
		return stsd
	}
	var kept []byte
	found := false
	for _, c := range children {
		if c.typ == "btrt" {
			found = true
			continue
		}
		kept = append(kept, stsd[c.start:c.start+c.size]...)
	}
	if !found {
		return stsd
	}
	out := append([]byte(nil), stsd[:childStart]...)
	out = append(out, kept...)
	out = append(out, stsd[entryStart+entrySize:]...)
	binary.BigEndian.PutUint32(out[0:], uint32(len(out)))
	binary.BigEndian.PutUint32(out[entryStart:], uint32(entrySize-(len(stsd)-len(out))))
	return out
}

func pad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(append([]byte(nil), b...), make([]byte, n-len(b))...)
}

// compatible reports whether b's samples can follow a's in one track.
func compatible(a, b *mp4File) error {
	if a.timescale != b.timescale {
		return fmt.Errorf("media timescales %d and %d: %w", a.timescale, b.timescale, errUnsupportedMP4)
	}
	if !bytes.Equal(a.stsd, b.stsd) {
		return fmt.Errorf("different sample descriptions (codec parameters): %w", errUnsupportedMP4)
	}
	return nil
}

// writeBox appends a box of type typ around payload.
func writeBox(buf *bytes.Buffer, typ string, payload ...[]byte) {
	n := 8
	for _, p := range payload {
		n += len(p)
	}
	binary.Write(buf, binary.BigEndian, uint32(n))
	buf.WriteString(typ)
	for _, p := range payload {
		buf.Write(p)
	}
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// withDuration returns a copy of an mvhd, tkhd or mdhd box with its duration
// replaced (its offset depends on the box and its version).
func withDuration(b []byte, d uint64) ([]byte, error) {
	out := append([]byte(nil), b...)
	v := out[8]
	var off int
	switch string(out[4:8]) {
	case "mvhd", "mdhd":
		off = 12 + 12 // version/flags, ctime, mtime, timescale
		if v == 1 {
			off = 12 + 20
		}
	case "tkhd":
		off = 12 + 16 // ctime, mtime, track_ID, reserved
		if v == 1 {
			off = 12 + 24
		}
	}
	switch {
	case v == 1 && len(out) >= off+8:
		binary.BigEndian.PutUint64(out[off:], d)
	case v == 0 && len(out) >= off+4:
		if d > math.MaxUint32 {
			return nil, fmt.Errorf("duration %d does not fit a version-0 %s box: %w", d, out[4:8], errUnsupportedMP4)
		}
		binary.BigEndian.PutUint32(out[off:], uint32(d))
	default:
		return nil, fmt.Errorf("truncated %s box", out[4:8])
	}
	return out, nil
}

// concatMP4 writes to dst the video of parts played one after the other:
// ftyp, moov (faststart, as LeRobot's concatenation writes it), then one
// mdat holding every sample.
func concatMP4(dst string, parts []*mp4File) error {
	first := parts[0]
	for _, p := range parts[1:] {
		if err := compatible(first, p); err != nil {
			return fmt.Errorf("%s after %s: %w", p.path, first.path, err)
		}
	}
	var durations, sizes []uint32
	var sync []uint32
	allSync := true
	var mediaDur uint64
	for _, p := range parts {
		base := uint32(len(sizes))
		if p.sync != nil {
			allSync = false
			for _, s := range p.sync {
				sync = append(sync, base+s)
			}
		} else {
			for i := range p.sizes {
				sync = append(sync, base+uint32(i)+1)
			}
		}
		durations = append(durations, p.durations...)
		sizes = append(sizes, p.sizes...)
		for _, d := range p.durations {
			mediaDur += uint64(d)
		}
	}
	movieDur := (mediaDur*uint64(first.movieTimescale) + uint64(first.timescale) - 1) / uint64(first.timescale)
	var total int64
	for _, s := range sizes {
		total += int64(s)
	}

	// Sample tables: run-length durations, one sample per chunk.
	var stts bytes.Buffer
	var runs [][2]uint32
	for _, d := range durations {
		if len(runs) > 0 && runs[len(runs)-1][1] == d {
			runs[len(runs)-1][0]++
		} else {
			runs = append(runs, [2]uint32{1, d})
		}
	}
	stts.Write(u32(0))
	stts.Write(u32(uint32(len(runs))))
	for _, r := range runs {
		stts.Write(u32(r[0]))
		stts.Write(u32(r[1]))
	}
	var stsz bytes.Buffer
	stsz.Write(u32(0))
	stsz.Write(u32(0))
	stsz.Write(u32(uint32(len(sizes))))
	for _, s := range sizes {
		stsz.Write(u32(s))
	}
	stsc := append(append(u32(0), u32(1)...), append(append(u32(1), u32(1)...), u32(1)...)...)
	var stss bytes.Buffer
	if !allSync {
		stss.Write(u32(0))
		stss.Write(u32(uint32(len(sync))))
		for _, s := range sync {
			stss.Write(u32(s))
		}
	}
	mvhd, err := withDuration(first.mvhd, movieDur)
	if err != nil {
		return err
	}
	tkhd, err := withDuration(first.tkhd, movieDur)
	if err != nil {
		return err
	}
	mdhd, err := withDuration(first.mdhd, mediaDur)
	if err != nil {
		return err
	}
	if movieDur > math.MaxUint32 {
		return fmt.Errorf("movie of %d ticks: %w", movieDur, errUnsupportedMP4)
	}
	var elst bytes.Buffer
	elst.Write(u32(0))                // version 0, flags
	elst.Write(u32(1))                // one entry
	elst.Write(u32(uint32(movieDur))) // segment duration (movie timescale)
	elst.Write(u32(0))                // media time 0
	elst.Write(u32(0x00010000))       // rate 1.0

	moov := func(offsets []int64, co64 bool) []byte {
		var stco bytes.Buffer
		stco.Write(u32(0))
		stco.Write(u32(uint32(len(offsets))))
		for _, o := range offsets {
			if co64 {
				stco.Write(binary.BigEndian.AppendUint64(nil, uint64(o)))
			} else {
				stco.Write(u32(uint32(o)))
			}
		}
		var stbl, minf, mdia, trak, edts, out bytes.Buffer
		stbl.Write(first.stsd)
		writeBox(&stbl, "stts", stts.Bytes())
		if !allSync {
			writeBox(&stbl, "stss", stss.Bytes())
		}
		writeBox(&stbl, "stsc", stsc)
		writeBox(&stbl, "stsz", stsz.Bytes())
		if co64 {
			writeBox(&stbl, "co64", stco.Bytes())
		} else {
			writeBox(&stbl, "stco", stco.Bytes())
		}
		minf.Write(first.vmhd)
		minf.Write(first.dinf)
		writeBox(&minf, "stbl", stbl.Bytes())
		mdia.Write(mdhd)
		mdia.Write(first.hdlr)
		writeBox(&mdia, "minf", minf.Bytes())
		writeBox(&edts, "elst", elst.Bytes())
		trak.Write(tkhd)
		writeBox(&trak, "edts", edts.Bytes())
		writeBox(&trak, "mdia", mdia.Bytes())
		var body bytes.Buffer
		body.Write(mvhd)
		writeBox(&body, "trak", trak.Bytes())
		if first.udta != nil {
			body.Write(first.udta)
		}
		writeBox(&out, "moov", body.Bytes())
		return out.Bytes()
	}
	// The moov's size does not depend on the offsets' values, only on
	// their width: size it once, then fill the offsets in.
	co64 := false
	offsets := make([]int64, len(sizes))
	mdatHdr := int64(8)
	if total+8 > math.MaxUint32 {
		mdatHdr = 16
	}
	for {
		head := int64(len(first.ftyp)) + int64(len(moov(offsets, co64))) + mdatHdr
		if !co64 && head+total > math.MaxUint32 {
			co64 = true
			continue
		}
		o := head
		for i, s := range sizes {
			offsets[i] = o
			o += int64(s)
		}
		break
	}

	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	werr := func() error {
		if _, err := w.Write(first.ftyp); err != nil {
			return err
		}
		if _, err := w.Write(moov(offsets, co64)); err != nil {
			return err
		}
		if mdatHdr == 16 {
			w.Write(u32(1))
			w.WriteString("mdat")
			w.Write(binary.BigEndian.AppendUint64(nil, uint64(total+16)))
		} else {
			w.Write(u32(uint32(total + 8)))
			w.WriteString("mdat")
		}
		for _, p := range parts {
			if err := copySamples(w, p); err != nil {
				return err
			}
		}
		return w.Flush()
	}()
	cerr := out.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(dst)
	}
	return werr
}

// copySamples copies p's sample data in sample order, reading contiguous
// runs at once.
func copySamples(w io.Writer, p *mp4File) error {
	f, err := os.Open(p.path)
	if err != nil {
		return err
	}
	defer f.Close()
	for i := 0; i < len(p.sizes); {
		start, end := p.offsets[i], p.offsets[i]+int64(p.sizes[i])
		j := i + 1
		for j < len(p.sizes) && p.offsets[j] == end {
			end += int64(p.sizes[j])
			j++
		}
		if _, err := io.CopyN(w, io.NewSectionReader(f, start, end-start), end-start); err != nil {
			return fmt.Errorf("%s: samples %d–%d: %w", p.path, i, j-1, err)
		}
		i = j
	}
	return nil
}
