package stream

import (
	"bytes"
	"math/bits"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/internal/testutil"
)

// diffModes decodes the fuzzer's mode byte.
type diffMode struct {
	hint  Dialect
	sse   bool
	over  bool // every event is classified as an oversized one (tail window)
	body  bool // the last event is a non-streaming body (classifyBody)
	jover bool
}

func decodeMode(m uint8) diffMode {
	return diffMode{
		hint:  Dialect(m % 5),
		sse:   m&8 != 0,
		over:  m&16 != 0,
		body:  m&32 != 0,
		jover: m&64 != 0,
	}
}

// diffEvents splits the fuzzer's input into events: separated by NUL, each
// optionally "name\x01payload" to carry an SSE event name.
func diffEvents(data []byte) (names, payloads [][]byte) {
	for seg := range bytes.SplitSeq(data, []byte{0}) {
		var name []byte
		if k := bytes.IndexByte(seg, 1); k >= 0 {
			name, seg = seg[:k], seg[k+1:]
		}
		names = append(names, name)
		payloads = append(payloads, seg)
	}
	return names, payloads
}

type diffResult struct {
	Events  []Event
	Model   string
	Dialect Dialect
}

// classifyAll classifies the events in sequence with one observer, through
// the current classifier or the reference one.
func classifyAll(data []byte, m diffMode, ref bool) diffResult {
	o := &Observer{dialect: m.hint, hint: m.hint}
	o.setDefaults()
	names, payloads := diffEvents(data)
	var r diffResult
	for n, p := range payloads {
		if m.body && n == len(payloads)-1 {
			p = trimWS(p)
			if len(p) == 0 {
				continue
			}
			if ref {
				r.Events = append(r.Events, o.refClassifyBody(p, m.jover))
			} else {
				r.Events = append(r.Events, o.classifyBody(p, m.jover))
			}
			continue
		}
		if m.over {
			o.over = true
			o.tailPos, o.tailFull = 0, false
			o.tailWrite(p[len(p)/2:])
		}
		if ref {
			r.Events = append(r.Events, o.refClassify(p, names[n], m.sse))
		} else {
			var ev Event
			o.classify(&ev, p, names[n], m.sse)
			r.Events = append(r.Events, ev)
		}
		o.over = false
	}
	r.Model, r.Dialect = o.model, o.dialect
	return r
}

// diffSeeds returns the golden streams as fuzzer inputs: each SSE event's
// name and data, each NDJSON line, each JSON body.
func diffSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, g := range goldens() {
		body := strings.ReplaceAll(string(readTestdata(t, g.file)), "\r\n", "\n")
		var out []string
		switch {
		case strings.HasSuffix(g.file, ".sse"):
			for ev := range strings.SplitSeq(body, "\n\n") {
				var name string
				var data []string
				for line := range strings.SplitSeq(ev, "\n") {
					if v, ok := strings.CutPrefix(line, "event:"); ok {
						name = strings.TrimSpace(v)
					}
					if v, ok := strings.CutPrefix(line, "data:"); ok {
						data = append(data, strings.TrimPrefix(v, " "))
					}
				}
				if data != nil {
					out = append(out, name+"\x01"+strings.Join(data, "\n"))
				}
			}
		case strings.HasSuffix(g.file, ".ndjson"):
			out = strings.Split(strings.TrimSpace(body), "\n")
		default:
			out = []string{body}
		}
		seeds = append(seeds, []byte(strings.Join(out, "\x00")))
	}
	for _, bc := range benchChunks {
		seeds = append(seeds, []byte(bc.prime+"\x00"+bc.chunk))
	}
	return seeds
}

// FuzzClassifyDifferential checks that the chunk classifier decides exactly
// as the reference implementation (ref_test.go) on any input: the same
// events, model and dialect, whatever the hint, framing, overflow state and
// body mode.
func FuzzClassifyDifferential(f *testing.F) {
	for n, s := range diffSeeds(f) {
		for _, m := range []uint8{0, 8, 8 | 16, 32, 32 | 64, uint8(n)} {
			f.Add(s, m)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		m := decodeMode(mode)
		want := classifyAll(data, m, true)
		got := classifyAll(data, m, false)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("classifier differs from the reference (-ref +new), mode %+v:\n%s", m, d)
		}
	})
}

// TestClassifyDifferentialSeeds runs the differential check on the golden
// streams under every mode (the fuzzer's seed corpus, exhaustively).
func TestClassifyDifferentialSeeds(t *testing.T) {
	for _, s := range diffSeeds(t) {
		for mode := range 128 {
			m := decodeMode(uint8(mode))
			want := classifyAll(s, m, true)
			got := classifyAll(s, m, false)
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("classifier differs from the reference (-ref +new), mode %+v, input %q:\n%s", m, s, d)
			}
		}
	}
}

