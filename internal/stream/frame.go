package stream

// Framing: cutting the body into events — SSE fields and blank lines,
// NDJSON lines, one JSON document — into a bounded buffer, without copying
// an event that arrives whole in one Write.

import "bytes"

// feed frames b by the stream's format.
func (o *Observer) feed(b []byte) {
	if len(b) == 0 {
		return
	}
	switch o.format {
	case FormatSSE:
		o.feedSSE(b)
	case FormatNDJSON:
		o.feedNDJSON(b)
	case FormatJSON:
		o.feedJSON(b)
	}
}

// appendBounded appends b to dst, growing it to at most limit bytes of
// capacity; callers guarantee len(dst)+len(b) <= limit.
func appendBounded(dst, b []byte, limit int) []byte {
	need := len(dst) + len(b)
	if need <= cap(dst) {
		return append(dst, b...)
	}
	nc := max(2*cap(dst), 512, need)
	nc = min(nc, max(limit, need))
	nd := make([]byte, len(dst), nc)
	copy(nd, dst)
	return append(nd, b...)
}

func (o *Observer) curLen() int {
	if o.refSet {
		return len(o.ref)
	}
	return len(o.data)
}

// materialize copies the data referenced in the caller's slice into the
// observer's own buffer.
func (o *Observer) materialize() {
	o.data = appendBounded(o.data[:0], o.ref, o.maxEvent)
	o.ref = nil
	o.refSet = false
}

func (o *Observer) appendData(b []byte) {
	if o.over {
		o.tailWrite(b)
		return
	}
	if room := o.maxEvent - o.curLen(); len(b) > room {
		o.appendData0(b[:room])
		o.over = true
		o.overflowed++
		o.tailWrite(b[room:])
		return
	}
	o.appendData0(b)
}

func (o *Observer) appendData0(b []byte) {
	if !o.refSet && len(o.data) == 0 {
		o.ref = b
		o.refSet = true
		return
	}
	if o.refSet {
		o.materialize()
	}
	o.data = appendBounded(o.data, b, o.maxEvent)
}

// appendNL joins a further SSE data line.
func (o *Observer) appendNL() {
	if !o.over && o.curLen() < o.maxEvent {
		if o.refSet {
			o.materialize()
		}
		o.data = appendBounded(o.data, []byte{'\n'}, o.maxEvent)
		return
	}
	if !o.over {
		o.over = true
		o.overflowed++
	}
	o.tailWrite([]byte{'\n'})
}

func (o *Observer) tailWrite(b []byte) {
	if o.tail == nil {
		o.tail = make([]byte, tailSize)
	}
	if len(b) >= tailSize {
		b = b[len(b)-tailSize:]
	}
	for len(b) > 0 {
		n := copy(o.tail[o.tailPos:], b)
		o.tailPos += n
		b = b[n:]
		if o.tailPos == tailSize {
			o.tailPos = 0
			o.tailFull = true
		}
	}
}

// tailWindow returns the last (up to) tailSize bytes of an oversized event:
// the end of its kept prefix followed by the tail ring.
func (o *Observer) tailWindow(prefix []byte) []byte {
	if o.tailLin == nil {
		o.tailLin = make([]byte, 0, tailSize)
	}
	w := o.tailLin[:0]
	if o.tailFull {
		w = append(w, o.tail[o.tailPos:]...)
	} else {
		keep := min(len(prefix), tailSize-o.tailPos)
		w = append(w, prefix[len(prefix)-keep:]...)
	}
	w = append(w, o.tail[:o.tailPos]...)
	o.tailLin = w
	return w
}

func (o *Observer) payload() []byte {
	if o.refSet {
		return o.ref
	}
	return o.data
}

func (o *Observer) resetEvent() {
	o.hasData = false
	o.data = o.data[:0]
	o.ref = nil
	o.refSet = false
	o.over = false
	o.tailPos = 0
	o.tailFull = false
}

// indexEOL returns the index of the first CR or LF in b, or -1.
func indexEOL(b []byte) int {
	n := bytes.IndexByte(b, '\n')
	s := b
	if n >= 0 {
		s = b[:n]
	}
	if r := bytes.IndexByte(s, '\r'); r >= 0 {
		return r
	}
	return n
}

func (o *Observer) feedSSE(b []byte) {
	if o.lastCR {
		o.lastCR = false
		if b[0] == '\n' {
			b = b[1:]
		}
	}
	for len(b) > 0 {
		k := indexEOL(b)
		if k < 0 {
			o.sseSeg(b)
			return
		}
		o.sseSeg(b[:k])
		o.sseEOL()
		if b[k] == '\r' {
			if k+1 < len(b) {
				if b[k+1] == '\n' {
					k++
				}
			} else {
				o.lastCR = true
			}
		}
		b = b[k+1:]
	}
}

