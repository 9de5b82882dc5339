package stream

// The top-level walk: one pass over an event's JSON object that keeps the
// raw values of the members the dialects read, resumed from the previous
// event's walk where the two share a prefix.

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
