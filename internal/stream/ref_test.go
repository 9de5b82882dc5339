// This file keeps the first implementation of the JSON walker and the chunk
// classifier (json.go and classify.go before they were made single-pass), every
// identifier prefixed with ref, as the reference the differential fuzzer
// FuzzClassifyDifferential and BenchmarkClassify compare the current one with.

package stream

import "bytes"

// This file holds a tiny, allocation-free JSON walker. It is lenient: a
// value cut off by the end of the buffer (a truncated event prefix) is
// returned as far as it goes, flagged incomplete, so that "a content string
// has started and is not empty" can still be decided, while numbers are only
// trusted when complete.

func refIsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipWS returns the index of the first non-whitespace byte at or after i.
func refSkipWS(b []byte, i int) int {
	for i < len(b) && refIsSpace(b[i]) {
		i++
	}
	return i
}

func refTrimWS(b []byte) []byte {
	i := refSkipWS(b, 0)
	j := len(b)
	for j > i && refIsSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// stringEnd returns the index just past the closing quote of the string whose
// content starts at b[i] (just after the opening quote).
func refStringEnd(b []byte, i int) (int, bool) {
	start := i
	for {
		// Most strings are short: a plain loop beats the IndexByte call.
		j := -1
		lim := min(len(b), i+16)
		for k := i; k < lim; k++ {
			if b[k] == '"' {
				j = k
				break
			}
		}
		if j < 0 {
			if lim >= len(b) {
				return len(b), false
			}
			k := bytes.IndexByte(b[lim:], '"')
			if k < 0 {
				return len(b), false
			}
			j = lim + k
		}
		n := 0
		for m := j - 1; m >= start && b[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, true
		}
		i = j + 1
	}
}

func refIsDelim(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ':' || refIsSpace(c)
}

// valueEnd returns the index just past the JSON value starting at b[i]; ok is
// false when the value runs into the end of b (truncated) .
func refValueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return len(b), false
	}
	switch b[i] {
	case '"':
		return refStringEnd(b, i+1)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				e, ok := refStringEnd(b, i+1)
				if !ok {
					return len(b), false
				}
				i = e
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return len(b), false
	}
	for i < len(b) && !refIsDelim(b[i]) {
		i++
	}
	return i, i < len(b)
}

// objIter walks the members of one JSON object.
type refObjIter struct {
	b    []byte
	i    int
	done bool
}

// object returns an iterator over v, which must start with '{' (after
// whitespace); otherwise the iterator is empty.
func refObject(v []byte) refObjIter {
	i := refSkipWS(v, 0)
	if i >= len(v) || v[i] != '{' {
		return refObjIter{done: true}
	}
	return refObjIter{b: v, i: i + 1}
}

// next returns the next member: its raw key (escapes not decoded), its raw
// value, and whether the value is complete.
func (it *refObjIter) next() (key, val []byte, complete, ok bool) {
	if it.done {
		return nil, nil, false, false
	}
	b := it.b
	i := refSkipWS(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = refSkipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		it.done = true
		return nil, nil, false, false
	}
	ke, kok := refStringEnd(b, i+1)
	if !kok {
		it.done = true
		return nil, nil, false, false
	}
	key = b[i+1 : ke-1]
	i = refSkipWS(b, ke)
	if i >= len(b) || b[i] != ':' {
		it.done = true
		return nil, nil, false, false
	}
	i = refSkipWS(b, i+1)
	if i >= len(b) {
		it.done = true
		return nil, nil, false, false
	}
	ve, vok := refValueEnd(b, i)
	if ve == i {
		it.done = true
		return nil, nil, false, false
	}
	it.i = ve
	if !vok {
		it.done = true
	}
	return key, b[i:ve], vok, true
}

// arrIter walks the elements of one JSON array.
type refArrIter struct {
	b    []byte
	i    int
	done bool
}

func refArray(v []byte) refArrIter {
	i := refSkipWS(v, 0)
	if i >= len(v) || v[i] != '[' {
		return refArrIter{done: true}
	}
	return refArrIter{b: v, i: i + 1}
}

