package stream

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzScanner checks the allocation-free JSON walker against encoding/json:
// on a valid object, it must see the same members with the same values
// (last duplicate winning, as in a map), and valueEnd must span exactly the
// value. On any input it must not panic and must terminate.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x\"y","c":{"d":[1,{"e":"}"}]},"f":null}`,
		`{"choices":[{"delta":{"content":"\\\\"}}],"usage":{"prompt_tokens":1}}`,
		`{"a":{"a":{"a":[[[]]]}},"a":2}`, `{"\u0061":1}`, `{}`, `[]`, `"x"`, `{"a":"\\"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		it := object(data)
		got := map[string]string{}
		for n := 0; ; n++ {
			if n > len(data) {
				t.Fatal("objIter does not terminate")
			}
			k, v, _, ok := it.next()
			if !ok {
				break
			}
			got[string(k)] = string(v)
		}
		for _, c := range []int{0, len(data) / 2} {
			if e, _ := valueEnd(data, c); e < c && c < len(data) || e > len(data) {
				t.Fatalf("valueEnd(%d) = %d", c, e)
			}
		}
		if !json.Valid(data) {
			return
		}
		d := trimWS(data)
		if e, ok := valueEnd(d, 0); !ok && d[0] != '"' && d[0] != '{' && d[0] != '[' {
			// a top-level scalar runs into the end of the buffer: fine.
		} else if !ok || e != len(d) {
			t.Fatalf("valueEnd = %d, %v; want %d, true", e, ok, len(d))
		}
		var want map[string]json.RawMessage
		if json.Unmarshal(data, &want) != nil {
			return // not an object
		}
		// encoding/json decodes escapes in keys and replaces invalid UTF-8;
		// the walker keeps keys raw.
		if bytes.IndexByte(data, '\\') >= 0 || !utf8.Valid(data) {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("members: got %d %v, want %d", len(got), got, len(want))
		}
		for k, wv := range want {
			gv, ok := got[k]
			if !ok {
				t.Fatalf("member %q missing", k)
			}
			var a, b bytes.Buffer
			if json.Compact(&a, []byte(gv)) != nil || json.Compact(&b, wv) != nil || a.String() != b.String() {
				t.Fatalf("member %q: got %s, want %s", k, gv, wv)
			}
		}
	})
}
