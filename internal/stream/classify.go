package stream

import (
	"bytes"
	"math/bits"
)

// top holds the raw values of the top-level members the dialects use (for a
// duplicated member, the last one). When choices was decoded in the same pass
// (chFused), chOutput and chFinish hold what chat would find in it.
type top struct {
	typ, object, choices, usage, model, errv, message, delta, response []byte
	done, doneReason, promptEval, eval, thinking, content, output      []byte
	stopReason, status, incomplete                                     []byte
	cPromptEval, cEval                                                 bool
	chFused, chOutput                                                  bool
	chFinish                                                           string
}

// The top-level members the dialects use, as indices.
const (
	fTyp = iota
	fObject
	fChoices
	fUsage
	fModel
	fErr
	fMessage
	fDelta
	fResponse
	fDone
	fDoneReason
	fPromptEval
	fEval
	fThinking
	fContent
	fOutput
	fStopReason
	fStatus
	fIncomplete
	nFields
)

// fieldOf returns the index of a top-level key the dialects use, or -1.
func fieldOf(k []byte) int {
	switch string(k) {
	case "type":
		return fTyp
	case "object":
		return fObject
	case "choices":
		return fChoices
	case "usage":
		return fUsage
	case "model":
		return fModel
	case "error":
		return fErr
	case "message":
		return fMessage
	case "delta":
		return fDelta
	case "response":
		return fResponse
	case "done":
		return fDone
	case "done_reason":
		return fDoneReason
	case "prompt_eval_count":
		return fPromptEval
	case "eval_count":
		return fEval
	case "thinking":
		return fThinking
	case "content":
		return fContent
	case "output":
		return fOutput
	case "stop_reason":
		return fStopReason
	case "status":
		return fStatus
	case "incomplete_details":
		return fIncomplete
	}
	return -1
}

// set stores the value of field f.
func (t *top) set(f int, v []byte, complete bool) {
	switch f {
	case fTyp:
		t.typ = v
	case fObject:
		t.object = v
	case fChoices:
		t.choices = v
	case fUsage:
		t.usage = v
	case fModel:
		t.model = v
	case fErr:
		t.errv = v
	case fMessage:
		t.message = v
	case fDelta:
		t.delta = v
	case fResponse:
		t.response = v
	case fDone:
		t.done = v
	case fDoneReason:
		t.doneReason = v
	case fPromptEval:
		t.promptEval, t.cPromptEval = v, complete
	case fEval:
		t.eval, t.cEval = v, complete
	case fThinking:
		t.thinking = v
	case fContent:
		t.content = v
	case fOutput:
		t.output = v
	case fStopReason:
		t.stopReason = v
	case fStatus:
		t.status = v
	case fIncomplete:
		t.incomplete = v
	}
}

const (
	memoBytes   = 512 // bytes of the previous event kept to resume from
	memoMembers = 32  // top-level member boundaries remembered
)

// topMemo remembers the top-level walk of the previous event. The walk up
// to the start of member k depends only on the bytes before that position
// (and one byte at it), and the events of one stream repeat long prefixes
// (id, object, created, model, ...), so the next event's walk resumes at the
// last member boundary before the first byte that differs, with the values
// found before it. The result is the same as walking from the start.
type topMemo struct {
	prev              []byte // the previous event's first memoBytes bytes
	ok                bool   // prev, n, pos and fields describe a walk that may be resumed
	fuse              bool   // the fuse argument of that walk
	n                 int    // member boundaries recorded
	pos               [memoMembers]int32
	set               uint32 // bit f: fields[f] is recorded
	fields            [nFields]fieldRec
	chAt              int // the member that set the chFused state below
	chFused, chOutput bool
	chFinish          string
}

// fieldRec records the value of one field: set by member at, b[s:e],
// complete.
type fieldRec struct {
	at       int
	s, e     int32
	complete bool
}

