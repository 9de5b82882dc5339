package stream

// The dialects: from an event's top-level members (top.go) to what it
// means — output or not, finish reason, usage, model, errors — for OpenAI
// chat completions and Responses, Anthropic messages and Ollama.

import "bytes"

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

// parseUsage reads a usage object in any dialect's spelling (see [Usage]).
// Anthropic's cache_creation_input_tokens and cache_read_input_tokens are
// added to the input (its input_tokens excludes them; OpenAI's already
// includes cached tokens).
func parseUsage(v []byte) Usage {
	u := noUsage()
	var cache int64
	it := object(v)
	for {
		k, val, complete, ok := it.next()
		if !ok {
			break
		}
		switch string(k) {
		case "prompt_tokens_details", "input_tokens_details":
			if n := usageDetail(val, "cached_tokens"); n >= 0 {
				u.CacheRead = n
			}
			continue
		case "completion_tokens_details", "output_tokens_details":
			if n := usageDetail(val, "reasoning_tokens"); n >= 0 {
				u.Reasoning = n
			}
			continue
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
		case "cache_creation_input_tokens":
			cache += n
			u.CacheWrite = max(n, -1)
		case "cache_read_input_tokens":
			cache += n
			u.CacheRead = max(n, -1)
		case "prompt_cache_hit_tokens": // DeepSeek
			u.CacheRead = max(n, -1)
		}
	}
	if u.Input >= 0 {
		u.Input += cache
	}
	return u
}

// isObject reports whether v is a JSON object (parseUsage of anything else
// reports nothing).
func isObject(v []byte) bool {
	i := skipWS(v, 0)
	return i < len(v) && v[i] == '{'
}

// usageDetail returns the number under key in a usage details object
// (prompt_tokens_details and the like), or -1.
func usageDetail(v []byte, key string) int64 {
	n := int64(-1)
	it := object(v)
	for {
		k, val, complete, ok := it.next()
		if !ok {
			return n
		}
		if string(k) == key {
			if x, isNum := num(val, complete); isNum && x >= 0 {
				n = x
			}
		}
	}
}

// tailUsage looks for usage in the tail window of an oversized event.
func tailUsage(w []byte, u *Usage) {
	if i := lastKey(w, "usage"); i >= 0 {
		u.fill(parseUsage(w[i:]))
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

// classify decodes one SSE event's data or one NDJSON line into ev (the
// caller's, so that the Event is not copied on its way to emit).
func (o *Observer) classify(ev *Event, p, evName []byte, sse bool) {
	*ev = Event{Usage: noUsage()}
	p = trimWS(p)
	if sse && string(p) == "[DONE]" {
		ev.Done = true
		return
	}
	if string(evName) == "error" {
		ev.Error = true
	}
	if len(p) == 0 || p[0] != '{' {
		// Not JSON: plain-text SSE data or garbage. Output only when the
		// dialect is unknown (then every chunk with data counts).
		ev.Output = o.dialect == DialectUnknown && !ev.Error
		return
	}
	var t top
	scanTop(&t, p, o.dialect == DialectUnknown || o.dialect == DialectOpenAIChat, &o.memo)
	if o.dialect == DialectUnknown {
		o.dialect = detect(&t, evName)
	}
	switch o.dialect {
	case DialectOpenAIChat:
		o.chat(&t, ev)
	case DialectOpenAIResponses:
		o.responses(&t, evName, ev)
	case DialectAnthropic:
		o.anthropic(&t, evName, ev)
	case DialectOllama:
		o.ollama(&t, ev)
	default:
		o.generic(&t, ev)
	}
	if o.over && (ev.Usage.Input < 0 || ev.Usage.Output < 0) {
		tailUsage(o.tailWindow(p), &ev.Usage)
	}
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
	if isObject(t.usage) { // most chunks say "usage":null or nothing
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
	ev := Event{Usage: noUsage()}
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
		o.generic(&t, &ev)
	}
	if o.dialect != DialectOllama {
		ev.Done = !ev.Error
	}
	if over {
		ev.Usage = noUsage()
	}
	return ev
}

// generic reads a JSON object of no known dialect: an error field makes it an
// error, anything else is output; usage and model are taken where present.
func (o *Observer) generic(t *top, ev *Event) {
	if present(t.errv) {
		ev.Error = true
	}
	if t.usage != nil {
		ev.Usage = parseUsage(t.usage)
	}
	o.setModel(t.model)
	ev.Output = !ev.Error
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