func (it *refArrIter) next() (val []byte, complete, ok bool) {
	if it.done {
		return nil, false, false
	}
	b := it.b
	i := refSkipWS(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = refSkipWS(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		it.done = true
		return nil, false, false
	}
	ve, vok := refValueEnd(b, i)
	if ve == i {
		it.done = true
		return nil, false, false
	}
	it.i = ve
	if !vok {
		it.done = true
	}
	return b[i:ve], vok, true
}

// strc returns the raw content of a JSON string value (escapes not
// decoded), whether its closing quote is there, and whether v is a string.
func refStrc(v []byte) (s []byte, complete, ok bool) {
	if len(v) == 0 || v[0] != '"' {
		return nil, false, false
	}
	if n := len(v); n >= 2 && v[n-1] == '"' {
		bs := 0
		for m := n - 2; m >= 1 && v[m] == '\\'; m-- {
			bs++
		}
		if bs%2 == 0 {
			return v[1 : n-1], true, true
		}
	}
	return v[1:], false, true
}

// str returns the raw content of a JSON string value (possibly cut short);
// ok is false when v is not a string.
func refStr(v []byte) ([]byte, bool) {
	s, _, ok := refStrc(v)
	return s, ok
}

// nonEmptyStr reports whether v is a string with at least one byte.
func refNonEmptyStr(v []byte) bool {
	s, ok := refStr(v)
	return ok && len(s) > 0
}

// present reports whether v is a value other than null and false.
func refPresent(v []byte) bool {
	return len(v) > 0 && v[0] != 'n' && v[0] != 'f'
}

// nonEmptyArr reports whether v is an array with at least one element, or
// any object (OpenAI's legacy function_call is an object).
func refNonEmptyArr(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '[':
		i := refSkipWS(v, 1)
		return i < len(v) && v[i] != ']'
	case '{':
		return true
	}
	return false
}

// num parses a complete JSON integer (a fraction is ignored); ok is false for
// anything else, for negative values and for more than 18 digits.
func refNum(v []byte, complete bool) (int64, bool) {
	if !complete || len(v) == 0 {
		return 0, false
	}
	var n int64
	digits := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			if c == '.' || c == 'e' || c == 'E' {
				break
			}
			return 0, false
		}
		if digits == 18 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		digits++
	}
	if digits == 0 {
		return 0, false
	}
	return n, true
}

// lastKey finds the last member `"key":` in b that is certainly a key in
// valid JSON (its opening quote follows '{' or ',' up to whitespace, so it is
// not inside a string) and returns the index of its value, or -1. It is used
// on the tail window of an oversized event, whose start is unknown.
func refLastKey(b []byte, key string) int {
	end := len(b)
	for end > 0 {
		k := bytes.LastIndex(b[:end], []byte(key))
		if k < 0 {
			return -1
		}
		end = k
		if k == 0 || b[k-1] != '"' {
			continue
		}
		j := k + len(key)
		if j >= len(b) || b[j] != '"' {
			continue
		}
		p := k - 2
		for p >= 0 && refIsSpace(b[p]) {
			p--
		}
		if p < 0 || (b[p] != ',' && b[p] != '{') {
			continue
		}
		j = refSkipWS(b, j+1)
		if j >= len(b) || b[j] != ':' {
			continue
		}
		return refSkipWS(b, j+1)
	}
	return -1
}

// top holds the raw values of the top-level members the dialects use.
type refTop struct {
	typ, refObject, choices, usage, model, errv, message, delta, response []byte
	done, doneReason, promptEval, eval, thinking, content, output         []byte
	stopReason, status, incomplete                                        []byte
	cPromptEval, cEval                                                    bool
}