// BenchmarkClassify compares the chunk classifier with the reference
// implementation on representative payloads per dialect (the JSON of an SSE
// event or an NDJSON line, dialect already detected, consecutive payloads
// differing as a real stream's do): ns/op is the cost of decoding one chunk,
// MB/s its throughput.
func BenchmarkClassify(b *testing.B) {
	for _, bc := range benchChunks {
		if bc.ct == "text/plain" || bc.name == "unknown_sse" {
			continue
		}
		_, prime := sseNameData(bc.prime)
		var names, payloads [][]byte
		size := 0
		for _, c := range benchVariants(bc.chunk) {
			name, payload := sseNameData(c)
			names, payloads = append(names, name), append(payloads, payload)
			size += len(payload)
		}
		for _, impl := range []string{"ref", "new"} {
			b.Run(bc.name+"/impl="+impl, func(b *testing.B) {
				o := &Observer{}
				o.setDefaults()
				cl := o.classify
				if impl == "ref" {
					cl = func(ev *Event, p, evName []byte, sse bool) { *ev = o.refClassify(p, evName, sse) }
				}
				var ev Event
				cl(&ev, prime, nil, true)
				if o.dialect == DialectUnknown {
					b.Fatal("dialect not detected")
				}
				b.SetBytes(int64(size / len(payloads)))
				b.ReportAllocs()
				outputs, n := 0, 0
				cpu := testutil.StartCPU(b)
				for b.Loop() {
					k := n % len(payloads)
					n++
					if cl(&ev, payloads[k], names[k], true); ev.Output {
						outputs++
					}
				}
				cpu.Stop()
				if outputs == 0 {
					b.Fatal("no output")
				}
			})
		}
	}
}

// sseNameData cuts a one-event SSE (or NDJSON) chunk of benchChunks into
// its event name and data.
func sseNameData(s string) (name, data []byte) {
	for line := range strings.SplitSeq(s, "\n") {
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			name = []byte(v)
		} else if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = []byte(v)
		} else if strings.HasPrefix(line, "{") {
			data = []byte(line)
		}
	}
	return name, data
}

// TestPrimitives checks the table- and word-driven primitives against their
// byte-at-a-time definitions.
func TestPrimitives(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		want := b == ',' || b == '}' || b == ']' || b == ':' || refIsSpace(b)
		if isDelim(b) != want {
			t.Errorf("isDelim(%q) = %v, want %v", b, !want, want)
		}
		for _, q := range []byte{'"', '\\', 0x79, 0} {
			for pos := range 8 {
				w := uint64(0x4141414141414141) // "AAAAAAAA"
				w = w&^(0xff<<(8*pos)) | uint64(b)<<(8*pos)
				m := eqMask(w, q)
				wantPos := -1
				if b == q {
					wantPos = pos
				} else if q == 'A' {
					wantPos = 0
				}
				gotPos := -1
				if m != 0 {
					gotPos = bits.TrailingZeros64(m) >> 3
				}
				if gotPos != wantPos {
					t.Fatalf("eqMask(%#x, %q): first match %d, want %d", w, q, gotPos, wantPos)
				}
			}
		}
	}
	for _, s := range []string{`"`, `ab"`, `a\"b"`, `a\\"`, `\\\"x"`, `0123456789abcdef"`, `0123456\"89abcdef\\\\"x`, `\`, `abc`, `abcdefgh\`, `abcdefghijklmnop\"`} {
		for pad := range 10 {
			b := []byte(strings.Repeat(" ", pad) + s)
			e1, ok1 := refStringEnd(b, pad)
			e2, ok2 := stringEnd(b, pad)
			if e1 != e2 || ok1 != ok2 {
				t.Errorf("stringEnd(%q, %d) = %d, %v; want %d, %v", b, pad, e2, ok2, e1, ok1)
			}
		}
	}
}

// TestClassifyResume checks the resumed top-level walk (topMemo) against the
// reference on pairs of events that differ at one position: every byte of
// each benchmark chunk replaced, deleted, or cut there, classified after the
// chunk itself and before it again, in every framing and hint.
func TestClassifyResume(t *testing.T) {
	for _, bc := range benchChunks {
		if bc.ct == "text/plain" || bc.name == "unknown_sse" {
			continue
		}
		name, p := sseNameData(bc.chunk)
		_, prime := sseNameData(bc.prime)
		ev := func(b []byte) []byte {
			if name == nil {
				return b
			}
			return append(append(append([]byte(nil), name...), 1), b...)
		}
		for j := range p {
			var vars [][]byte
			for _, c := range []byte{'X', '"', '}', ' ', ',', '\\', '0'} {
				v := bytes.Clone(p)
				v[j] = c
				vars = append(vars, v)
			}
			vars = append(vars, append(bytes.Clone(p[:j]), p[j+1:]...), bytes.Clone(p[:j]))
			for _, v := range vars {
				data := bytes.Join([][]byte{ev(prime), ev(p), ev(v), ev(p), ev(v)}, []byte{0})
				for _, mode := range []uint8{0, 1, 8, 8 | 16} {
					m := decodeMode(mode)
					want := classifyAll(data, m, true)
					got := classifyAll(data, m, false)
					if d := cmp.Diff(want, got); d != "" {
						t.Fatalf("%s, byte %d, variant %q, mode %+v (-ref +new):\n%s", bc.name, j, v, m, d)
					}
				}
			}
		}
	}
}

// TestClassifyResumes checks that consecutive OpenAI chat chunks resume the
// walk at choices, past the members they share.
func TestClassifyResumes(t *testing.T) {
	v := benchVariants(benchChunks[0].chunk)
	_, a := sseNameData(v[0])
	_, b := sseNameData(v[1])
	o := &Observer{}
	o.setDefaults()
	var ev Event
	o.classify(&ev, a, nil, true)
	var tp top
	k, i := o.memo.resume(&tp, b, 1, true)
	if !bytes.HasPrefix(b[i:], []byte(`,"choices"`)) || k != 6 {
		t.Errorf("resumed at member %d, %q; want member 6, choices", k, b[i:min(len(b), i+12)])
	}
	if string(tp.model) != `"gpt-4o-2024-08-06"` || string(tp.object) != `"chat.completion.chunk"` {
		t.Errorf("restored model %s, object %s", tp.model, tp.object)
	}
}
