package stream_test

import (
	"fmt"
	"strings"

	"github.com/llmslo/slo/internal/stream"
)

func ExampleNewObserver() {
	body := `event: message_start
data: {"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":25,"output_tokens":1}}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}

event: message_stop
data: {"type":"message_stop"}

`
	o := stream.NewObserver("text/event-stream", stream.DialectUnknown, func(ev *stream.Event) {
		// A real caller takes time.Now() here: first Output is TTFT.
		fmt.Printf("output=%v done=%v finish=%q usage=%+v\n", ev.Output, ev.Done, ev.FinishReason, ev.Usage)
	}, stream.Config{})
	// The bytes arrive in arbitrary pieces, as through http.ResponseWriter.Write.
	for p := range strings.SplitSeq(body, "ta: ") {
		o.Write([]byte(p))
		o.Write([]byte("ta: "))
	}
	o.Close()
	u, _ := o.Usage()
	fmt.Println(o.Format(), o.Dialect(), o.Model(), u.Input, u.Output)
	// Output:
	// output=false done=false finish="" usage={Input:25 Output:1 CacheRead:-1 CacheWrite:-1 Reasoning:-1}
	// output=true done=false finish="" usage={Input:-1 Output:-1 CacheRead:-1 CacheWrite:-1 Reasoning:-1}
	// output=false done=false finish="end_turn" usage={Input:-1 Output:15 CacheRead:-1 CacheWrite:-1 Reasoning:-1}
	// output=false done=true finish="" usage={Input:-1 Output:-1 CacheRead:-1 CacheWrite:-1 Reasoning:-1}
	// sse anthropic claude-sonnet-4-5 25 15
}
