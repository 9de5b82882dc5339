package slo

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/llmslo/slo/internal/stream"
)

// TestMeasure checks the SLI definitions against values computed by hand.
// Times are milliseconds after the start.
func TestMeasure(t *testing.T) {
	ms := time.Millisecond
	t0 := time.Unix(1_700_000_000, 0)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * ms) }
	for _, tc := range []struct {
		name      string
		firstByte int   // -1: no body byte
		outputs   []int // output chunks
		other     []int // chunks without output (pings, the end marker)
		end       int
		streaming bool
		reported  int64
		estimate  bool
		want      slis
	}{
		{
			name: "no body", firstByte: -1, end: 40, streaming: true, reported: -1, estimate: true,
			want: slis{e2e: 40 * ms, outTokens: -1},
		},
		{
			// Four chunks at 250, 300, 400, 650: gaps 50, 100, 250;
			// mean (650 − 250) / 3. Tokens estimated as 4: TPOT
			// (700 − 250) / 3 = 150 ms, decode rate 3 / 0.45 s.
			name: "stream without usage: tokens estimated from chunks", firstByte: 100,
			outputs: []int{250, 300, 400, 650}, other: []int{120, 690}, end: 700,
			streaming: true, reported: -1, estimate: true,
			want: slis{e2e: 700 * ms, ttfb: 100 * ms, ttft: 250 * ms, tpot: 150 * ms,
				hasTTFB: true, hasTTFT: true, hasTPOT: true,
				itlMax: 250 * ms, itlMean: 400 * ms / 3, tokensPerSec: 3 / 0.45,
				outTokens: 4, estimated: true},
		},
		{
			// Reported 10 tokens: TPOT (1000 − 200) / 9, rate 9 / 0.8 s.
			name: "stream with usage: the report is authoritative", firstByte: 200,
			outputs: []int{200, 600}, end: 1000, streaming: true, reported: 10, estimate: true,
			want: slis{e2e: 1000 * ms, ttfb: 200 * ms, ttft: 200 * ms, tpot: 800 * ms / 9,
				hasTTFB: true, hasTTFT: true, hasTPOT: true,
				itlMax: 400 * ms, itlMean: 400 * ms, tokensPerSec: 9 / 0.8, outTokens: 10},
		},
		{
			name: "one token: no TPOT", firstByte: 30, outputs: []int{50}, end: 60,
			streaming: true, reported: 1, estimate: true,
			want: slis{e2e: 60 * ms, ttfb: 30 * ms, ttft: 50 * ms, hasTTFB: true, hasTTFT: true, outTokens: 1},
		},
		{
			// The end at the last chunk: TPOT 0, no decode time, no rate.
			name: "no decode time", firstByte: 10, outputs: []int{10}, end: 10,
			streaming: true, reported: 5, estimate: true,
			want: slis{e2e: 10 * ms, ttfb: 10 * ms, ttft: 10 * ms, hasTTFB: true, hasTTFT: true, hasTPOT: true, outTokens: 5},
		},
		{
			name: "not a stream: no TTFT, ITL or TPOT, usage kept", firstByte: 300,
			outputs: []int{300, 320}, end: 400, reported: 42, estimate: true,
			want: slis{e2e: 400 * ms, ttfb: 300 * ms, hasTTFB: true, outTokens: 42},
		},
		{
			name: "not a stream, no usage: estimated only when allowed", firstByte: 300,
			outputs: []int{300}, end: 400, reported: -1, estimate: false,
			want: slis{e2e: 400 * ms, ttfb: 300 * ms, hasTTFB: true, outTokens: -1},
		},
		{
			name: "stream without estimate: no tokens, no TPOT", firstByte: 5,
			outputs: []int{5, 15, 25}, end: 30, streaming: true, reported: -1,
			want: slis{e2e: 30 * ms, ttfb: 5 * ms, ttft: 5 * ms, hasTTFB: true, hasTTFT: true,
				itlMax: 10 * ms, itlMean: 10 * ms, outTokens: -1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c chunkTimes
			// Feed the chunks in time order, as an observer would.
			events := map[int]stream.Event{}
			for _, m := range tc.other {
				events[m] = stream.Event{}
			}
			for _, m := range tc.outputs {
				events[m] = stream.Event{Output: true}
			}
			for m := 0; m <= tc.end; m++ {
				if ev, ok := events[m]; ok {
					c.note(&ev, at(m))
				}
			}
			x := exchange{start: t0, end: at(tc.end), chunks: &c, streaming: tc.streaming,
				reported: tc.reported, estimate: tc.estimate}
			if tc.firstByte >= 0 {
				x.firstByte = at(tc.firstByte)
			}
			got := x.measure()
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(slis{}), cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestKnown(t *testing.T) {
	for _, tc := range []struct{ a, b, want int64 }{{3, 7, 3}, {-1, 7, 7}, {0, 7, 0}, {-1, -1, -1}} {
		if got := known(tc.a, tc.b); got != tc.want {
			t.Errorf("known(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
