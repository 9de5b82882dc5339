package correlate

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/llmslo/slo/probes"
	"go.opentelemetry.io/otel/trace"
)

// randEvent returns a random event around mono; tid is its unique id.
func randEvent(rng *rand.Rand, mono int64, tid uint32) probes.Event {
	sigs := []probes.Signal{probes.TCPRetransmit, probes.ConnectLatency, probes.DNSLatency, probes.RunqueueDelay, probes.MemReclaim}
	ev := probes.Event{Signal: sigs[rng.IntN(len(sigs))], Mono: mono, TID: tid, Count: 1}
	ev.Duration = time.Duration(rng.Int64N(int64(20 * time.Millisecond)))
	ev.Cookie = rng.Uint64N(64)
	ev.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), uint16(40000+rng.IntN(64)))
	ev.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(rng.IntN(4)), 9}), uint16(443+rng.IntN(3)))
	ev.DNS.Name = []string{"a.test", "b.test", "a.test.search", "zzz"}[rng.IntN(4)]
	ev.Failed = rng.IntN(4) == 0
	return ev
}

// TestPropertyWindowAndFanout drives random requests, registrations and
// events and checks that every join lies inside the request's interval
// widened by its tier's window, within the outer window of the newest time,
// and that no event joins more than MaxFanout requests.
func TestPropertyWindowAndFanout(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		type iv struct{ start, end int64 }
		intervals := map[RequestID]*iv{}
		perEvent := map[uint32]int{}
		var cfg Config
		cfg.MaxFanout = 1 + rng.IntN(4)
		var j *Joiner
		var violations int
		cfg.Observe = func(ev *probes.Event, id RequestID, tier Tier) {
			perEvent[ev.TID]++
			r := intervals[id]
			w := int64(j.cfg.Window[tier])
			if r == nil || ev.Mono < r.start-w || (r.end != 0 && ev.Mono > r.end+w) {
				violations++
				t.Errorf("seed %d: event at %d joined %v at %v outside [%d,%d]±%d", seed, ev.Mono, id, tier, r.start, r.end, w)
			}
			if ev.Mono < j.now-int64(j.cfg.OuterWindow) {
				t.Errorf("seed %d: event older than the outer window joined", seed)
			}
		}
		j = New(cfg)
		now := t0
		var live []RequestID
		var tid uint32
		for step := 0; step < 5000 && violations < 5; step++ {
			now += rng.Int64N(int64(5 * time.Millisecond))
			switch k := rng.IntN(10); {
			case k == 0 || len(live) == 0:
				id := j.Start(now, trace.SpanContext{})
				intervals[id] = &iv{start: now}
				live = append(live, id)
			case k == 1:
				i := rng.IntN(len(live))
				j.End(live[i], now)
				intervals[live[i]].end = now
				live = append(live[:i], live[i+1:]...)
			case k == 2:
				id := live[rng.IntN(len(live))]
				ev := randEvent(rng, now, 0)
				c := Conn{Cookie: ev.Cookie, Local: ev.Local, Remote: ev.Remote}
				j.Acquire(id, c, now)
				if rng.IntN(2) == 0 {
					j.Release(c, now+rng.Int64N(int64(50*time.Millisecond)))
				}
			case k == 3:
				id := live[rng.IntN(len(live))]
				from := now - rng.Int64N(int64(30*time.Millisecond))
				from = max(from, intervals[id].start)
				j.Lookup(id, []string{"a.test", "b.test"}[rng.IntN(2)], from, now)
				j.Dial(id, randEvent(rng, now, 0).Remote, from, now)
			default:
				tid++
				// Events arrive up to 50ms late, some from before old requests.
				ev := randEvent(rng, now-rng.Int64N(int64(50*time.Millisecond)), tid)
				j.Add(&ev)
			}
		}
		j.Flush(now + int64(time.Second))
		for id, n := range perEvent {
			if n > cfg.MaxFanout {
				t.Errorf("seed %d: event %d joined %d requests, limit %d", seed, id, n, cfg.MaxFanout)
			}
		}
		if len(perEvent) == 0 {
			t.Errorf("seed %d: nothing joined; the property is vacuous", seed)
		}
	}
}

