package probes

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestAppendRecordRoundTrip(t *testing.T) {
	tests := []Event{
		{Signal: TCPRetransmit, Mono: 123456789, PID: 10, TID: 11, CgroupID: 99, Count: 1, Cookie: 77, State: 1,
			Local: netip.MustParseAddrPort("10.213.9.1:40000"), Remote: netip.MustParseAddrPort("10.213.9.2:9000"),
			HasTrace: true, TraceID: [16]byte{1, 15: 2}, SpanID: [8]byte{3, 7: 4}},
		{Signal: ConnectLatency, Mono: 5, Duration: 3 * time.Millisecond, Failed: true, Errno: syscall.ECONNREFUSED, State: 7,
			Local: netip.MustParseAddrPort("[2001:db8::1]:5"), Remote: netip.MustParseAddrPort("[2001:db8::2]:6")},
		{Signal: DNSLatency, Mono: 9, Duration: 150 * time.Millisecond, PID: 1, Op: 0x1234, Count: 1,
			Local: netip.MustParseAddrPort("127.0.0.1:5353"), Remote: netip.MustParseAddrPort("127.0.0.1:53"),
			DNS: DNSInfo{Name: "api.example.com", QType: 28, Rcode: 3, ID: 0x1234, Server: netip.MustParseAddrPort("127.0.0.1:53")}},
		{Signal: DNSLatency, Mono: 9, Op: 7, DNS: DNSInfo{ID: 7}},
		{Signal: RunqueueDelay, Mono: 1, Duration: 9 * time.Millisecond, Op: 3, PID: 2, TID: 3},
		{Signal: SyscallLatency, Mono: 1, Duration: time.Second, Op: 202, Errno: syscall.EINTR},
	}
	dec := newDecoder(1000)
	for _, want := range tests {
		t.Run(want.Signal.String(), func(t *testing.T) {
			rec := AppendRecord(nil, &want)
			var got Event
			if err := dec.decode(rec, &got); err != nil {
				t.Fatal(err)
			}
			want.Time = time.Unix(0, want.Mono+1000)
			if d := cmp.Diff(want, got, cmpopts.EquateComparable(netip.AddrPort{})); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
		})
	}
	if got := AppendRecord([]byte{1}, &Event{Signal: PSI}); len(got) != 1 {
		t.Errorf("poller signal encoded: %d bytes", len(got))
	}
}

// FuzzRecord decodes arbitrary records; whatever decodes re-encodes to a
// record that decodes to the same event.
func FuzzRecord(f *testing.F) {
	f.Add(AppendRecord(nil, &Event{Signal: DNSLatency, DNS: DNSInfo{Name: "a.b", QType: 1}}))
	f.Add(AppendRecord(nil, &Event{Signal: TCPRetransmit, Local: netip.MustParseAddrPort("1.2.3.4:5")}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		dec := newDecoder(0)
		var ev Event
		if err := dec.decode(raw, &ev); err != nil {
			return
		}
		var again Event
		if err := dec.decode(AppendRecord(nil, &ev), &again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v (%+v)", err, ev)
		}
		// Unparseable DNS names and zero addresses of a family are lossy;
		// compare what the wire promises.
		if ev.Signal != again.Signal || ev.Mono != again.Mono || ev.PID != again.PID || ev.CgroupID != again.CgroupID ||
			ev.Duration != again.Duration || ev.Cookie != again.Cookie || ev.Count != again.Count || ev.Op != again.Op ||
			ev.HasTrace != again.HasTrace || ev.TraceID != again.TraceID || ev.Failed != again.Failed || ev.Errno != again.Errno ||
			ev.DNS.QType != again.DNS.QType || ev.DNS.Rcode != again.DNS.Rcode {
			t.Fatalf("round trip\n got %+v\nwant %+v", again, ev)
		}
	})
}
