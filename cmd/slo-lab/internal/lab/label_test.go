package lab

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmslo/slo/attribution"
)

// TestLabelOverlap checks the labels from overlap: a request's truth is the
// set of domains whose faults were in effect while it was in flight, in
// flight at onset included; requests that start just after a fault ended
// are left out; healthy requests decide whether the run is rejected.
func TestLabelOverlap(t *testing.T) {
	sc := &Scenario{Name: "two", Faults: []Fault{{Kind: "dns_delay"}, {Kind: "retrieval_slow"}}}
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	res := RunResult{Windows: []Window{
		{Fault: 0, At: at(3000), End: at(5000)},
		{Fault: 1, At: at(4000), End: at(6000)},
	}}
	bad := func(start, end int) Req {
		return Req{Start: at(start), End: at(end), Judged: true, Obs: attribution.Observation{E2EMs: float64(end - start)}}
	}
	good := bad
	reqs := []Req{
		good(0, 100), bad(100, 300), // healthy: one of two bad
		bad(2900, 3100),   // in flight when the DNS fault began
		bad(4500, 4700),   // both faults
		bad(5900, 6200),   // retrieval only, in flight at its end
		bad(6500, 6700),   // settling: left out
		bad(7100, 7300),   // healthy again
		bad(3000, 3000),   // starts as the fault begins, ends at once: still in flight at onset
		{Start: at(3500)}, // not judged
	}
	reqs[0].Good = true
	res.label(reqs, sc)
	type lab struct {
		truth  attribution.Domain
		truths []attribution.Domain
	}
	var got []lab
	for _, s := range res.Samples {
		got = append(got, lab{s.Truth, s.Truths})
	}
	dns, retr, ukn := attribution.NetworkDNS, attribution.RetrievalBackend, attribution.Unknown
	want := []lab{{ukn, nil}, {dns, nil}, {dns, []attribution.Domain{dns, retr}}, {retr, nil}, {ukn, nil}, {dns, nil}}
	if len(got) != len(want) {
		t.Fatalf("samples %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].truth != want[i].truth || !slices.Equal(got[i].truths, want[i].truths) {
			t.Errorf("sample %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if res.Bad != 7 || res.Healthy != 3 || res.HealthyBad != 2 {
		t.Errorf("bad %d, healthy %d (bad %d), want 7, 3 (2)", res.Bad, res.Healthy, res.HealthyBad)
	}
	if !strings.Contains(res.Rejected, "2 of 3 healthy requests") {
		t.Errorf("rejected = %q", res.Rejected)
	}
	// A TTFT objective tight on purpose misses healthy requests by design.
	tight := RunResult{}
	tight.label(reqs, &Scenario{Workload: Workload{TightTTFT: true}})
	if tight.Rejected != "" || tight.HealthyBad != 7 {
		t.Errorf("tight objective: rejected %q, healthy bad %d", tight.Rejected, tight.HealthyBad)
	}
}
