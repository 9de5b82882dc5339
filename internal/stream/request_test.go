package stream

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRequestModel(t *testing.T) {
	long := strings.Repeat("m", 300)
	for _, tc := range []struct {
		in, want string
	}{
		{`{"model":"gpt-4o","stream":true}`, "gpt-4o"},
		{` { "messages":[{"role":"user","content":"a \"model\": x"}], "stream" : false, "model" : "m"}`, "m"},
		{`{"stream":true,"nested":{"model":"no"},"model":"yes"}`, "yes"},
		{`{"model":"first","model":"last"}`, "last"},
		{`{"model":"dropped","model":12}`, ""},
		{`{"model":"trunc`, ""},
		{`{"model":"a\"b"}`, ""},
		{`[{"model":"x"}]`, ""},
		{`{"a":[1,2,{"b":"]}"}],"model":"after"}`, "after"},
		{``, ""},
		{`{"model":12,"stream":"true"}`, ""},
		{`{"model":"` + long + `"}`, long[:256]},
	} {
		if got := RequestModel([]byte(tc.in)); got != tc.want {
			t.Errorf("RequestModel(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzRequestModel checks RequestModel against encoding/json on valid
// objects, and that no input (valid or cut short) makes it panic.
func FuzzRequestModel(f *testing.F) {
	for _, s := range []string{`{"model":"gpt-4o","stream":true}`, `{"messages":[{"content":"x"}],"model":"m"}`,
		`{"model":1}`, `{"model":"a"`, `[]`, `{"a":{"model":"b"},"model":"c"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := RequestModel(body)
		for n := range body {
			RequestModel(body[:n]) // a cut-off prefix: no panic
		}
		var m map[string]json.RawMessage
		if bytes.IndexByte(body, '\\') >= 0 || !utf8.Valid(body) || json.Unmarshal(body, &m) != nil || m == nil {
			return
		}
		want := ""
		var s string
		if raw, ok := m["model"]; ok && json.Unmarshal(raw, &s) == nil && raw[0] == '"' {
			want = s[:min(len(s), maxModelLen)]
		}
		if got != want {
			t.Fatalf("RequestModel(%q) = %q, encoding/json says %q", body, got, want)
		}
	})
}