// resume restores the walk of the previous event on b up to the last member
// boundary it can, and returns the member index and position to continue
// from (0, start when it cannot). Member k may be resumed when the bytes up
// to and including pos[k] are those of the previous event.
func (m *topMemo) resume(t *top, b []byte, start int, fuse bool) (k, i int) {
	k, i = 0, start
	if m.ok && m.fuse == fuse && m.n > 1 && int(m.pos[0]) == start {
		for k = m.n - 1; k > 0; k-- {
			if e := int(m.pos[k]) + 1; e <= len(b) && e <= len(m.prev) && bytes.Equal(b[:e], m.prev[:e]) {
				break
			}
		}
		if k > 0 {
			i = int(m.pos[k])
			for set := m.set; set != 0; set &= set - 1 {
				f := bits.TrailingZeros32(set)
				if r := &m.fields[f]; r.at < k {
					t.set(f, b[r.s:r.e], r.complete)
				}
			}
			if m.chAt >= 0 && m.chAt < k {
				t.chFused, t.chOutput, t.chFinish = m.chFused, m.chOutput, m.chFinish
			}
		}
	}
	for set := m.set; set != 0; set &= set - 1 {
		if f := bits.TrailingZeros32(set); m.fields[f].at >= k {
			m.set &^= 1 << f
		}
	}
	if m.chAt >= k {
		m.chAt = -1
	}
	m.n, m.fuse, m.ok = k, fuse, false
	return k, i
}

// save keeps the first bytes of b for the next event's resume.
func (m *topMemo) save(b []byte, dup bool) {
	m.prev = append(m.prev[:0], b[:min(len(b), memoBytes)]...)
	m.ok = !dup
}

// scanTop walks the top-level members of the object p once, as an objIter
// would, and keeps the values the dialects use. With fuse, an array-valued
// choices member (OpenAI chat) is decoded while its end is found, instead
// of being skipped here and walked again by chat. With a memo (nil: none),
// the walk resumes where the previous event's walk was on the same bytes.
func scanTop(t *top, p []byte, fuse bool, m *topMemo) {
	b := p
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		if m != nil {
			m.ok = false
		}
		return
	}
	i++
	if m == nil {
		walkTop(t, b, i, 0, fuse, nil)
		return
	}
	k, i := m.resume(t, b, i, fuse)
	dup := walkTop(t, b, i, k, fuse, m)
	m.save(b, dup)
}

// walkTop walks the top-level members of b from member k at b[i] for
// scanTop, recording them in m (if not nil); dup reports a member that set
// a field already set.
func walkTop(t *top, b []byte, i, k int, fuse bool, m *topMemo) (dup bool) {
	for ; ; k++ {
		if m != nil && k < memoMembers {
			m.pos[k] = int32(i)
			m.n = k + 1
		}
		key, vs, res := member(b, i)
		if res != mMember {
			return dup
		}
		i = vs
		var ve int
		var complete bool
		switch c := b[i]; {
		case c == '"':
			ve, complete = stringEnd(b, i+1)
		case c == '[' && fuse && string(key) == "choices":
			ve, complete = t.fuseChoices(b, i)
		case c == '{' || c == '[':
			ve, complete = valueEnd(b, i)
		default:
			ve = i
			for ve < len(b) && !isDelim(b[ve]) {
				ve++
			}
			complete = ve < len(b)
		}
		if ve == i {
			return dup
		}
		if f := fieldOf(key); f >= 0 {
			v := b[i:ve]
			t.set(f, v, complete)
			if f == fChoices && (v[0] != '[' || !fuse) {
				t.chFused = false
			}
			if m != nil {
				if m.set&(1<<f) != 0 {
					dup = true
				}
				m.set |= 1 << f
				m.fields[f] = fieldRec{at: k, s: int32(i), e: int32(ve), complete: complete}
				if f == fChoices {
					m.chAt, m.chFused, m.chOutput, m.chFinish = k, t.chFused, t.chOutput, t.chFinish
				}
			}
		}
		if !complete {
			return dup
		}
		i = ve
	}
}

// dirtyScalar reports whether a scalar (a run of non-delimiters) holds a
// byte valueEnd would take for the start of a string or a nested value.
func dirtyScalar(v []byte) bool {
	for _, c := range v {
		if c == '"' || c == '{' || c == '[' {
			return true
		}
	}
	return false
}

