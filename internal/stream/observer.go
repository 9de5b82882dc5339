package stream

// Usage is the token usage a stream reports. A field is -1 when the stream
// did not report it; nothing is ever estimated here.
type Usage struct {
	// Input is the number of input (prompt) tokens, cached ones included:
	// Anthropic's input_tokens plus its cache_creation_input_tokens and
	// cache_read_input_tokens, OpenAI's prompt_tokens or input_tokens as they
	// are.
	Input int64
	// Output is the number of output (completion) tokens, reasoning ones
	// included.
	Output int64
	// CacheRead is the part of Input served from the provider's prompt
	// cache: OpenAI's prompt_tokens_details.cached_tokens (chat) or
	// input_tokens_details.cached_tokens (Responses), DeepSeek's
	// prompt_cache_hit_tokens, Anthropic's cache_read_input_tokens.
	CacheRead int64
	// CacheWrite is the part of Input written to the provider's prompt
	// cache: Anthropic's cache_creation_input_tokens.
	CacheWrite int64
	// Reasoning is the part of Output spent on reasoning: OpenAI's
	// completion_tokens_details.reasoning_tokens (chat) or
	// output_tokens_details.reasoning_tokens (Responses).
	Reasoning int64
}

// noUsage returns a Usage with every field unreported.
func noUsage() Usage {
	return Usage{Input: -1, Output: -1, CacheRead: -1, CacheWrite: -1, Reasoning: -1}
}

// reported reports whether any field of u is reported (not -1): the sign
// bit of the fields' AND is clear unless every one is negative.
func (u *Usage) reported() bool {
	return u.Input&u.Output&u.CacheRead&u.CacheWrite&u.Reasoning >= 0
}

// merge overwrites the fields of u that r reports.
func (u *Usage) merge(r *Usage) {
	if r.Input >= 0 {
		u.Input = r.Input
	}
	if r.Output >= 0 {
		u.Output = r.Output
	}
	if r.CacheRead >= 0 {
		u.CacheRead = r.CacheRead
	}
	if r.CacheWrite >= 0 {
		u.CacheWrite = r.CacheWrite
	}
	if r.Reasoning >= 0 {
		u.Reasoning = r.Reasoning
	}
}

// fill sets the fields of u that are unreported to those of r.
func (u *Usage) fill(r Usage) {
	if u.Input < 0 {
		u.Input = r.Input
	}
	if u.Output < 0 {
		u.Output = r.Output
	}
	if u.CacheRead < 0 {
		u.CacheRead = r.CacheRead
	}
	if u.CacheWrite < 0 {
		u.CacheWrite = r.CacheWrite
	}
	if u.Reasoning < 0 {
		u.Reasoning = r.Reasoning
	}
}

// Event describes one decoded chunk. The zero value (with Usage fields 0)
// is never delivered: absent usage is reported as -1.
type Event struct {
	// Output reports that the chunk carries output: text, tool-call
	// arguments, reasoning/thinking or a refusal delta.
	Output bool
	// Usage is the usage this chunk reported (fields -1 when absent).
	Usage Usage
	// Done marks the terminal chunk: [DONE], message_stop,
	// response.completed or response.incomplete, Ollama "done":true, or a
	// successfully decoded non-streaming JSON body.
	Done bool
	// Error marks a stream-level error: {"error":...}, an SSE "event: error",
	// an Anthropic error event, response.failed.
	Error bool
	// FinishReason is set only on the chunk that carries one. It is one of
	// the constant strings "stop", "length", "tool_calls", "content_filter",
	// "function_call", "end_turn", "max_tokens", "stop_sequence", "tool_use",
	// "pause_turn", "refusal", "model_context_window_exceeded", "load",
	// "unload", "max_output_tokens", "completed", "incomplete", "failed",
	// "cancelled", "error", or "other" for any unknown value. For the OpenAI
	// Responses API, which has no finish reason, it is the final status
	// ("completed", "failed") or the incomplete_details reason.
	FinishReason string
}

// Config bounds the memory an Observer uses. The zero value gives the
// defaults.
type Config struct {
	// MaxEventBytes caps the bytes kept of one SSE event or NDJSON line
	// (0 or less: 256 KiB). A larger event is classified from its first
	// MaxEventBytes bytes and counted by Observer.Overflowed.
	MaxEventBytes int
	// MaxJSONBytes caps the bytes kept of a non-streaming JSON body (0 or
	// less: 1 MiB). Beyond it, usage is not extracted.
	MaxJSONBytes int
}

const (
	defaultMaxEventBytes = 256 << 10
	defaultMaxJSONBytes  = 1 << 20
	tailSize             = 4 << 10  // tail window of an oversized event
	maxEventName         = 64       // bytes kept of an SSE event name
	maxModelLen          = 256      // bytes kept of a model name
	keepBufBytes         = 64 << 10 // Reset keeps buffers up to this capacity
)