// sseSeg processes a piece of the current line (lines may span Writes).
func (o *Observer) sseSeg(s []byte) {
	for {
		switch o.ls {
		case lsStart:
			if len(s) == 0 {
				return
			}
			if s[0] == ':' {
				o.ls = lsSkip
				return
			}
			o.ls = lsName
		case lsName:
			k := bytes.IndexByte(s, ':')
			if k < 0 {
				o.addName(s)
				return
			}
			o.addName(s[:k])
			o.startField()
			s = s[k+1:]
			o.ls = lsValueStart
		case lsValueStart:
			if len(s) == 0 {
				return
			}
			if s[0] == ' ' {
				s = s[1:]
			}
			o.ls = lsValue
		case lsValue:
			if len(s) > 0 {
				switch o.field {
				case fData:
					o.appendData(s)
				case fEvent:
					n := copy(o.evName[o.evNameN:], s)
					o.evNameN += n
				}
			}
			return
		default:
			return
		}
	}
}

func (o *Observer) addName(s []byte) {
	if o.nameLong || int(o.nameN)+len(s) > len(o.name) {
		o.nameLong = true
		return
	}
	o.nameN += uint8(copy(o.name[o.nameN:], s))
}

func (o *Observer) startField() {
	o.field = fOther
	if o.nameLong {
		return
	}
	switch string(o.name[:o.nameN]) {
	case "data":
		o.field = fData
		if o.hasData {
			o.appendNL()
		}
		o.hasData = true
	case "event":
		o.field = fEvent
		o.evNameN = 0
	}
}

func (o *Observer) sseEOL() {
	switch o.ls {
	case lsStart:
		o.dispatchSSE()
	case lsName:
		o.startField()
	}
	o.ls = lsStart
	o.nameN = 0
	o.nameLong = false
	o.field = fOther
}

func (o *Observer) dispatchSSE() {
	if !o.hasData {
		o.evNameN = 0
		return
	}
	o.classify(&o.ev, o.payload(), o.evName[:o.evNameN], true)
	o.resetEvent()
	o.evNameN = 0
	o.emit()
}

func (o *Observer) feedNDJSON(b []byte) {
	for len(b) > 0 {
		k := bytes.IndexByte(b, '\n')
		if k < 0 {
			o.appendData(b)
			o.hasData = true
			return
		}
		o.appendData(b[:k])
		o.hasData = true
		o.dispatchLine()
		b = b[k+1:]
	}
}

func (o *Observer) dispatchLine() {
	if !o.hasData {
		return
	}
	p := trimWS(o.payload())
	if len(p) == 0 && !o.over {
		o.resetEvent()
		return
	}
	o.classify(&o.ev, p, nil, false)
	o.resetEvent()
	o.emit()
}

func (o *Observer) jappend(b []byte) {
	if o.jover {
		return
	}
	if room := o.maxJSON - len(o.jbuf); len(b) > room {
		b = b[:room]
		o.jover = true
		o.overflowed++
	}
	o.jbuf = appendBounded(o.jbuf, b, o.maxJSON)
}

func (o *Observer) feedJSON(b []byte) {
	for len(b) > 0 {
		switch o.jphase {
		case jFirstLine:
			k := bytes.IndexByte(b, '\n')
			if k < 0 {
				o.jappend(b)
				if o.jover {
					o.jphase = jDecided
				}
				return
			}
			o.jappend(b[:k+1])
			b = b[k+1:]
			if o.jover {
				o.jphase = jDecided
				continue
			}
			o.jphase = jSecondLine
			if firstLineStreams(o.jbuf) {
				o.switchNDJSON(b)
				return
			}
		case jSecondLine:
			i := skipWS(b, 0)
			o.jappend(b[:i])
			b = b[i:]
			if len(b) == 0 {
				return
			}
			if b[0] == '{' {
				o.switchNDJSON(b)
				return
			}
			o.jphase = jDecided
		default:
			o.jappend(b)
			return
		}
	}
}

// firstLineStreams reports whether the first line of a body is a complete
// JSON object with "done":false: an Ollama stream line, never a final body.
func firstLineStreams(line []byte) bool {
	line = trimWS(line)
	if e, ok := valueEnd(line, 0); !ok || e != len(line) {
		return false
	}
	it := object(line)
	for {
		k, v, _, ok := it.next()
		if !ok {
			return false
		}
		if string(k) == "done" {
			return string(v) == "false"
		}
	}
}

// switchNDJSON turns a JSON body into an NDJSON stream: the buffered bytes
// are replayed, then rest.
func (o *Observer) switchNDJSON(rest []byte) {
	o.format = FormatNDJSON
	buf := o.jbuf
	o.jbuf = o.jbuf[:0]
	o.feedNDJSON(buf)
	o.feedNDJSON(rest)
	if o.refSet {
		o.materialize()
	}
}

func (o *Observer) finishJSON() {
	body := trimWS(o.jbuf)
	if len(body) == 0 {
		return
	}
	o.ev = o.classifyBody(body, o.jover)
	o.emit()
}
