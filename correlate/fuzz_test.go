package correlate

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/llmslo/slo/probes"
	"go.opentelemetry.io/otel/trace"
)

// FuzzEvaluate: any data set decodes and evaluates without panicking, and
// precision and recall stay in [0, 1].
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte(`{"ops":[{"kind":"start","req":1,"mono":5},{"kind":"acquire","req":1,"mono":5,"cookie":3},{"kind":"event","event":{"Signal":2,"Mono":6,"Cookie":3}},{"kind":"end","req":1,"mono":9}],"truth":[{"event":2,"req":1}]}`))
	f.Add([]byte(`{"ops":[{"kind":"event","event":{"Signal":4,"Mono":-5,"Duration":-9,"DNS":{"Name":"..a.."}}},{"kind":"lookup","req":7,"host":"A.","from":9,"to":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ds Dataset
		if json.Unmarshal(b, &ds) != nil {
			return
		}
		res, err := Evaluate(&ds, Config{MaxRequests: 8, MaxConns: 8, MaxDestinations: 4, Pending: 4, Buckets: 16})
		if err != nil {
			return
		}
		if p, r := res.Precision(), res.Recall(); p < 0 || p > 1 || r < 0 || r > 1 {
			t.Fatalf("precision %v recall %v", p, r)
		}
	})
}

// FuzzJoiner drives a small Joiner with an arbitrary sequence of inputs:
// no panic, and the caps hold.
func FuzzJoiner(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := Config{MaxRequests: 4, MaxConns: 4, MaxDestinations: 2, Pending: 2, Buckets: 8, MaxFanout: 2}
		j := New(cfg)
		var ids []RequestID
		now := t0
		for len(b) >= 4 {
			op, x := b[0], binary.LittleEndian.Uint16(b[1:3])
			arg := b[3]
			b = b[4:]
			now += int64(x) * int64(time.Microsecond) * 10
			pick := func() RequestID {
				if len(ids) == 0 {
					return 0
				}
				return ids[int(arg)%len(ids)]
			}
			remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, arg % 3}), uint16(arg%2))
			c := Conn{Cookie: uint64(arg % 5), Local: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, 1}), uint16(arg)), Remote: remote}
			switch op % 8 {
			case 0:
				ids = append(ids, j.Start(now, trace.SpanContext{}))
			case 1:
				j.End(pick(), now)
			case 2:
				j.Acquire(pick(), c, now-int64(arg))
			case 3:
				j.Release(c, now)
			case 4:
				j.Lookup(pick(), []string{"a", "a.b", "B.", ""}[arg%4], now-int64(x), now)
			case 5:
				j.Dial(pick(), remote, now-int64(x), now)
			case 6:
				j.Retry(remote, now)
			default:
				ev := probes.Event{Signal: probes.Signal(arg % 13), Mono: now - int64(x)*1000, Duration: time.Duration(int64(x) * int64(arg) * 1000),
					Cookie: c.Cookie, Local: c.Local, Remote: c.Remote, State: arg % 12, Failed: arg%2 == 0, Value: float64(arg)}
				ev.DNS.Name = []string{"a", "a.b", "x"}[arg%3]
				j.Add(&ev)
			}
		}
		st := j.Stats()
		if st.Slots > cfg.MaxRequests || st.Conns > cfg.MaxConns || st.Destinations > cfg.MaxDestinations || st.Hosts > cfg.MaxDestinations || st.Names > cfg.MaxDestinations {
			t.Fatalf("caps exceeded: %+v", st)
		}
		for tier := range NumTiers {
			if st.NodeJoins[tier] > st.Joins[tier] || st.NodeEnriched[tier] > st.Enriched[tier] || st.NodeEnriched[tier] > st.NodeJoins[tier] {
				t.Fatalf("tier %v: node-wide counts not within the totals: %+v", tier, st)
			}
		}
	})
}
