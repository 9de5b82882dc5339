package slo

import (
	"time"

	"github.com/llmslo/slo/internal/stream"
)

// chunkTimes follows the chunks of one observed stream; the server side
// (Request) and the client side (call) embed it.
type chunkTimes struct {
	firstOut, lastOut time.Time // first and latest output-bearing chunk
	outChunks         int64
	itlMax            time.Duration // largest gap between output chunks
	streamErr         bool          // the stream carried an error event
	sawDone           bool          // the stream's own end marker was seen
	finish            string        // the last finish reason reported
}

// note records ev, observed at now. For an output chunk after the first it
// returns the gap since the previous one.
func (c *chunkTimes) note(ev *stream.Event, now time.Time) (gap time.Duration, hasGap bool) {
	if ev.Error {
		c.streamErr = true
	}
	if ev.Done {
		c.sawDone = true
	}
	if ev.FinishReason != "" {
		c.finish = ev.FinishReason
	}
	if !ev.Output {
		return 0, false
	}
	if c.outChunks > 0 {
		gap, hasGap = now.Sub(c.lastOut), true
		c.itlMax = max(c.itlMax, gap)
	} else {
		c.firstOut = now
	}
	c.lastOut = now
	c.outChunks++
	return gap, hasGap
}