// fuseChoices decodes the choices array starting at b[start] and returns its
// end as valueEnd would. On well-formed input (every element and member
// complete, every object and the array closed by its own bracket, no scalar
// with a quote or bracket in it) the members it visits are exactly those
// chat would visit in the array valueEnd delimits, and it sets chFused with
// the result. On anything else it leaves chFused false (chat then walks the
// array itself) and returns valueEnd's answer.
func (t *top) fuseChoices(b []byte, start int) (int, bool) {
	t.chFused = false
	out, fr := false, ""
	i := start + 1
	for {
		i = skipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
		if i >= len(b) {
			return valueEnd(b, start)
		}
		switch b[i] {
		case ']':
			t.chFused, t.chOutput, t.chFinish = true, out, fr
			return i + 1, true
		case '{':
			e, ok := chatChoice(b, i, &out, &fr)
			if !ok {
				return valueEnd(b, start)
			}
			i = e
		default:
			e, ok := valueEnd(b, i)
			if !ok || e == i || (b[i] != '"' && b[i] != '[' && dirtyScalar(b[i:e])) {
				return valueEnd(b, start)
			}
			i = e
		}
	}
}

// chatChoice decodes one choice object starting at b[i] as chat does and
// returns its end; ok is false when the object is not well-formed in the
// sense of fuseChoices.
func chatChoice(b []byte, i int, out *bool, fr *string) (int, bool) {
	i++
	for {
		k, vs, res := member(b, i)
		if res != mMember {
			if res == mEnd && vs < len(b) && b[vs] == '}' {
				return vs + 1, true
			}
			return 0, false
		}
		i = vs
		if b[i] == '{' && (string(k) == "delta" || string(k) == "message") {
			e, o, ok := fuseOutput(b, i)
			if ok {
				*out = *out || o
				i = e
				continue
			}
		}
		e, ok := valueEnd(b, i)
		if !ok || e == i {
			return 0, false
		}
		v := b[i:e]
		if c := v[0]; c != '"' && c != '{' && c != '[' && dirtyScalar(v) {
			return 0, false
		}
		chatMember(k, v, out, fr)
		i = e
	}
}

// fuseOutput walks the delta or message object starting at b[i] as
// outputIn would and returns its end; ok is false when the object is not
// well-formed in the sense of fuseChoices (the caller then uses valueEnd and
// outputIn).
func fuseOutput(b []byte, i int) (end int, out, ok bool) {
	i++
	for {
		k, vs, res := member(b, i)
		if res != mMember {
			if res == mEnd && vs < len(b) && b[vs] == '}' {
				return vs + 1, out, true
			}
			return 0, false, false
		}
		i = vs
		e, ok := valueEnd(b, i)
		if !ok || e == i {
			return 0, false, false
		}
		v := b[i:e]
		if c := v[0]; c != '"' && c != '{' && c != '[' && dirtyScalar(v) {
			return 0, false, false
		}
		if !out && outputMember(k, v) {
			out = true
		}
		i = e
	}
}

// chatMember applies one member of a choice object.
func chatMember(k, v []byte, out *bool, fr *string) {
	switch string(k) {
	case "delta", "message":
		if !*out && outputIn(v) {
			*out = true
		}
	case "text": // legacy completions
		if nonEmptyStr(v) {
			*out = true
		}
	case "finish_reason":
		if r := finishReason(v); r != "" {
			*fr = r
		}
	}
}

func isAnthropicType(s []byte) bool {
	switch string(s) {
	case "message_start", "message_delta", "message_stop",
		"content_block_start", "content_block_delta", "content_block_stop", "ping":
		return true
	}
	return false
}

// detect recognises the dialect of one chunk, or DialectUnknown.
func detect(t *top, evName []byte) Dialect {
	typ, _ := str(t.typ)
	if bytes.HasPrefix(typ, []byte("response.")) || bytes.HasPrefix(evName, []byte("response.")) {
		return DialectOpenAIResponses
	}
	if isAnthropicType(typ) || isAnthropicType(evName) {
		return DialectAnthropic
	}
	obj, _ := str(t.object)
	switch string(obj) {
	case "chat.completion.chunk", "chat.completion", "text_completion":
		return DialectOpenAIChat
	case "response":
		return DialectOpenAIResponses
	}
	if t.choices != nil {
		return DialectOpenAIChat
	}
	if string(typ) == "message" && t.content != nil {
		return DialectAnthropic
	}
	if t.done != nil && (t.message != nil || (len(t.response) > 0 && t.response[0] == '"')) {
		return DialectOllama
	}
	return DialectUnknown
}

