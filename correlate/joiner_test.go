package correlate

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/probes"
	"go.opentelemetry.io/otel/trace"
)

const t0 = int64(1000 * time.Second)

func at(d time.Duration) int64 { return t0 + int64(d) }

var (
	local1  = netip.MustParseAddrPort("10.0.0.1:40001")
	local2  = netip.MustParseAddrPort("10.0.0.1:40002")
	remoteA = netip.MustParseAddrPort("10.9.9.9:443")
	remoteB = netip.MustParseAddrPort("10.9.9.9:8443")
	remoteC = netip.MustParseAddrPort("10.7.7.7:443")
)

func retrans(d time.Duration, cookie uint64, l, r netip.AddrPort) probes.Event {
	return probes.Event{Signal: probes.TCPRetransmit, Mono: at(d), Cookie: cookie, Local: l, Remote: r, Count: 1}
}

func TestExactByCookie(t *testing.T) {
	var joins []string
	j := New(Config{Observe: func(ev *probes.Event, id RequestID, tier Tier) {
		joins = append(joins, tier.String())
	}})
	a := j.Start(at(0), trace.SpanContext{})
	b := j.Start(at(0), trace.SpanContext{})
	j.Acquire(a, Conn{Cookie: 1, Local: local1, Remote: remoteA}, at(10*time.Millisecond))
	j.Acquire(b, Conn{Cookie: 2, Local: local2, Remote: remoteB}, at(10*time.Millisecond))
	for _, ev := range []probes.Event{
		retrans(20*time.Millisecond, 1, local1, remoteA),
		retrans(30*time.Millisecond, 1, local1, remoteA),
		retrans(30*time.Millisecond, 0, local1, remoteA), // cookie unknown: by tuple
		{Signal: probes.ConnectLatency, Mono: at(15 * time.Millisecond), Cookie: 2, Local: local2, Remote: remoteB, Duration: 3 * time.Millisecond},
	} {
		j.Add(&ev)
	}
	j.Release(Conn{Cookie: 1, Local: local1, Remote: remoteA}, at(40*time.Millisecond))
	sa := j.End(a, at(100*time.Millisecond))
	sb := j.End(b, at(100*time.Millisecond))
	want := Summary{Retransmits: 3, Joins: [NumTiers]int{TierExact: 3}, Tier: TierExact, Confidence: 1}
	if d := cmp.Diff(want, sa); d != "" {
		t.Errorf("a (-want +got):\n%s", d)
	}
	want = Summary{Connects: 1, ConnectLatency: 3 * time.Millisecond, Joins: [NumTiers]int{TierExact: 1}, Tier: TierExact, Confidence: 1}
	if d := cmp.Diff(want, sb); d != "" {
		t.Errorf("b (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"trace_id_exact", "trace_id_exact", "trace_id_exact", "trace_id_exact"}, joins); d != "" {
		t.Errorf("joins (-want +got):\n%s", d)
	}
}

func TestTraceStamp(t *testing.T) {
	j := New(Config{})
	tid := trace.TraceID{1, 2, 3}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{9}})
	a := j.Start(at(0), sc)
	ev := retrans(5*time.Millisecond, 77, local1, remoteA)
	ev.HasTrace, ev.TraceID = true, tid
	j.Add(&ev)
	if s := j.End(a, at(10*time.Millisecond)); s.Retransmits != 1 || s.Tier != TierExact {
		t.Errorf("summary %+v, want 1 exact retransmit", s)
	}
}

func TestTiersAndFanout(t *testing.T) {
	// Four requests used remoteA's destination at different distances from
	// a retransmit on an unregistered connection to it; a fifth used another
	// port on the same host.
	type reg struct {
		from, to time.Duration
		remote   netip.AddrPort
	}
	regs := []reg{
		{0, 100 * time.Millisecond, remoteA},                      // overlaps: gap 0
		{0, 50 * time.Millisecond, remoteA},                       // gap 50ms
		{0, 10 * time.Millisecond, remoteA},                       // gap 90ms
		{0, 5 * time.Millisecond, remoteA},                        // gap 95ms: fourth, dropped by fan-out 3
		{0, 100 * time.Millisecond, remoteB},                      // same host: svc_node
		{500 * time.Millisecond, 600 * time.Millisecond, remoteA}, // outside the window
	}
	type join struct {
		req  int
		tier Tier
	}
	var got []join
	var ids []RequestID
	j := New(Config{Observe: func(ev *probes.Event, id RequestID, tier Tier) {
		for i, x := range ids {
			if x == id {
				got = append(got, join{i, tier})
			}
		}
	}})
	for i, r := range regs {
		id := j.Start(at(r.from), trace.SpanContext{})
		ids = append(ids, id)
		c := Conn{Cookie: uint64(100 + i), Local: netip.AddrPortFrom(local1.Addr(), uint16(50000+i)), Remote: r.remote}
		j.Acquire(id, c, at(r.from))
		j.Release(c, at(r.to))
	}
	ev := retrans(100*time.Millisecond, 999, netip.MustParseAddrPort("10.0.0.1:1"), remoteA)
	j.Add(&ev)
	j.Flush(at(200 * time.Millisecond))
	want := []join{{0, TierPodConn}, {1, TierPodConn}, {2, TierPodConn}}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(join{})); d != "" {
		t.Errorf("joins (-want +got):\n%s", d)
	}
}

