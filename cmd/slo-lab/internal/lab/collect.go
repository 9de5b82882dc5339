package lab

import (
	"context"
	"slices"
	"sync"
	"time"

	slo "github.com/llmslo/slo"
	"github.com/llmslo/slo/attribution"
)

// recordStore keeps the record of every request a run's tracker served
// (slo.WithRequestRecords).
type recordStore struct {
	mu   sync.Mutex
	recs []slo.RequestRecord
}

func (s *recordStore) add(_ context.Context, r slo.RequestRecord) {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}

// Req is one served request of a run, from the tracker's record of it.
type Req struct {
	Start, End time.Time
	TTFTMs     float64 // 0 when the request had no output
	TPOTMs     float64 // 0 when not measured
	Judged     bool
	Good       bool
	// Obs is the raw evidence (absolute values), as the tracker built it.
	Obs attribution.Observation
}

// requests returns the run's requests, in the order they ended, with the
// evidence the tracker itself computed for each (attribution.NewObservation
// of its calls and kernel summary, a probe that ran but saw nothing read
// as 0).
func (s *recordStore) requests() []Req {
	s.mu.Lock()
	recs := slices.Clone(s.recs)
	s.mu.Unlock()
	out := make([]Req, 0, len(recs))
	for _, r := range recs {
		out = append(out, Req{Start: r.Start, End: r.End, TTFTMs: float64(r.TTFT) / float64(time.Millisecond), TPOTMs: float64(r.TPOT) / float64(time.Millisecond),
			Judged: len(r.Objectives) > 0, Good: len(r.Breached) == 0, Obs: r.Evidence})
	}
	slices.SortStableFunc(out, func(a, b Req) int { return a.End.Compare(b.End) })
	return out
}