func refScanTop(p []byte) (t refTop) {
	it := refObject(p)
	for {
		k, v, complete, ok := it.next()
		if !ok {
			return t
		}
		switch string(k) {
		case "type":
			t.typ = v
		case "object":
			t.refObject = v
		case "choices":
			t.choices = v
		case "usage":
			t.usage = v
		case "model":
			t.model = v
		case "error":
			t.errv = v
		case "message":
			t.message = v
		case "delta":
			t.delta = v
		case "response":
			t.response = v
		case "done":
			t.done = v
		case "done_reason":
			t.doneReason = v
		case "prompt_eval_count":
			t.promptEval, t.cPromptEval = v, complete
		case "eval_count":
			t.eval, t.cEval = v, complete
		case "thinking":
			t.thinking = v
		case "content":
			t.content = v
		case "output":
			t.output = v
		case "stop_reason":
			t.stopReason = v
		case "status":
			t.status = v
		case "incomplete_details":
			t.incomplete = v
		}
	}
}

func refIsAnthropicType(s []byte) bool {
	switch string(s) {
	case "message_start", "message_delta", "message_stop",
		"content_block_start", "content_block_delta", "content_block_stop", "ping":
		return true
	}
	return false
}

// detect recognises the dialect of one chunk, or DialectUnknown.
func refDetect(t *refTop, evName []byte) Dialect {
	typ, _ := refStr(t.typ)
	if bytes.HasPrefix(typ, []byte("response.")) || bytes.HasPrefix(evName, []byte("response.")) {
		return DialectOpenAIResponses
	}
	if refIsAnthropicType(typ) || refIsAnthropicType(evName) {
		return DialectAnthropic
	}
	obj, _ := refStr(t.refObject)
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
func refFinishReason(v []byte) string {
	s, ok := refStr(v)
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
// tokens) and reported on their own; OpenAI's cached and reasoning tokens
// come from the details objects.
func refParseUsage(v []byte) Usage {
	u := Usage{-1, -1, -1, -1, -1}
	var cache int64
	it := refObject(v)
	for {
		k, val, complete, ok := it.next()
		if !ok {
			break
		}
		var detail *int64
		var want string
		switch string(k) {
		case "prompt_tokens_details", "input_tokens_details":
			detail, want = &u.CacheRead, "cached_tokens"
		case "completion_tokens_details", "output_tokens_details":
			detail, want = &u.Reasoning, "reasoning_tokens"
		}
		if detail != nil {
			in := refObject(val)
			for {
				k2, v2, c2, ok := in.next()
				if !ok {
					break
				}
				if n, isNum := refNum(v2, c2); isNum && n >= 0 && string(k2) == want {
					*detail = n
				}
			}
			continue
		}
		n, isNum := refNum(val, complete)
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
			if n >= 0 && k[6] == 'c' {
				u.CacheWrite = n
			} else if n >= 0 {
				u.CacheRead = n
			}
		case "prompt_cache_hit_tokens":
			if n >= 0 {
				u.CacheRead = n
			}
		}
	}
	if u.Input >= 0 {
		u.Input += cache
	}
	return u
}

// tailUsage looks for usage in the tail window of an oversized event.
func refTailUsage(w []byte, u *Usage) {
	if i := refLastKey(w, "usage"); i >= 0 {
		tu := refParseUsage(w[i:])
		for _, f := range [][2]*int64{{&u.Input, &tu.Input}, {&u.Output, &tu.Output},
			{&u.CacheRead, &tu.CacheRead}, {&u.CacheWrite, &tu.CacheWrite}, {&u.Reasoning, &tu.Reasoning}} {
			if *f[0] < 0 {
				*f[0] = *f[1]
			}
		}
	}
	if u.Input < 0 {
		if i := refLastKey(w, "prompt_eval_count"); i >= 0 {
			if e, ok := refValueEnd(w, i); ok {
				if n, ok := refNum(w[i:e], true); ok {
					u.Input = n
				}
			}
		}
	}
	if u.Output < 0 {
		if i := refLastKey(w, "eval_count"); i >= 0 {
			if e, ok := refValueEnd(w, i); ok {
				if n, ok := refNum(w[i:e], true); ok {
					u.Output = n
				}
			}
		}
	}
}

// classify decodes one SSE event's data or one NDJSON line.
func (o *Observer) refClassify(p, evName []byte, sse bool) Event {
	ev := Event{Usage: Usage{-1, -1, -1, -1, -1}}
	p = refTrimWS(p)
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
	t := refScanTop(p)
	if o.dialect == DialectUnknown {
		o.dialect = refDetect(&t, evName)
	}
	switch o.dialect {
	case DialectOpenAIChat:
		o.refChat(&t, &ev)
	case DialectOpenAIResponses:
		o.refResponses(&t, evName, &ev)
	case DialectAnthropic:
		o.refAnthropic(&t, evName, &ev)
	case DialectOllama:
		o.refOllama(&t, &ev)
	default:
		if refPresent(t.errv) {
			ev.Error = true
		}
		if t.usage != nil {
			ev.Usage = refParseUsage(t.usage)
		}
		o.setModel(t.model)
		ev.Output = !ev.Error
	}
	if o.over && (ev.Usage.Input < 0 || ev.Usage.Output < 0) {
		refTailUsage(o.tailWindow(p), &ev.Usage)
	}
	return ev
}

// outputIn reports whether a chat delta or message carries output.
func refOutputIn(v []byte) bool {
	it := refObject(v)
	for {
		k, val, _, ok := it.next()
		if !ok {
			return false
		}
		switch string(k) {
		case "content", "reasoning_content", "reasoning", "refusal", "thinking":
			if refNonEmptyStr(val) {
				return true
			}
		case "tool_calls", "function_call":
			if refNonEmptyArr(val) {
				return true
			}
		}
	}
}

func (o *Observer) refChat(t *refTop, ev *Event) {
	if refPresent(t.errv) {
		ev.Error = true
	}
	o.setModel(t.model)
	if t.usage != nil {
		ev.Usage = refParseUsage(t.usage)
	}
	choices := refArray(t.choices)
	for {
		c, _, ok := choices.next()
		if !ok {
			break
		}
		it := refObject(c)
		for {
			k, v, _, ok := it.next()
			if !ok {
				break
			}
			switch string(k) {
			case "delta", "message":
				if !ev.Output && refOutputIn(v) {
					ev.Output = true
				}
			case "text": // legacy completions
				if refNonEmptyStr(v) {
					ev.Output = true
				}
			case "finish_reason":
				if fr := refFinishReason(v); fr != "" {
					ev.FinishReason = fr
				}
			}
		}
	}
}

func refIsResponsesOutput(typ []byte) bool {
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
func (o *Observer) refResponseObject(v []byte, ev *Event) (status, reason []byte) {
	it := refObject(v)
	for {
		k, val, _, ok := it.next()
		if !ok {
			return status, reason
		}
		switch string(k) {
		case "model":
			o.setModel(val)
		case "usage":
			if refPresent(val) {
				ev.Usage = refParseUsage(val)
			}
		case "status":
			status = val
		case "incomplete_details":
			in := refObject(val)
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

func (o *Observer) refResponses(t *refTop, evName []byte, ev *Event) {
	typ, ok := refStr(t.typ)
	if !ok || len(typ) == 0 {
		typ = evName
	}
	if refPresent(t.errv) {
		ev.Error = true
	}
	switch {
	case refIsResponsesOutput(typ):
		// Output unless the delta is there and empty.
		ev.Output = !(len(t.delta) > 0 && t.delta[0] == '"' && !refNonEmptyStr(t.delta))
	case string(typ) == "response.completed":
		ev.Done = true
		o.refResponseObject(t.response, ev)
		ev.FinishReason = "completed"
	case string(typ) == "response.incomplete":
		ev.Done = true
		_, reason := o.refResponseObject(t.response, ev)
		ev.FinishReason = refFinishReason(reason)
		if ev.FinishReason == "" {
			ev.FinishReason = "incomplete"
		}
	case string(typ) == "response.failed":
		ev.Error = true
		o.refResponseObject(t.response, ev)
		ev.FinishReason = "failed"
	case string(typ) == "error":
		ev.Error = true
	case t.response != nil:
		o.refResponseObject(t.response, ev) // response.created, in_progress, queued
	}
}

// classifyBody decodes a non-streaming JSON body. When the body was cut at
// MaxJSONBytes (over), its usage is not reported.
func (o *Observer) refClassifyBody(p []byte, over bool) Event {
	ev := Event{Usage: Usage{-1, -1, -1, -1, -1}}
	if p[0] != '{' {
		ev.Output = o.dialect == DialectUnknown
		ev.Done = true
		return ev
	}
	t := refScanTop(p)
	if o.dialect == DialectUnknown {
		o.dialect = refDetect(&t, nil)
	}
	switch o.dialect {
	case DialectOpenAIChat:
		o.refChat(&t, &ev)
	case DialectOpenAIResponses:
		if refPresent(t.errv) {
			ev.Error = true
		}
		status, reason := o.refResponseObject(p, &ev)
		ev.Output = refNonEmptyArr(t.output)
		switch s, _ := refStr(status); string(s) {
		case "completed":
			ev.FinishReason = "completed"
		case "incomplete":
			if ev.FinishReason = refFinishReason(reason); ev.FinishReason == "" {
				ev.FinishReason = "incomplete"
			}
		case "failed":
			ev.Error = true
			ev.FinishReason = "failed"
		case "cancelled":
			ev.FinishReason = "cancelled"
		}
	case DialectAnthropic:
		if ty, _ := refStr(t.typ); refPresent(t.errv) || string(ty) == "error" {
			ev.Error = true
		}
		o.setModel(t.model)
		ev.Output = refNonEmptyArr(t.content)
		ev.FinishReason = refFinishReason(t.stopReason)
		if t.usage != nil {
			ev.Usage = refParseUsage(t.usage)
		}
	case DialectOllama:
		o.refOllama(&t, &ev)
	default:
		if refPresent(t.errv) {
			ev.Error = true
		}
		if t.usage != nil {
			ev.Usage = refParseUsage(t.usage)
		}
		o.setModel(t.model)
		ev.Output = !ev.Error
	}
	if o.dialect != DialectOllama {
		ev.Done = !ev.Error
	}
	if over {
		ev.Usage = Usage{-1, -1, -1, -1, -1}
	}
	return ev
}

func (o *Observer) refAnthropic(t *refTop, evName []byte, ev *Event) {
	typ, ok := refStr(t.typ)
	if !ok || len(typ) == 0 {
		typ = evName
	}
	if refPresent(t.errv) {
		ev.Error = true
	}
	switch string(typ) {
	case "message_start":
		it := refObject(t.message)
		for {
			k, v, _, ok := it.next()
			if !ok {
				break
			}
			switch string(k) {
			case "model":
				o.setModel(v)
			case "usage":
				ev.Usage = refParseUsage(v)
			}
		}
	case "content_block_delta":
		it := refObject(t.delta)
		var dtyp, val []byte
		for {
			k, v, _, ok := it.next()
			if !ok {
				break
			}
			switch string(k) {
			case "type":
				dtyp, _ = refStr(v)
			case "text", "partial_json", "thinking":
				val = v
			}
		}
		switch string(dtyp) {
		case "text_delta", "input_json_delta", "thinking_delta":
			ev.Output = refNonEmptyStr(val)
		}
	case "message_delta":
		it := refObject(t.delta)
		for {
			k, v, _, ok := it.next()
			if !ok {
				break
			}
			if string(k) == "stop_reason" {
				ev.FinishReason = refFinishReason(v)
			}
		}
		if t.usage != nil {
			ev.Usage = refParseUsage(t.usage)
		}
	case "message_stop":
		ev.Done = true
	case "error":
		ev.Error = true
	}
}

func (o *Observer) refOllama(t *refTop, ev *Event) {
	if refPresent(t.errv) {
		ev.Error = true
	}
	o.setModel(t.model)
	if t.message != nil && refOutputIn(t.message) {
		ev.Output = true
	}
	if refNonEmptyStr(t.response) || refNonEmptyStr(t.thinking) {
		ev.Output = true
	}
	if string(t.done) == "true" {
		ev.Done = true
	}
	ev.FinishReason = refFinishReason(t.doneReason)
	if n, ok := refNum(t.promptEval, t.cPromptEval); ok {
		ev.Usage.Input = n
	}
	if n, ok := refNum(t.eval, t.cEval); ok {
		ev.Usage.Output = n
	}
}
