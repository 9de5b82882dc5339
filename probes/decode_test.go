package probes

import (
	"bytes"
	"encoding/binary"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// rec describes a ring-buffer record for tests.
type rec struct {
	ts, dur, cookie, cgroup, count uint64
	pid, tid                       uint32
	err                            int32
	lport, rport                   uint16
	laddr, raddr                   [16]byte
	trace                          [16]byte
	span                           [8]byte
	signal, family, state, flags   uint8
	aux                            uint32
	payload                        []byte
}

func (r rec) bytes() []byte {
	b := make([]byte, recSize+len(r.payload))
	le := binary.LittleEndian
	le.PutUint64(b[offTS:], r.ts)
	le.PutUint64(b[offDuration:], r.dur)
	le.PutUint64(b[offCookie:], r.cookie)
	le.PutUint64(b[offCgroup:], r.cgroup)
	le.PutUint64(b[offCount:], r.count)
	le.PutUint32(b[offPID:], r.pid)
	le.PutUint32(b[offTID:], r.tid)
	le.PutUint32(b[offErr:], uint32(r.err))
	le.PutUint16(b[offLport:], r.lport)
	le.PutUint16(b[offRport:], r.rport)
	copy(b[offLaddr:], r.laddr[:])
	copy(b[offRaddr:], r.raddr[:])
	copy(b[offTraceID:], r.trace[:])
	copy(b[offSpanID:], r.span[:])
	b[offSignal], b[offFamily], b[offState], b[offFlags] = r.signal, r.family, r.state, r.flags
	le.PutUint32(b[offAux:], r.aux)
	le.PutUint16(b[offPayloadLen:], uint16(len(r.payload)))
	copy(b[recSize:], r.payload)
	return b
}

func v4(a, b, c, d byte) (x [16]byte) { x[0], x[1], x[2], x[3] = a, b, c, d; return x }

// dnsResponse builds a DNS response for name/qtype with rcode.
func dnsResponse(id uint16, name string, qtype uint16, rcode uint8) []byte {
	m := []byte{byte(id >> 8), byte(id), 0x81, 0x80 | rcode, 0, 1, 0, 0, 0, 0, 0, 0}
	start := 0
	for i := 0; name != "" && i <= len(name); i++ {
		if i == len(name) || name[i] == '.' {
			m = append(m, byte(i-start))
			m = append(m, name[start:i]...)
			start = i + 1
		}
	}
	m = append(m, 0, byte(qtype>>8), byte(qtype), 0, 1)
	return m
}

var goldenRecords = []struct {
	name string
	rec  rec
	want Event
}{
	{
		name: "runqueue",
		rec:  rec{ts: 5e9, dur: 7_500_000, count: 1, pid: 100, tid: 101, signal: 1, aux: 1},
		want: Event{Signal: RunqueueDelay, Mono: 5e9, PID: 100, TID: 101, Duration: 7500 * time.Microsecond, Count: 1, Op: 1},
	},
	{
		name: "tcp_retransmit_v4_traced",
		rec: rec{ts: 6e9, cookie: 4242, count: 1, pid: 100, lport: 40000, rport: 8080,
			laddr: v4(10, 213, 1, 1), raddr: v4(10, 213, 1, 2), signal: 2, family: 2, state: 1, flags: 1,
			trace: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, span: [8]byte{8, 7, 6, 5, 4, 3, 2, 1}},
		want: Event{Signal: TCPRetransmit, Mono: 6e9, PID: 100, Count: 1, Cookie: 4242, State: 1,
			Local:    netip.MustParseAddrPort("10.213.1.1:40000"),
			Remote:   netip.MustParseAddrPort("10.213.1.2:8080"),
			HasTrace: true, TraceID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, SpanID: [8]byte{8, 7, 6, 5, 4, 3, 2, 1}},
	},
	{
		name: "connect_error_v6",
		rec: rec{ts: 7e9, dur: 3e9, cookie: 9, count: 1, pid: 100, tid: 102, err: 110, lport: 1234, rport: 443,
			laddr: [16]byte{15: 1}, raddr: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}, signal: 3, family: 10, state: 7, flags: 2},
		want: Event{Signal: ConnectLatency, Mono: 7e9, PID: 100, TID: 102, Duration: 3 * time.Second, Count: 1, Cookie: 9, State: 7,
			Failed: true, Errno: syscall.ETIMEDOUT,
			Local: netip.MustParseAddrPort("[::1]:1234"), Remote: netip.MustParseAddrPort("[2001:db8::2]:443")},
	},
	{
		name: "dns",
		rec: rec{ts: 8e9, dur: 150e6, cookie: 77, count: 1, pid: 100, tid: 103, lport: 5555, rport: 53,
			laddr: v4(127, 0, 0, 1), raddr: v4(127, 0, 0, 53), signal: 4, family: 2, aux: 0xbeef,
			payload: dnsResponse(0xbeef, "api.openai.com", 28, 3)},
		want: Event{Signal: DNSLatency, Mono: 8e9, PID: 100, TID: 103, Duration: 150 * time.Millisecond, Count: 1, Cookie: 77, Op: 0xbeef,
			Local:  netip.MustParseAddrPort("127.0.0.1:5555"),
			Remote: netip.MustParseAddrPort("127.0.0.53:53"),
			DNS:    DNSInfo{Name: "api.openai.com", QType: 28, Rcode: 3, ID: 0xbeef, Server: netip.MustParseAddrPort("127.0.0.53:53")}},
	},
	{
		name: "syscall",
		rec:  rec{ts: 9e9, dur: 60e6, count: 1, pid: 100, tid: 104, err: 4, signal: 7, aux: 0, cgroup: 55},
		want: Event{Signal: SyscallLatency, Mono: 9e9, PID: 100, TID: 104, CgroupID: 55, Duration: 60 * time.Millisecond, Count: 1, Errno: syscall.EINTR},
	},
}