// finishReason interns a finish reason as a constant string.
func finishReason(v []byte) string {
	s, ok := str(v)
	if !ok || len(s) == 0 {
		return ""
	}
	switch string(s) {
	case "stop":
		return "stop"
	case "length":
		return "length"
	case "tool_calls":
		return "tool_calls"
	case "content_filter":
		return "content_filter"
	case "function_call":
		return "function_call"
	case "end_turn":
		return "end_turn"
	case "max_tokens":
		return "max_tokens"
	case "stop_sequence":
		return "stop_sequence"
	case "tool_use":
		return "tool_use"
	case "pause_turn":
		return "pause_turn"
	case "refusal":
		return "refusal"
	case "model_context_window_exceeded":
		return "model_context_window_exceeded"
	case "load":
		return "load"
	case "unload":
		return "unload"
	case "max_output_tokens":
		return "max_output_tokens"
	case "completed":
		return "completed"
	case "incomplete":
		return "incomplete"
	case "failed":
		return "failed"
	case "cancelled":
		return "cancelled"
	case "error":
		return "error"
	}
	return "other"
}

// parseUsage reads a usage object in any dialect's spelling. Anthropic's
// cache_creation_input_tokens and cache_read_input_tokens are added to the
// input (its input_tokens excludes them; OpenAI's already includes cached
// tokens).
func parseUsage(v []byte) Usage {
	u := Usage{-1, -1}
	var cache int64
	it := object(v)
	for {
		k, val, complete, ok := it.next()
		if !ok {
			break
		}
		n, isNum := num(val, complete)
		if !isNum {
			continue
		}
		switch string(k) {
		case "prompt_tokens", "input_tokens":
			u.Input = n
		case "completion_tokens", "output_tokens":
			u.Output = n
		case "cache_creation_input_tokens", "cache_read_input_tokens":
			cache += n
		}
	}
	if u.Input >= 0 {
		u.Input += cache
	}
	return u
}

// tailUsage looks for usage in the tail window of an oversized event.
func tailUsage(w []byte, u *Usage) {
	if i := lastKey(w, "usage"); i >= 0 {
		tu := parseUsage(w[i:])
		if u.Input < 0 {
			u.Input = tu.Input
		}
		if u.Output < 0 {
			u.Output = tu.Output
		}
	}
	if u.Input < 0 {
		if i := lastKey(w, "prompt_eval_count"); i >= 0 {
			if e, ok := valueEnd(w, i); ok {
				if n, ok := num(w[i:e], true); ok {
					u.Input = n
				}
			}
		}
	}
	if u.Output < 0 {
		if i := lastKey(w, "eval_count"); i >= 0 {
			if e, ok := valueEnd(w, i); ok {
				if n, ok := num(w[i:e], true); ok {
					u.Output = n
				}
			}
		}
	}
}

// classify decodes one SSE event's data or one NDJSON line.
func (o *Observer) classify(p, evName []byte, sse bool) Event {
	ev := Event{Usage: Usage{-1, -1}}
	p = trimWS(p)
	if sse && string(p) == "[DONE]" {
		ev.Done = true
		return ev
	}
	if string(evName) == "error" {
		ev.Error = true
	}
	if len(p) == 0 || p[0] != '{' {
		// Not JSON: plain-text SSE data or garbage. Output only when the
		// dialect is unknown (then every chunk with data counts).
		ev.Output = o.dialect == DialectUnknown && !ev.Error
		return ev
	}
	var t top
	scanTop(&t, p, o.dialect == DialectUnknown || o.dialect == DialectOpenAIChat, &o.memo)
	if o.dialect == DialectUnknown {
		o.dialect = detect(&t, evName)
	}
	switch o.dialect {
	case DialectOpenAIChat:
		o.chat(&t, &ev)
	case DialectOpenAIResponses:
		o.responses(&t, evName, &ev)
	case DialectAnthropic:
		o.anthropic(&t, evName, &ev)
	case DialectOllama:
		o.ollama(&t, &ev)
	default:
		if present(t.errv) {
			ev.Error = true
		}
		if t.usage != nil {
			ev.Usage = parseUsage(t.usage)
		}
		o.setModel(t.model)
		ev.Output = !ev.Error
	}
	if o.over && (ev.Usage.Input < 0 || ev.Usage.Output < 0) {
		tailUsage(o.tailWindow(p), &ev.Usage)
	}
	return ev
}