// SSE line states.
const (
	lsStart      uint8 = iota // at the start of a line
	lsName                    // reading a field name
	lsValueStart              // after the colon, before the optional space
	lsValue                   // reading a field value
	lsSkip                    // skipping a comment line
)

// SSE fields of interest.
const (
	fOther uint8 = iota
	fData
	fEvent
)

// JSON body phases (looking for an NDJSON second line).
const (
	jFirstLine uint8 = iota
	jSecondLine
	jDecided
)

// Observer decodes one response body incrementally. Create it with
// NewObserver; the zero value is also usable and behaves like
// NewObserver("", DialectUnknown, nil, Config{}). See the package
// documentation for the concurrency contract.
type Observer struct {
	sink     func(*Event)
	maxEvent int
	maxJSON  int
	hint     Dialect
	dialect  Dialect
	format   Format
	closed   bool

	// Start of the body: byte order mark and format sniffing.
	bomDone bool
	bomN    uint8
	sniffN  uint8
	sniff   [8]byte

	// SSE line state.
	ls       uint8
	field    uint8
	nameN    uint8
	nameLong bool
	lastCR   bool
	name     [8]byte
	evNameN  int
	evName   [maxEventName]byte
	hasData  bool

	// The current event's data: ref points into the slice being written
	// (valid only during Write), data is the observer's own copy.
	ref      []byte
	refSet   bool
	data     []byte
	over     bool
	tail     []byte // ring of the last tailSize bytes beyond the cap
	tailPos  int
	tailFull bool
	tailLin  []byte

	// Non-streaming JSON body.
	jbuf   []byte
	jover  bool
	jphase uint8

	memo topMemo // the previous event's top-level walk (classify.go)

	// ev is the chunk being decoded and delivered: the sink gets a pointer to
	// it, since an Event is too large to be passed in registers.
	ev     Event
	evText bool // ev holds textEvent(): plain-text chunks are all alike

	usage      Usage // the fields reported so far; valid when hasUsage
	hasUsage   bool
	model      string
	overflowed int
}

// NewObserver returns an Observer for a body with the given Content-Type
// (may be empty: the format is then sniffed), a dialect hint (DialectUnknown:
// detect from the content) and a sink called synchronously for every decoded
// chunk (may be nil). The Event the sink is given is valid only during the
// call: the sink must neither keep the pointer nor modify the Event.
func NewObserver(contentType string, hint Dialect, sink func(*Event), cfg Config) *Observer {
	o := &Observer{maxEvent: cfg.MaxEventBytes, maxJSON: cfg.MaxJSONBytes}
	if o.maxEvent <= 0 {
		o.maxEvent = defaultMaxEventBytes
	}
	if o.maxJSON <= 0 {
		o.maxJSON = defaultMaxJSONBytes
	}
	o.Reset(contentType, hint, sink)
	return o
}

// setDefaults applies the default Config to a zero Observer.
func (o *Observer) setDefaults() {
	if o.maxEvent <= 0 {
		o.maxEvent = defaultMaxEventBytes
	}
	if o.maxJSON <= 0 {
		o.maxJSON = defaultMaxJSONBytes
	}
}

// Reset prepares the Observer for a new body, keeping its Config and its
// buffers (up to 64 KiB each), as if it had just been returned by
// NewObserver.
func (o *Observer) Reset(contentType string, hint Dialect, sink func(*Event)) {
	data, jbuf, tail, tailLin := o.data[:0], o.jbuf[:0], o.tail, o.tailLin
	if cap(data) > keepBufBytes {
		data = nil
	}
	if cap(jbuf) > keepBufBytes {
		jbuf = nil
	}
	*o = Observer{
		sink:     sink,
		maxEvent: o.maxEvent,
		maxJSON:  o.maxJSON,
		hint:     hint,
		dialect:  hint,
		format:   formatFromContentType(contentType),
		data:     data,
		jbuf:     jbuf,
		tail:     tail,
		tailLin:  tailLin,
		memo:     topMemo{prev: o.memo.prev[:0]},
	}
}

// Format returns the body's format: from the Content-Type, else sniffed from
// the first bytes (FormatUnknown until then). A body sniffed or declared as
// JSON turns into FormatNDJSON when its second line starts with '{'.
func (o *Observer) Format() Format { return o.format }

// Dialect returns the hint given to NewObserver or Reset when it is not
// DialectUnknown, else the dialect detected from the content so far.
func (o *Observer) Dialect() Dialect { return o.dialect }

// Usage returns the usage merged over the stream (for each field, the last
// value reported; -1 for a field never reported) and whether any was
// reported.
func (o *Observer) Usage() (Usage, bool) {
	if !o.hasUsage {
		return noUsage(), false
	}
	return o.usage, true
}

