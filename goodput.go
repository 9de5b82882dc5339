package slo

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// GoodputStatus counts the requests judged by at least one objective and
// their output tokens, in total and for those that met every objective
// that judged them: the goodput (docs/design.md §15). Requests no objective
// judged (a non-streaming request under TTFT objectives only, a request the
// client abandoned) are in neither count.
type GoodputStatus struct {
	Requests     int64 `json:"requests"`      // judged by at least one objective
	GoodRequests int64 `json:"good_requests"` // and good on every objective that judged them
	Tokens       int64 `json:"tokens"`        // output tokens of Requests (those that reported or counted any)
	GoodTokens   int64 `json:"good_tokens"`   // output tokens of GoodRequests
}

// Ratio returns GoodRequests/Requests, or 1 when nothing was judged.
func (g GoodputStatus) Ratio() float64 {
	if g.Requests == 0 {
		return 1
	}
	return float64(g.GoodRequests) / float64(g.Requests)
}

// goodputCounts are the tracker's goodput counters, by good (index 1) and
// not (index 0); llm.slo.goodput.* reads them at collection.
type goodputCounts struct {
	reqs, tokens       [2]atomic.Int64
	promReq, promToken [2]prometheus.Counter // nil without a registerer
}

// add counts one judged request with its output tokens (negative: unknown).
func (g *goodputCounts) add(allGood bool, tokens int64) {
	i := boolIndex(allGood)
	g.reqs[i].Add(1)
	if g.promReq[i] != nil {
		g.promReq[i].Inc()
	}
	if tokens > 0 {
		g.tokens[i].Add(tokens)
		if g.promToken[i] != nil {
			g.promToken[i].Add(float64(tokens))
		}
	}
}

func (g *goodputCounts) status() GoodputStatus {
	good, bad := g.reqs[1].Load(), g.reqs[0].Load()
	gt, bt := g.tokens[1].Load(), g.tokens[0].Load()
	return GoodputStatus{Requests: good + bad, GoodRequests: good, Tokens: gt + bt, GoodTokens: gt}
}
