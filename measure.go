package slo

import "time"

// This file holds the SLI definitions of docs/design.md §4, computed once for
// both sides: a request served through Instrument (Request.compute) and a
// call made through Transport (call.result).

// exchange is what one observed request or call yields for the SLI
// definitions.
type exchange struct {
	// start is when the request arrived or the call started; end is its
	// last byte or the handler's return.
	start, end time.Time
	// firstByte is when the first body byte passed; zero when none did.
	firstByte time.Time
	// chunks are the output chunks of the body, as the stream observer
	// reported them.
	chunks *chunkTimes
	// streaming says the body is a stream: TTFT and TPOT are only defined
	// on streams.
	streaming bool
	// reported is the output token count the stream (or the handler)
	// reported; -1 when unknown.
	reported int64
	// estimate says the count of output chunks may stand in for an
	// unreported output token count (not for a single JSON body).
	estimate bool
}

// slis are the indicators of one exchange.
type slis struct {
	e2e, ttfb, ttft, tpot     time.Duration
	hasTTFB, hasTTFT, hasTPOT bool
	itlMax, itlMean           time.Duration // gaps between output chunks; zero with fewer than two
	tokensPerSec              float64       // decode rate; zero without TPOT or without decode time
	outTokens                 int64         // reported, else the chunk estimate; -1 when unknown
	estimated                 bool          // outTokens is the count of output chunks
}

// measure computes the SLIs of x:
//
//   - E2E: start → end; TTFB: start → first body byte;
//   - TTFT: start → first output chunk, on a stream with output;
//   - ITL: the largest and the mean gap between consecutive output chunks;
//   - output tokens: the reported count, else the count of output chunks
//     (estimated) when x.estimate allows it;
//   - TPOT: (E2E − TTFT) / (output tokens − 1) and decode tokens/s:
//     (output tokens − 1) / (E2E − TTFT), with TTFT and two tokens or more.
func (x *exchange) measure() slis {
	c := x.chunks
	s := slis{e2e: x.end.Sub(x.start), outTokens: -1}
	if !x.firstByte.IsZero() {
		s.ttfb, s.hasTTFB = x.firstByte.Sub(x.start), true
	}
	if x.streaming && c.outChunks > 0 {
		s.ttft, s.hasTTFT = c.firstOut.Sub(x.start), true
		if c.outChunks > 1 {
			s.itlMax = c.itlMax
			s.itlMean = c.lastOut.Sub(c.firstOut) / time.Duration(c.outChunks-1)
		}
	}
	switch {
	case x.reported >= 0:
		s.outTokens = x.reported
	case x.estimate && c.outChunks > 0:
		s.outTokens, s.estimated = c.outChunks, true
	}
	if s.hasTTFT && s.outTokens >= 2 {
		decode := s.e2e - s.ttft
		s.tpot, s.hasTPOT = decode/time.Duration(s.outTokens-1), true
		if decode > 0 {
			s.tokensPerSec = float64(s.outTokens-1) / decode.Seconds()
		}
	}
	return s
}

// known returns a when it is known (not negative), else b when it is, else -1.
func known(a, b int64) int64 {
	switch {
	case a >= 0:
		return a
	case b >= 0:
		return b
	}
	return -1
}