// outputIn reports whether a chat delta or message carries output.
func outputIn(v []byte) bool {
	it := object(v)
	for {
		k, val, _, ok := it.next()
		if !ok {
			return false
		}
		if outputMember(k, val) {
			return true
		}
	}
}

// outputMember reports whether one member of a chat delta or message
// carries output.
func outputMember(k, v []byte) bool {
	switch string(k) {
	case "content", "reasoning_content", "reasoning", "refusal", "thinking":
		return nonEmptyStr(v)
	case "tool_calls", "function_call":
		return nonEmptyArr(v)
	}
	return false
}

func (o *Observer) chat(t *top, ev *Event) {
	if present(t.errv) {
		ev.Error = true
	}
	o.setModel(t.model)
	if t.usage != nil {
		ev.Usage = parseUsage(t.usage)
	}
	if t.chFused {
		ev.Output = t.chOutput
		if t.chFinish != "" {
			ev.FinishReason = t.chFinish
		}
		return
	}
	choices := array(t.choices)
	for {
		c, _, ok := choices.next()
		if !ok {
			return
		}
		it := object(c)
		for {
			k, v, _, ok := it.next()
			if !ok {
				break
			}
			chatMember(k, v, &ev.Output, &ev.FinishReason)
		}
	}
}

func isResponsesOutput(typ []byte) bool {
	switch string(typ) {
	case "response.output_text.delta",
		"response.refusal.delta",
		"response.function_call_arguments.delta",
		"response.reasoning_text.delta",
		"response.reasoning_summary_text.delta",
		"response.custom_tool_call_input.delta",
		"response.mcp_call_arguments.delta",
		"response.code_interpreter_call_code.delta",
		"response.audio.transcript.delta":
		return true
	}
	return false
}

// responseObject reads the response object of a Responses lifecycle event
// (or a non-streaming Responses body).
func (o *Observer) responseObject(v []byte, ev *Event) (status, reason []byte) {
	it := object(v)
	for {
		k, val, _, ok := it.next()
		if !ok {
			return status, reason
		}
		switch string(k) {
		case "model":
			o.setModel(val)
		case "usage":
			if present(val) {
				ev.Usage = parseUsage(val)
			}
		case "status":
			status = val
		case "incomplete_details":
			in := object(val)
			for {
				k2, v2, _, ok := in.next()
				if !ok {
					break
				}
				if string(k2) == "reason" {
					reason = v2
				}
			}
		}
	}
}

func (o *Observer) responses(t *top, evName []byte, ev *Event) {
	typ, ok := str(t.typ)
	if !ok || len(typ) == 0 {
		typ = evName
	}
	if present(t.errv) {
		ev.Error = true
	}
	switch {
	case isResponsesOutput(typ):
		// Output unless the delta is there and empty.
		ev.Output = !(len(t.delta) > 0 && t.delta[0] == '"' && !nonEmptyStr(t.delta))
	case string(typ) == "response.completed":
		ev.Done = true
		o.responseObject(t.response, ev)
		ev.FinishReason = "completed"
	case string(typ) == "response.incomplete":
		ev.Done = true
		_, reason := o.responseObject(t.response, ev)
		ev.FinishReason = finishReason(reason)
		if ev.FinishReason == "" {
			ev.FinishReason = "incomplete"
		}
	case string(typ) == "response.failed":
		ev.Error = true
		o.responseObject(t.response, ev)
		ev.FinishReason = "failed"
	case string(typ) == "error":
		ev.Error = true
	case t.response != nil:
		o.responseObject(t.response, ev) // response.created, in_progress, queued
	}
}

