package stream

import "bytes"

// RequestModel returns the top-level "model" string of a JSON request body,
// which may be cut short (the peeked start of a larger body). It returns ""
// when the body is not a JSON object, or has no complete "model" string
// before the cut; a string with escapes is not decoded and counts as none.
// When the member appears twice, the last one counts, as with encoding/json.
// At most 256 bytes of the name are kept, as for a response's model
// ([Observer.Model]).
func RequestModel(body []byte) string {
	var model []byte
	it := object(body)
	for {
		k, v, complete, ok := it.next()
		if !ok || !complete {
			break
		}
		if string(k) != "model" {
			continue
		}
		model = nil
		if s, ok := str(v); ok && bytes.IndexByte(s, '\\') < 0 {
			model = s
		}
	}
	return string(model[:min(len(model), maxModelLen)])
}
