package burn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// StateVersion is the version of the state encoding [State.AppendBinary]
// writes; [DecodeState] reads this version only.
const StateVersion = 1

// The encoding (docs/slo-state.md, "State file"), little-endian:
//
//	magic "LLMSLOST" | version u16 | reserved u16 (0) | body length u32 | body | CRC-32C u32
//
// The checksum covers everything before it. The body holds varints:
// saved-at (Unix ns), period (ns), the number of entries, then per entry its
// name, target (8 bytes, IEEE 754), epoch (Unix ns), rules (text, held
// byte), and rings (window ns, head bucket, buckets as index/good/total,
// spans as from/to in ns from the epoch).
const (
	stateHeader  = 16
	stateTrailer = 4
	// MaxStateSize bounds a state file: [DecodeState] refuses larger input
	// and the encoder never gets near it (a series takes about 4 KiB).
	MaxStateSize = 64 << 20
	maxName      = 1024
	maxRules     = 64
	maxRuleText  = 128
	maxRings     = 16
	maxTime      = 1 << 62 // bound (exclusive) on absolute times and offsets, in ns
)

var (
	stateMagic = [8]byte{'L', 'L', 'M', 'S', 'L', 'O', 'S', 'T'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// Errors of [DecodeState]; each error it returns wraps one of them.
var (
	// ErrNotState: the input does not start like a state file.
	ErrNotState = errors.New("not a state file")
	// ErrStateVersion: a state file of a version this package does not read.
	ErrStateVersion = errors.New("unsupported state file version")
	// ErrStateCorrupt: a state file that is truncated, fails its checksum or
	// holds values no encoder writes.
	ErrStateCorrupt = errors.New("corrupt state file")
)

// State is the content of a state file: when it was saved, the budget
// period of its series, and one [Entry] per series.
type State struct {
	SavedAt time.Time
	Period  time.Duration
	Entries []Entry
}

// AppendBinary appends the encoding of st to b.
func (st State) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, stateMagic[:]...)
	b = binary.LittleEndian.AppendUint16(b, StateVersion)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0) // body length, below
	body := len(b)
	b = binary.AppendVarint(b, st.SavedAt.UnixNano())
	b = binary.AppendVarint(b, int64(st.Period))
	b = binary.AppendUvarint(b, uint64(len(st.Entries)))
	for _, e := range st.Entries {
		b = e.appendBinary(b)
	}
	n := len(b) - body
	if n > MaxStateSize-stateHeader-stateTrailer {
		return nil, fmt.Errorf("burn: state of %d bytes exceeds %d", n, MaxStateSize)
	}
	binary.LittleEndian.PutUint32(b[body-4:], uint32(n))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func (e *Entry) appendBinary(b []byte) []byte {
	b = appendString(b, e.Name)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.Target))
	b = binary.AppendVarint(b, e.epoch)
	b = binary.AppendUvarint(b, uint64(len(e.rules)))
	for i, r := range e.rules {
		b = appendString(b, r)
		held := byte(0)
		if e.holds[i] {
			held = 1
		}
		b = append(b, held)
	}
	b = binary.AppendUvarint(b, uint64(len(e.rings)))
	for _, r := range e.rings {
		b = binary.AppendVarint(b, r.dur)
		b = binary.AppendVarint(b, r.head)
		b = binary.AppendUvarint(b, uint64(len(r.buckets)))
		for _, k := range r.buckets {
			b = binary.AppendVarint(b, k.idx)
			b = binary.AppendUvarint(b, uint64(k.good))
			b = binary.AppendUvarint(b, uint64(k.total))
		}
		b = binary.AppendUvarint(b, uint64(len(r.spans)))
		for _, x := range r.spans {
			b = binary.AppendVarint(b, x.from)
			b = binary.AppendVarint(b, x.to)
		}
	}
	return b
}