func TestDNSByName(t *testing.T) {
	j := New(Config{})
	a := j.Start(at(0), trace.SpanContext{})
	b := j.Start(at(0), trace.SpanContext{})
	c := j.Start(at(0), trace.SpanContext{})
	j.Lookup(a, "API.example.com.", at(10*time.Millisecond), at(160*time.Millisecond))
	j.Lookup(c, "other.example.com", at(10*time.Millisecond), at(20*time.Millisecond))
	// A and AAAA in parallel, overlapping: union 150ms; one with a search suffix.
	for _, ev := range []probes.Event{
		{Signal: probes.DNSLatency, Mono: at(160 * time.Millisecond), Duration: 150 * time.Millisecond, DNS: probes.DNSInfo{Name: "api.example.com", QType: 1}},
		{Signal: probes.DNSLatency, Mono: at(159 * time.Millisecond), Duration: 140 * time.Millisecond, DNS: probes.DNSInfo{Name: "api.example.com.svc.local", QType: 28, Rcode: 3}},
	} {
		j.Add(&ev)
	}
	sa, sb, sc := j.End(a, at(300*time.Millisecond)), j.End(b, at(300*time.Millisecond)), j.End(c, at(300*time.Millisecond))
	want := Summary{DNS: 150 * time.Millisecond, DNSLookups: 2, DNSFailures: 1, Joins: [NumTiers]int{TierExact: 2}, Tier: TierExact, Confidence: 1}
	if d := cmp.Diff(want, sa); d != "" {
		t.Errorf("a (-want +got):\n%s", d)
	}
	if !sb.IsZero() || !sc.IsZero() {
		t.Errorf("b %+v c %+v, want zero", sb, sc)
	}
}

