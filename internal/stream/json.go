package stream

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// This file holds a tiny, allocation-free JSON walker. It is lenient: a
// value cut off by the end of the buffer (a truncated event prefix) is
// returned as far as it goes, flagged incomplete, so that "a content string
// has started and is not empty" can still be decided, while numbers are only
// trusted when complete.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
		i++
	}
	return i
}

func trimWS(b []byte) []byte {
	i := skipWS(b, 0)
	j := len(b)
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// The walker skips strings and nested values eight bytes at a time (SWAR):
// a word's bytes equal to c get their high bit set by eqMask. Bytes above a
// match may be flagged spuriously (the subtraction borrows), so only the
// lowest flagged byte of a mask, or of the OR of several, is trusted.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

func eqMask(w uint64, c byte) uint64 {
	x := w ^ (lsb * uint64(c))
	return (x - lsb) &^ x & msb
}

// stringEnd returns the index just past the closing quote of the string whose
// content starts at b[i] (just after the opening quote): the first quote
// preceded by an even number of backslashes (each backslash escapes the byte
// after it).
func stringEnd(b []byte, i int) (int, bool) {
	// Fast path: a word whose first quote comes before any backslash ends
	// the string (no backslash was seen before it).
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		q, bs := eqMask(w, '"'), eqMask(w, '\\')
		// below: the bits under the first quote (all bits when none).
		below := (q & -q) - 1
		if bs&below != 0 {
			break
		}
		if q != 0 {
			return i + bits.TrailingZeros64(q)>>3 + 1, true
		}
		i += 8
	}
	for i < len(b) {
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return len(b), false
}

// nextStruct returns the index of the first byte at or after i that may be
// structural in a nested value: a quote or a bracket (also, harmlessly, 'Y',
// '_', 'y' and DEL, which the caller ignores), or len(b).
func nextStruct(b []byte, i int) int {
	for i+8 <= len(b) {
		switch b[i] {
		case '"', '{', '}', '[', ']':
			return i
		}
		w := binary.LittleEndian.Uint64(b[i:])
		// '[' ']' '{' '}' (and 'Y' '_' 'y' DEL) become 0x79.
		x := (w | 0x2020202020202020) & 0xF9F9F9F9F9F9F9F9
		if m := eqMask(w, '"') | eqMask(x, 0x79); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(b) {
		switch b[i] {
		case '"', '{', '}', '[', ']':
			return i
		}
		i++
	}
	return len(b)
}

// delims marks the bytes that end a scalar: , } ] : and whitespace.
const delims = "" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x01\x00\x00" + // \t \n \r
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00" + // space ,
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00" + // :
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00" + // ]
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00" + // }
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

func isDelim(c byte) bool { return delims[c] != 0 }

// valueEnd returns the index just past the JSON value starting at b[i]; ok is
// false when the value runs into the end of b (truncated). Brackets are
// counted without matching their kinds, strings skipped.
func valueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return len(b), false
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i+1)
	case '{', '[':
		depth := 0
		for {
			i = nextStruct(b, i)
			if i >= len(b) {
				return len(b), false
			}
			switch b[i] {
			case '"':
				e, ok := stringEnd(b, i+1)
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
	}
	for i < len(b) && !isDelim(b[i]) {
		i++
	}
	return i, i < len(b)
}

// Results of member.
const (
	mMember = iota // a member: its key and the start of its value
	mEnd           // no key where one could start: b[stop] (if any) ends the walk
	mBad           // a key without a colon and a value after it
)

// member reads the next member of an object from i (just after the '{' or
// the previous value): an optional comma, the key and the colon, each
// possibly surrounded by whitespace, as objIter.next does. It returns the
// raw key and the index vs of the first byte of the value; stop is where the
// walk stopped otherwise. Compact JSON takes the fast paths.
func member(b []byte, i int) (key []byte, vs int, res int) {
	if i+1 < len(b) && b[i] == ',' && b[i+1] == '"' {
		i++
	} else {
		i = skipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
		if i >= len(b) || b[i] != '"' {
			return nil, i, mEnd
		}
	}
	ke, ok := stringEnd(b, i+1)
	if !ok {
		return nil, len(b), mBad
	}
	key = b[i+1 : ke-1]
	if ke+1 < len(b) && b[ke] == ':' && b[ke+1] > ' ' {
		return key, ke + 1, mMember
	}
	i = skipWS(b, ke)
	if i >= len(b) || b[i] != ':' {
		return nil, i, mBad
	}
	i = skipWS(b, i+1)
	if i >= len(b) {
		return nil, i, mBad
	}
	return key, i, mMember
}

// objIter walks the members of one JSON object.
type objIter struct {
	b    []byte
	i    int
	done bool
}

// object returns an iterator over v, which must start with '{' (after
// whitespace); otherwise the iterator is empty.
func object(v []byte) objIter {
	i := skipWS(v, 0)
	if i >= len(v) || v[i] != '{' {
		return objIter{done: true}
	}
	return objIter{b: v, i: i + 1}
}

// next returns the next member: its raw key (escapes not decoded), its raw
// value, and whether the value is complete.
func (it *objIter) next() (key, val []byte, complete, ok bool) {
	if it.done {
		return nil, nil, false, false
	}
	b := it.b
	key, i, res := member(b, it.i)
	if res != mMember {
		it.done = true
		return nil, nil, false, false
	}
	ve, vok := valueEnd(b, i)
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
type arrIter struct {
	b    []byte
	i    int
	done bool
}

func array(v []byte) arrIter {
	i := skipWS(v, 0)
	if i >= len(v) || v[i] != '[' {
		return arrIter{done: true}
	}
	return arrIter{b: v, i: i + 1}
}

func (it *arrIter) next() (val []byte, complete, ok bool) {
	if it.done {
		return nil, false, false
	}
	b := it.b
	i := skipWS(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		it.done = true
		return nil, false, false
	}
	ve, vok := valueEnd(b, i)
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
func strc(v []byte) (s []byte, complete, ok bool) {
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
func str(v []byte) ([]byte, bool) {
	s, _, ok := strc(v)
	return s, ok
}

// nonEmptyStr reports whether v is a string with at least one byte.
func nonEmptyStr(v []byte) bool {
	s, ok := str(v)
	return ok && len(s) > 0
}

// present reports whether v is a value other than null and false.
func present(v []byte) bool {
	return len(v) > 0 && v[0] != 'n' && v[0] != 'f'
}

// nonEmptyArr reports whether v is an array with at least one element, or
// any object (OpenAI's legacy function_call is an object).
func nonEmptyArr(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '[':
		i := skipWS(v, 1)
		return i < len(v) && v[i] != ']'
	case '{':
		return true
	}
	return false
}

// num parses a complete JSON integer (a fraction is ignored); ok is false for
// anything else, for negative values and for more than 18 digits.
func num(v []byte, complete bool) (int64, bool) {
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
func lastKey(b []byte, key string) int {
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
		for p >= 0 && isSpace(b[p]) {
			p--
		}
		if p < 0 || (b[p] != ',' && b[p] != '{') {
			continue
		}
		j = skipWS(b, j+1)
		if j >= len(b) || b[j] != ':' {
			continue
		}
		return skipWS(b, j+1)
	}
	return -1
}