// TestPropertyMemoryBounded feeds 1M events that match no request and
// checks that the Joiner's records and heap stay bounded.
func TestPropertyMemoryBounded(t *testing.T) {
	j := New(Config{})
	var ids []RequestID
	for i := range 100 {
		id := j.Start(t0, trace.SpanContext{})
		j.Acquire(id, Conn{Cookie: uint64(1_000_000 + i), Local: local1, Remote: remoteA}, t0)
		ids = append(ids, id)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ev := randEvent(rng, t0, 0)
	warm := func(n int, now int64) int64 {
		for i := range n {
			ev = randEvent(rng, now, 0)
			ev.Cookie = rng.Uint64() | 1<<62 // never registered
			ev.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, byte(i >> 16), byte(i >> 8), byte(i)}), 9)
			ev.DNS.Name = "nomatch.invalid"
			ev.Signal = []probes.Signal{probes.TCPRetransmit, probes.ConnectLatency, probes.DNSLatency, probes.RunqueueDelay}[i%4]
			j.Add(&ev)
			now += 1000
		}
		return now
	}
	now := warm(10_000, t0)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	n := 1_000_000
	if raceEnabled {
		n = 100_000 // the race detector makes 1M take minutes
	}
	now = warm(n, now)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	st := j.Stats()
	if st.Destinations != 1 || st.Hosts != 1 || st.Names != 0 || st.Conns != 100 {
		t.Errorf("registry grew: %+v", st)
	}
	if grow := int64(m1.HeapAlloc) - int64(m0.HeapAlloc); grow > 1<<20 {
		t.Errorf("heap grew by %d bytes over 1M unmatched events", grow)
	}
	if st.Events != uint64(10_000+n) {
		t.Errorf("events %d", st.Events)
	}
	for _, id := range ids {
		if s := j.End(id, now); s.Retransmits != 0 || s.DNSLookups != 0 {
			t.Errorf("unmatched events joined: %+v", s)
		}
	}
	runtime.KeepAlive(j)
}

// TestPropertyApportion: random requests and run-queue stalls. A request's
// share never exceeds the stall time around its own interval (nothing from
// outside its window), and the shares of all requests never exceed the
// stall time overall (apportioned, not copied).
func TestPropertyApportion(t *testing.T) {
	const bucket = int64(10 * time.Millisecond)
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 11))
		j := New(Config{})
		type req struct {
			id         RequestID
			start, end int64
			share      time.Duration
		}
		var reqs []*req
		var evs []probes.Event
		now := t0
		var live []*req
		end := func(r *req) {
			r.end = now
			r.share = j.End(r.id, now).Runqueue
		}
		for step := 0; step < 400; step++ {
			now += rng.Int64N(int64(3 * time.Millisecond))
			switch k := rng.IntN(6); {
			case k == 0 || len(live) == 0:
				r := &req{id: j.Start(now, trace.SpanContext{}), start: now}
				reqs = append(reqs, r)
				live = append(live, r)
			case k == 1:
				i := rng.IntN(len(live))
				end(live[i])
				live = append(live[:i], live[i+1:]...)
			default:
				d := rng.Int64N(int64(20 * time.Millisecond))
				d = min(d, now-t0)
				ev := probes.Event{Signal: probes.RunqueueDelay, Mono: now, Duration: time.Duration(d)}
				evs = append(evs, ev)
				j.Add(&ev)
			}
		}
		for _, r := range live {
			end(r)
		}
		inside := func(a, z int64) time.Duration {
			var s time.Duration
			for _, ev := range evs {
				lo, hi := max(ev.Mono-int64(ev.Duration), a), min(ev.Mono, z)
				if hi > lo {
					s += time.Duration(hi - lo)
				}
			}
			return s
		}
		var shares time.Duration
		for _, r := range reqs {
			shares += r.share
			// 10ms buckets: a request may get part of a stall in its edge buckets.
			a, z := (r.start/bucket)*bucket, (r.end/bucket+1)*bucket
			if lim := inside(a, z); r.share > lim+time.Microsecond {
				t.Errorf("seed %d: share %v > stall time %v in the buckets of its interval", seed, r.share, lim)
			}
		}
		// A request ending inside a bucket sees that bucket's occupancy so
		// far; allow one bucket of slack per request end.
		if all := inside(t0, now+1); shares > all+time.Duration(len(reqs))*time.Millisecond {
			t.Errorf("seed %d: shares sum to %v > stall time %v (copied, not apportioned)", seed, shares, all)
		} else {
			t.Logf("seed %d: %d requests, shares %v of %v stall time", seed, len(reqs), shares, all)
		}
	}
}