const testWallOffset = 1_700_000_000_000_000_000

func TestDecodeGolden(t *testing.T) {
	for _, tc := range goldenRecords {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", "record_"+tc.name+".bin")
			raw := tc.rec.bytes()
			if *update {
				if err := os.WriteFile(path, raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(raw, golden); diff != "" {
				t.Fatalf("golden record %s differs (run with -update):\n%s", path, diff)
			}
			d := newDecoder(testWallOffset)
			var got Event
			if err := d.decode(golden, &got); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Time = time.Unix(0, want.Mono+testWallOffset)
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeOmitDNSNames: with Config.OmitDNSNames the DNS record decodes
// to the golden event without its query name, the rest unchanged.
func TestDecodeOmitDNSNames(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "record_dns.bin"))
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(testWallOffset)
	d.omitNames = true
	var got Event
	if err := d.decode(golden, &got); err != nil {
		t.Fatal(err)
	}
	want := goldenRecords[3].want
	if want.Signal != DNSLatency || want.DNS.Name == "" {
		t.Fatalf("golden record 3 is not a named DNS event: %+v", want)
	}
	want.Time = time.Unix(0, want.Mono+testWallOffset)
	want.DNS.Name = ""
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("decode mismatch (-want +got):\n%s", diff)
	}
	if rec := AppendRecord(nil, &got); bytes.Contains(rec, []byte("openai")) {
		t.Errorf("the record the sidecar would send still holds the name: %x", rec)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := goldenRecords[3].rec.bytes()
	bad := func(mut func([]byte) []byte) []byte { return mut(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"empty", nil, errShortRecord},
		{"short", good[:recSize-1], errShortRecord},
		{"signal 0", bad(func(b []byte) []byte { b[offSignal] = 0; return b }), errBadSignal},
		{"poller signal", bad(func(b []byte) []byte { b[offSignal] = byte(CPUSteal); return b }), errBadSignal},
		{"payload past end", bad(func(b []byte) []byte { return b[:len(b)-1] }), errBadPayload},
		{"payload too long", bad(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[offPayloadLen:], dnsMax+1); return b }), errBadPayload},
	}
	d := newDecoder(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ev Event
			if err := d.decode(tc.raw, &ev); err != tc.want {
				t.Fatalf("decode error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseDNS(t *testing.T) {
	cases := []struct {
		name  string
		msg   []byte
		ok    bool
		qname string
		qtype uint16
		rcode uint8
	}{
		{"a", dnsResponse(1, "example.com", 1, 0), true, "example.com", 1, 0},
		{"root", dnsResponse(2, "", 2, 0), true, ".", 2, 0},
		{"nxdomain", dnsResponse(3, "nope.invalid", 28, 3), true, "nope.invalid", 28, 3},
		{"no question", []byte{0, 1, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0}, false, "", 0, 0},
		{"truncated label", dnsResponse(4, "example.com", 1, 0)[:15], false, "", 0, 0},
		{"truncated qtype", dnsResponse(4, "example.com", 1, 0)[:26], false, "", 0, 0},
		{"compression pointer", append([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0}, 0xc0, 12, 0, 1, 0, 1), false, "", 0, 0},
		{"short header", []byte{1, 2, 3}, false, "", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m dnsMsg
			ok := parseDNS(tc.msg, &m)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if got := string(m.name[:m.nameLen]); got != tc.qname || m.qtype != tc.qtype || m.rcode != tc.rcode {
				t.Errorf("got (%q, %d, %d), want (%q, %d, %d)", got, m.qtype, m.rcode, tc.qname, tc.qtype, tc.rcode)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range goldenRecords {
		f.Add(tc.rec.bytes())
	}
	f.Add(make([]byte, recSize))
	d := newDecoder(0)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev Event
		if err := d.decode(raw, &ev); err != nil {
			return
		}
		if !ev.Signal.kernel() {
			t.Fatalf("decoded non-kernel signal %d", ev.Signal)
		}
		if len(ev.DNS.Name) > 255 {
			t.Fatalf("DNS name longer than 255: %d", len(ev.DNS.Name))
		}
	})
}

func FuzzParseDNS(f *testing.F) {
	f.Add(dnsResponse(1, "example.com", 1, 0))
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 63})
	f.Fuzz(func(t *testing.T, msg []byte) {
		var m dnsMsg
		if parseDNS(msg, &m) && (m.nameLen < 1 || m.nameLen > len(m.name)) {
			t.Fatalf("bad name length %d", m.nameLen)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"runqueue", goldenRecords[0].rec.bytes()},
		{"tcp_retransmit", goldenRecords[1].rec.bytes()},
		{"dns", goldenRecords[3].rec.bytes()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d := newDecoder(testWallOffset)
			var ev Event
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.raw)))
			for b.Loop() {
				if err := d.decode(tc.raw, &ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
