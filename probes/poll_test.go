package probes

import (
	"math"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"
)

func TestParseProcStat(t *testing.T) {
	in := "cpu  100 20 30 400 50 6 7 80 9 1\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 1\n"
	got, err := parseProcStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	// total = 100+20+30+400+50+6+7+80 (guest excluded), steal = 80.
	if want := (procStatCPU{total: 693, steal: 80}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "intr 1\n", "cpu  1 x 3\n"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) succeeded", bad)
		}
	}
}

func TestParseCPUStat(t *testing.T) {
	cases := []struct {
		name, in string
		want     cpuStat
	}{
		{"v1", "nr_periods 10\nnr_throttled 4\nthrottled_time 123456789\n",
			cpuStat{periods: 10, throttled: 4, throttledTime: 123456789, hasThrottle: true}},
		{"v2", "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 7\nnr_throttled 3\nthrottled_usec 2500\n",
			cpuStat{periods: 7, throttled: 3, throttledTime: 2500 * time.Microsecond, hasThrottle: true}},
		{"v2 root", "usage_usec 5\nuser_usec 3\nsystem_usec 2\n", cpuStat{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseCPUStat([]byte(tc.in)); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParsePSI(t *testing.T) {
	got, err := parsePSI([]byte("some avg10=1.50 avg60=0.20 avg300=0.00 total=2500\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (psiLine{avg10: 1.5, total: 2500 * time.Microsecond}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := parsePSI([]byte("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")); err == nil {
		t.Error("parsePSI without a some line succeeded")
	}
}

func TestSchedDelta(t *testing.T) {
	buckets := []float64{math.Inf(-1), 0, 1e-6, 1e-3, 1, math.Inf(1)}
	prev := &metrics.Float64Histogram{Counts: []uint64{0, 5, 5, 0, 0}, Buckets: buckets}
	cur := &metrics.Float64Histogram{Counts: []uint64{0, 5, 103, 2, 0}, Buckets: buckets}
	n, p99, mean := schedDelta(cur, prev)
	// 98 samples in [1µs, 1ms) and 2 in [1ms, 1s): p99 is the 99th sample,
	// in the [1ms, 1s) bucket → its upper bound, 1s.
	if n != 100 || p99 != time.Second {
		t.Errorf("n %d p99 %v, want 100, 1s", n, p99)
	}
	wantMean := (98*(1e-6+1e-3)/2 + 2*(1e-3+1)/2) / 100
	if math.Abs(mean-wantMean) > 1e-12 {
		t.Errorf("mean %g, want %g", mean, wantMean)
	}
	if n, _, _ := schedDelta(prev, prev); n != 0 {
		t.Errorf("no new samples: n = %d", n)
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	h.Buckets[10] = 90 // [1024ns, 2048ns)
	h.Buckets[20] = 10 // [~1ms, ~2ms)
	h.Count = 100
	h.Sum = 100 * time.Millisecond
	if got := h.Mean(); got != time.Millisecond {
		t.Errorf("Mean = %v", got)
	}
	if got := h.Quantile(0.5); got != 2048 {
		t.Errorf("p50 = %v, want 2.048µs", got)
	}
	if got := h.Quantile(0.95); got != 1<<21 {
		t.Errorf("p95 = %v, want 2.097152ms", got)
	}
	d := h.Sub(Histogram{Count: 50, Sum: 10 * time.Millisecond, Buckets: [64]uint64{10: 50}})
	if d.Count != 50 || d.Buckets[10] != 40 || d.Buckets[20] != 10 || d.Sum != 90*time.Millisecond {
		t.Errorf("Sub = %+v", d)
	}
	if (Histogram{}).Quantile(0.5) != 0 || (Histogram{}).Mean() != 0 {
		t.Error("empty histogram not zero")
	}
}

func TestSignalNames(t *testing.T) {
	want := []string{"runqueue_delay", "tcp_retransmit", "connect_latency", "dns_latency", "mem_reclaim",
		"blk_io", "syscall_latency", "cpu_steal", "cfs_throttle", "psi", "go_sched_latency"}
	var got []string
	for _, s := range AllSignals() {
		got = append(got, s.String())
		p, err := ParseSignal(s.String())
		if err != nil || p != s {
			t.Errorf("ParseSignal(%q) = %v, %v", s, p, err)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if Signal(0).String() != "signal(0)" || Signal(200).String() != "signal(200)" {
		t.Error("unknown signal names")
	}
	if _, err := ParseSignal("nope"); err == nil {
		t.Error("ParseSignal(nope) succeeded")
	}
	if On.String() != "on" || Degraded.String() != "degraded" || Off.String() != "off" {
		t.Error("state names")
	}
}

func TestDeliveryDropsAndRateLimit(t *testing.T) {
	s := newSet(Config{RateLimit: map[Signal]rate.Limit{DNSLatency: 1}}, 1)
	s.setStatus(TCPRetransmit, On, "")
	s.setStatus(DNSLatency, On, "")
	slow, cancelSlow := s.Subscribe(2)
	fast, cancelFast := s.Subscribe(100)
	for i := 0; i < 10; i++ {
		s.emit(&Event{Signal: TCPRetransmit, Count: uint64(i)})
		s.emit(&Event{Signal: DNSLatency})
	}
	s.emit(&Event{Signal: CPUSteal}) // not enabled: ignored
	st := s.Stats()
	tcp, dns := st.Signals[TCPRetransmit-1], st.Signals[DNSLatency-1]
	// The slow subscriber (capacity 2) keeps tcp#0 and dns#0, then drops
	// tcp#1..9.
	if tcp.Events != 10 || tcp.Dropped != 9 || tcp.RateLimited != 0 {
		t.Errorf("tcp stats %+v", tcp)
	}
	// dns: burst 1 at 1/s lets dns#0 through and limits the other 9.
	if dns.Events != 10 || dns.RateLimited != 9 || dns.Dropped != 0 {
		t.Errorf("dns stats %+v", dns)
	}
	if st.Signals[CPUSteal-1].Events != 0 {
		t.Errorf("disabled signal counted: %+v", st.Signals[CPUSteal-1])
	}
	if len(fast) != 11 || len(slow) != 2 {
		t.Errorf("fast got %d, slow got %d; want 11, 2", len(fast), len(slow))
	}
	cancelSlow()
	cancelSlow()
	s.emit(&Event{Signal: TCPRetransmit})
	if len(fast) != 12 {
		t.Errorf("fast got %d after slow left, want 12", len(fast))
	}
	cancelFast()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range fast {
		n++
	}
	if n != 12 {
		t.Errorf("drained %d from fast after Close, want 12", n)
	}
}

func BenchmarkEmit(b *testing.B) {
	s := newSet(Config{}, 1)
	s.setStatus(TCPRetransmit, On, "")
	ch, cancel := s.Subscribe(1 << 10)
	defer cancel()
	go func() {
		for range ch {
		}
	}()
	ev := Event{Signal: TCPRetransmit}
	b.ReportAllocs()
	for b.Loop() {
		s.emit(&ev)
	}
}

func TestDefaultSignals(t *testing.T) {
	var c Config
	for _, sig := range AllSignals() {
		if !c.wants(sig) {
			t.Errorf("empty Config does not want %s", sig)
		}
	}
	if diff := cmp.Diff(AllSignals(), DefaultSignals()); diff != "" {
		t.Error(diff)
	}
	c.Signals = []Signal{SyscallLatency}
	if !c.wants(SyscallLatency) || c.wants(DNSLatency) {
		t.Error("explicit Signals not honoured")
	}
}