// classifyBody decodes a non-streaming JSON body. When the body was cut at
// MaxJSONBytes (over), its usage is not reported.
func (o *Observer) classifyBody(p []byte, over bool) Event {
	ev := Event{Usage: Usage{-1, -1}}
	if p[0] != '{' {
		ev.Output = o.dialect == DialectUnknown
		ev.Done = true
		return ev
	}
	var t top
	scanTop(&t, p, o.dialect == DialectUnknown || o.dialect == DialectOpenAIChat, nil)
	if o.dialect == DialectUnknown {
		o.dialect = detect(&t, nil)
	}
	switch o.dialect {
	case DialectOpenAIChat:
		o.chat(&t, &ev)
	case DialectOpenAIResponses:
		if present(t.errv) {
			ev.Error = true
		}
		status, reason := o.responseObject(p, &ev)
		ev.Output = nonEmptyArr(t.output)
		switch s, _ := str(status); string(s) {
		case "completed":
			ev.FinishReason = "completed"
		case "incomplete":
			if ev.FinishReason = finishReason(reason); ev.FinishReason == "" {
				ev.FinishReason = "incomplete"
			}
		case "failed":
			ev.Error = true
			ev.FinishReason = "failed"
		case "cancelled":
			ev.FinishReason = "cancelled"
		}
	case DialectAnthropic:
		if ty, _ := str(t.typ); present(t.errv) || string(ty) == "error" {
			ev.Error = true
		}
		o.setModel(t.model)
		ev.Output = nonEmptyArr(t.content)
		ev.FinishReason = finishReason(t.stopReason)
		if t.usage != nil {
			ev.Usage = parseUsage(t.usage)
		}
	case DialectOllama:
		o.ollama(&t, &ev)
	default:
		if present(t.errv) {
			ev.Error = true
		}
		if t.usage != nil {
			ev.Usage = parseUsage(t.usage)
		}
		o.setModel(t.model)
		ev.Output = !ev.Error
	}
	if o.dialect != DialectOllama {
		ev.Done = !ev.Error
	}
	if over {
		ev.Usage = Usage{-1, -1}
	}
	return ev
}

func (o *Observer) anthropic(t *top, evName []byte, ev *Event) {
	typ, ok := str(t.typ)
	if !ok || len(typ) == 0 {
		typ = evName
	}
	if present(t.errv) {
		ev.Error = true
	}
	switch string(typ) {
	case "message_start":
		it := object(t.message)
		for {
			k, v, _, ok := it.next()
			if !ok {
				break
			}
			switch string(k) {
			case "model":
				o.setModel(v)
			case "usage":
				ev.Usage = parseUsage(v)
			}
		}
	case "content_block_delta":
		it := object(t.delta)
		var dtyp, val []byte
		for {
			k, v, _, ok := it.next()
			if !ok {
				break
			}
			switch string(k) {
			case "type":
				dtyp, _ = str(v)
			case "text", "partial_json", "thinking":
				val = v
			}
		}
		switch string(dtyp) {
		case "text_delta", "input_json_delta", "thinking_delta":
			ev.Output = nonEmptyStr(val)
		}
	case "message_delta":
		it := object(t.delta)
		for {
			k, v, _, ok := it.next()
			if !ok {
				break
			}
			if string(k) == "stop_reason" {
				ev.FinishReason = finishReason(v)
			}
		}
		if t.usage != nil {
			ev.Usage = parseUsage(t.usage)
		}
	case "message_stop":
		ev.Done = true
	case "error":
		ev.Error = true
	}
}

func (o *Observer) ollama(t *top, ev *Event) {
	if present(t.errv) {
		ev.Error = true
	}
	o.setModel(t.model)
	if t.message != nil && outputIn(t.message) {
		ev.Output = true
	}
	if nonEmptyStr(t.response) || nonEmptyStr(t.thinking) {
		ev.Output = true
	}
	if string(t.done) == "true" {
		ev.Done = true
	}
	ev.FinishReason = finishReason(t.doneReason)
	if n, ok := num(t.promptEval, t.cPromptEval); ok {
		ev.Usage.Input = n
	}
	if n, ok := num(t.eval, t.cEval); ok {
		ev.Usage.Output = n
	}
}