// DecodeState decodes a state file. It checks the framing and the checksum,
// then every value against what an encoder can write: targets in (0, 1),
// positive windows, at most 61 buckets per ring inside its span, in order,
// with 0 <= good <= total <= 2^50, at most 8 sorted disjoint spans per ring
// ending by the save time, unique entry names. It never panics and never
// allocates more than a small multiple of len(b).
func DecodeState(b []byte) (State, error) {
	if len(b) < stateHeader+stateTrailer || [8]byte(b[:8]) != stateMagic {
		return State{}, ErrNotState
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != StateVersion {
		return State{}, fmt.Errorf("%w %d (this library reads version %d)", ErrStateVersion, v, StateVersion)
	}
	n := int64(binary.LittleEndian.Uint32(b[12:]))
	switch {
	case len(b) > MaxStateSize:
		return State{}, fmt.Errorf("%w: %d bytes", ErrStateCorrupt, len(b))
	case int64(len(b)) != stateHeader+n+stateTrailer:
		return State{}, fmt.Errorf("%w: %d bytes, the header announces %d (truncated or trailing data)", ErrStateCorrupt, len(b), stateHeader+n+stateTrailer)
	case binary.LittleEndian.Uint16(b[10:]) != 0:
		return State{}, fmt.Errorf("%w: reserved bits set", ErrStateCorrupt)
	}
	end := len(b) - stateTrailer
	if got, want := crc32.Checksum(b[:end], castagnoli), binary.LittleEndian.Uint32(b[end:]); got != want {
		return State{}, fmt.Errorf("%w: checksum %08x, want %08x", ErrStateCorrupt, got, want)
	}
	d := &decoder{b: b[stateHeader:end]}
	st := d.state()
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes after the last entry", len(d.b))
	}
	if d.err != nil {
		return State{}, d.err
	}
	return st, nil
}

// decoder reads the body; the first error sticks and every later read
// returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrStateCorrupt, fmt.Sprintf(format, args...))
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint reads a signed varint strictly within ±maxTime, so that the
// difference of two fits an int64.
func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 || v >= maxTime || v <= -maxTime {
		d.fail("bad or out-of-range varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length of at most limit elements, each taking at least one
// byte of the rest, so that no declared length makes a large allocation.
func (d *decoder) count(limit int) int {
	v := d.uvarint()
	if v > uint64(limit) || v > uint64(len(d.b)) {
		d.fail("length %d over its bound", v)
		return 0
	}
	return int(v)
}

func (d *decoder) str(limit int) string {
	n := d.count(limit)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *decoder) state() State {
	saved := d.varint()
	period := d.varint()
	if d.err == nil && period <= 0 {
		d.fail("period %v", time.Duration(period))
	}
	st := State{SavedAt: time.Unix(0, saved), Period: time.Duration(period)}
	n := d.count(len(d.b))
	seen := make(map[string]bool, min(n, 1024))
	for range n {
		e := d.entry(saved)
		if d.err != nil {
			break
		}
		if seen[e.Name] {
			d.fail("two entries named %q", e.Name)
			break
		}
		seen[e.Name] = true
		st.Entries = append(st.Entries, e)
	}
	return st
}

func (d *decoder) entry(saved int64) Entry {
	e := Entry{Name: d.str(maxName), Target: d.float(), epoch: d.varint()}
	if d.err == nil && !(e.Target > 0 && e.Target < 1) {
		d.fail("entry %q: target %v", e.Name, e.Target)
	}
	for range d.count(maxRules) {
		e.rules = append(e.rules, d.str(maxRuleText))
		switch d.byte() {
		case 0:
			e.holds = append(e.holds, false)
		case 1:
			e.holds = append(e.holds, true)
		default:
			d.fail("entry %q: rule state", e.Name)
		}
	}
	savedOff := saved - e.epoch // both within ±2^62: no overflow
	for range d.count(maxRings) {
		e.rings = append(e.rings, d.ring(savedOff))
	}
	if d.err != nil {
		return Entry{}
	}
	return e
}

func (d *decoder) ring(savedOff int64) ringState {
	r := ringState{dur: d.varint(), head: d.varint()}
	if d.err == nil && r.dur <= 0 {
		d.fail("window %d", r.dur)
	}
	prev := r.head - bucketsPerWindow - 1
	for range d.count(slots) {
		k := bucket{idx: d.varint(), good: int64(min(d.uvarint(), math.MaxInt64)), total: int64(min(d.uvarint(), math.MaxInt64))}
		if d.err == nil && (k.idx <= prev || k.idx > r.head || !(Count{k.good, k.total}).valid()) {
			d.fail("bucket %d (head %d): %d good of %d", k.idx, r.head, k.good, k.total)
		}
		prev = k.idx
		r.buckets = append(r.buckets, k)
	}
	last := int64(math.MinInt64)
	for range d.count(maxSpans) {
		x := span{from: d.varint(), to: d.varint()}
		if d.err == nil && (x.from <= last || x.from >= x.to || x.to > savedOff) {
			d.fail("span [%d, %d)", x.from, x.to)
		}
		last = x.to
		r.spans = append(r.spans, x)
	}
	return r
}