// Model returns the response's model name as the stream reported it ("" if
// not yet seen), truncated to 256 bytes.
func (o *Observer) Model() string { return o.model }

// Overflowed returns how many events (or JSON bodies) were larger than the
// configured caps and were classified from their bounded prefix.
func (o *Observer) Overflowed() int { return o.overflowed }

// Write observes the next bytes of the body. It never modifies p and does
// not retain it after returning. Writes after Close are ignored.
func (o *Observer) Write(p []byte) {
	if o == nil || o.closed || len(p) == 0 {
		return
	}
	if o.maxEvent <= 0 || o.maxJSON <= 0 {
		o.setDefaults()
	}
	if !o.bomDone || o.format == FormatUnknown {
		rest, ok := o.start(p)
		if !ok {
			return
		}
		pre := o.sniff[:o.sniffN]
		o.sniffN = 0
		if o.format == FormatText {
			if len(pre)+len(rest) > 0 {
				o.emitText()
			}
			return
		}
		o.feed(pre)
		o.feed(rest)
	} else if o.format == FormatText {
		o.emitText()
		return
	} else {
		o.feed(p)
	}
	if o.refSet {
		o.materialize()
	}
}

// Close ends the body: it flushes a trailing SSE event or NDJSON line that
// lacks its terminator and decodes a buffered JSON body. It is idempotent.
func (o *Observer) Close() {
	if o == nil || o.closed {
		return
	}
	o.setDefaults()
	if !o.bomDone {
		o.bomDone = true
		for k := range o.bomN {
			o.pushSniff(bom[k])
		}
		o.bomN = 0
	}
	if o.format == FormatUnknown && o.sniffN > 0 {
		f, ok := sniffFormat(o.sniff[:o.sniffN])
		if !ok {
			f = FormatText
		}
		o.format = f
	}
	if o.sniffN > 0 {
		pre := o.sniff[:o.sniffN]
		o.sniffN = 0
		if o.format == FormatText {
			o.emitText()
		} else {
			o.feed(pre)
		}
	}
	switch o.format {
	case FormatSSE:
		if o.ls != lsStart {
			o.sseEOL()
		}
		o.dispatchSSE()
	case FormatNDJSON:
		o.dispatchLine()
	case FormatJSON:
		o.finishJSON()
	}
	o.resetEvent()
	o.closed = true
}

func textEvent() Event { return Event{Output: true, Usage: noUsage()} }

// emitText delivers a plain-text chunk, which never carries usage.
func (o *Observer) emitText() {
	if o.sink == nil {
		return
	}
	if !o.evText {
		o.ev, o.evText = textEvent(), true
	}
	o.sink(&o.ev)
}

func (o *Observer) pushSniff(c byte) {
	if int(o.sniffN) < len(o.sniff) {
		o.sniff[o.sniffN] = c
		o.sniffN++
	}
}

// start consumes a leading byte order mark and, when the format is unknown,
// leading whitespace and the first few bytes until the format is decided.
// The bytes consumed but not discarded are left in o.sniff; rest is what
// follows them in p.
func (o *Observer) start(p []byte) (rest []byte, ok bool) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !o.bomDone {
			if c == bom[o.bomN] {
				o.bomN++
				if o.bomN == 3 {
					o.bomDone = true
					o.bomN = 0
				}
				continue
			}
			o.bomDone = true
			for k := range o.bomN {
				o.pushSniff(bom[k])
			}
			o.bomN = 0
			if o.format == FormatUnknown && o.sniffN > 0 {
				if f, ok := sniffFormat(o.sniff[:o.sniffN]); ok {
					o.format = f
					return p[i:], true
				}
			}
		}
		if o.format != FormatUnknown {
			return p[i:], true
		}
		if o.sniffN == 0 && isSpace(c) {
			continue
		}
		o.pushSniff(c)
		if f, ok := sniffFormat(o.sniff[:o.sniffN]); ok {
			o.format = f
			return p[i+1:], true
		}
	}
	if o.bomDone && o.format != FormatUnknown {
		return nil, true
	}
	return nil, false
}

// --- event data buffer ---

// --- SSE ---

// --- NDJSON ---

// --- JSON body ---

// --- results ---

// emit merges the usage of the decoded chunk (o.ev) into the stream's and
// delivers the chunk. Most chunks carry no usage; theirs is not merged.
func (o *Observer) emit() {
	if o.ev.Usage.reported() {
		if !o.hasUsage {
			o.usage = noUsage()
			o.hasUsage = true
		}
		o.usage.merge(&o.ev.Usage)
	}
	if o.sink != nil {
		o.sink(&o.ev)
	}
}

func (o *Observer) setModel(v []byte) {
	if o.model != "" {
		return
	}
	if s, complete, ok := strc(v); ok && complete && len(s) > 0 {
		o.model = string(s[:min(len(s), maxModelLen)])
	}
}