func TestLateRegistration(t *testing.T) {
	// The DNS answer and the connect are seen before the transport reports
	// the lookup and the dial.
	j := New(Config{})
	a := j.Start(at(0), trace.SpanContext{})
	dnsEv := probes.Event{Signal: probes.DNSLatency, Mono: at(30 * time.Millisecond), Duration: 20 * time.Millisecond, DNS: probes.DNSInfo{Name: "x.test"}}
	conn := probes.Event{Signal: probes.ConnectLatency, Mono: at(40 * time.Millisecond), Duration: 9 * time.Millisecond, Cookie: 5, Local: local1, Remote: remoteA}
	j.Add(&dnsEv)
	j.Add(&conn)
	j.Lookup(a, "x.test", at(10*time.Millisecond), at(31*time.Millisecond))
	j.Acquire(a, Conn{Cookie: 5, Local: local1, Remote: remoteA}, at(10*time.Millisecond)) // since GetConn
	j.Dial(a, remoteA, at(31*time.Millisecond), at(40*time.Millisecond))
	s := j.End(a, at(60*time.Millisecond))
	want := Summary{DNS: 20 * time.Millisecond, DNSLookups: 1, Connects: 1, ConnectLatency: 9 * time.Millisecond,
		Joins: [NumTiers]int{TierExact: 2}, Tier: TierExact, Confidence: 1}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestFailedConnectByDial(t *testing.T) {
	j := New(Config{})
	a := j.Start(at(0), trace.SpanContext{})
	b := j.Start(at(0), trace.SpanContext{})
	j.Dial(a, remoteC, at(10*time.Millisecond), at(3010*time.Millisecond))
	j.Dial(b, remoteA, at(10*time.Millisecond), at(20*time.Millisecond))
	ev := probes.Event{Signal: probes.ConnectLatency, Mono: at(3009 * time.Millisecond), Duration: 3 * time.Second, Failed: true, Cookie: 8, Remote: remoteC}
	j.Add(&ev)
	if s := j.End(a, at(3100*time.Millisecond)); s.ConnectErrors != 1 || s.Tier != TierExact {
		t.Errorf("a %+v, want one exact connect error", s)
	}
	if s := j.End(b, at(3100*time.Millisecond)); !s.IsZero() {
		t.Errorf("b %+v, want zero", s)
	}
}

func TestApportion(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// The confidences and threshold are set here (pod_pid above it,
	// svc_node below), so the test is about apportioning, not the measured
	// ones.
	conf := Config{Confidence: [NumTiers]float64{TierSvcNode: 0.65, TierPodPID: 0.9}, Threshold: 0.7}
	j := New(conf)
	// a: [0,100ms), b: [50,150ms). A 40ms run-queue stall during [60,100ms)
	// overlaps both equally: 20ms each. A 20ms stall during [0,20ms) is a's
	// alone. CFS: 100ms throttled in the poll period [0,1s) → 10% of each
	// request's time: 10ms each. Steal 4% over the same period (node-wide,
	// below the threshold by default).
	a := j.Start(at(0), trace.SpanContext{})
	b := j.Start(at(ms(50)), trace.SpanContext{})
	for _, ev := range []probes.Event{
		{Signal: probes.RunqueueDelay, Mono: at(ms(20)), Duration: ms(20)},
		{Signal: probes.RunqueueDelay, Mono: at(ms(100)), Duration: ms(40)},
		{Signal: probes.MemReclaim, Mono: at(ms(140)), Duration: ms(10)},
	} {
		j.Add(&ev)
	}
	sa := j.End(a, at(ms(100)))
	for _, ev := range []probes.Event{
		{Signal: probes.CFSThrottle, Mono: at(ms(1000)), Duration: ms(100)},
		{Signal: probes.CPUSteal, Mono: at(ms(1000)), Value: 4},
	} {
		j.Add(&ev)
	}
	sb := j.End(b, at(ms(150)))
	if d := cmp.Diff(Summary{Runqueue: ms(40), Joins: [NumTiers]int{TierPodPID: 1}, Tier: TierPodPID, Confidence: 0.9}, sa); d != "" {
		t.Errorf("a (-want +got):\n%s", d)
	}
	// b ended after the poll: it gets the throttling; steal is weak.
	if d := cmp.Diff(Summary{Runqueue: ms(20), Reclaim: ms(10), CFSThrottled: ms(10), Weak: 1, Joins: [NumTiers]int{TierPodPID: 3}, Tier: TierPodPID, Confidence: 0.9}, sb); d != "" {
		t.Errorf("b (-want +got):\n%s", d)
	}
	// The steal join is counted as node-wide; the others are not.
	if st := j.Stats(); st.NodeJoins != [NumTiers]uint64{TierSvcNode: 1} || st.NodeEnriched != [NumTiers]uint64{} ||
		st.Joins[TierSvcNode] != 1 || st.Joins[TierPodPID] != 4 {
		t.Errorf("stats: joins %v node-wide %v enriched %v node-wide enriched %v, want node-wide only the steal at svc_node",
			st.Joins, st.NodeJoins, st.Enriched, st.NodeEnriched)
	}
	// With a lower threshold the steal shows.
	conf.Threshold = 0.6
	j = New(conf)
	c := j.Start(at(0), trace.SpanContext{})
	ev := probes.Event{Signal: probes.CPUSteal, Mono: at(ms(1000)), Value: 4}
	j.Add(&ev)
	if s := j.End(c, at(ms(500))); s.StealPct < 3.999 || s.StealPct > 4.001 {
		t.Errorf("steal %v, want 4", s.StealPct)
	}
	if st := j.Stats(); st.NodeEnriched != [NumTiers]uint64{TierSvcNode: 1} {
		t.Errorf("node-wide enriched %v, want the steal at svc_node", st.NodeEnriched)
	}
}

func TestRetryStorm(t *testing.T) {
	j := New(Config{StormCount: 3, StormWindow: 100 * time.Millisecond})
	a := j.Start(at(0), trace.SpanContext{})
	j.Acquire(a, Conn{Cookie: 1, Local: local1, Remote: remoteA}, at(0))
	for _, d := range []time.Duration{10, 300, 310} { // 3 within 100ms? no: 10, 300, 310
		ev := retrans(d*time.Millisecond, 1, local1, remoteA)
		j.Add(&ev)
	}
	if s := j.End(a, at(400*time.Millisecond)); s.RetryStorm || s.Retransmits != 3 {
		t.Errorf("%+v, want 3 retransmits and no storm", s)
	}
	b := j.Start(at(500*time.Millisecond), trace.SpanContext{})
	j.Acquire(b, Conn{Cookie: 2, Local: local2, Remote: remoteA}, at(500*time.Millisecond))
	for _, d := range []time.Duration{510, 520, 530} {
		ev := retrans(d*time.Millisecond, 2, local2, remoteA)
		j.Add(&ev)
	}
	if s := j.End(b, at(600*time.Millisecond)); !s.RetryStorm {
		t.Errorf("%+v, want a storm", s)
	}
	if st := j.Stats(); st.Storms != 1 {
		t.Errorf("storms %d, want 1", st.Storms)
	}
}

func TestUnionLen(t *testing.T) {
	for _, tc := range []struct {
		in   []span
		want time.Duration
	}{
		{nil, 0},
		{[]span{{0, 10}}, 10},
		{[]span{{20, 30}, {0, 10}}, 20},
		{[]span{{0, 10}, {5, 15}, {30, 40}}, 25},
		{[]span{{0, 100}, {10, 20}}, 100},
	} {
		if got := unionLen(tc.in); got != tc.want {
			t.Errorf("unionLen(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
