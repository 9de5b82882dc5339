package stream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// us returns the usage in, out, cache read, cache write, reasoning, the
// fields not given unreported (-1).
func us(v ...int64) Usage {
	u := noUsage()
	for i, p := range []*int64{&u.Input, &u.Output, &u.CacheRead, &u.CacheWrite, &u.Reasoning}[:len(v)] {
		*p = v[i]
	}
	return u
}

// evs builds the expected events from a compact notation, one string per
// event: "-" (nothing), or space-separated "O" (output), "D" (done), "E"
// (error), "F:reason", "U:in,out[,cache read[,cache write[,reasoning]]]".
func evs(t *testing.T, specs ...string) []Event {
	t.Helper()
	out := make([]Event, 0, len(specs))
	for _, s := range specs {
		ev := Event{Usage: noUsage()}
		for _, tok := range strings.Fields(s) {
			switch {
			case tok == "-":
			case tok == "O":
				ev.Output = true
			case tok == "D":
				ev.Done = true
			case tok == "E":
				ev.Error = true
			case strings.HasPrefix(tok, "F:"):
				ev.FinishReason = tok[2:]
			case strings.HasPrefix(tok, "U:"):
				var v []int64
				for f := range strings.SplitSeq(tok[2:], ",") {
					n, err := strconv.ParseInt(f, 10, 64)
					if err != nil {
						t.Fatalf("bad usage %q", tok)
					}
					v = append(v, n)
				}
				if len(v) < 2 || len(v) > 5 {
					t.Fatalf("bad usage %q", tok)
				}
				ev.Usage = us(v...)
			default:
				t.Fatalf("bad token %q", tok)
			}
		}
		out = append(out, ev)
	}
	return out
}

// result is everything an observer reports for one body.
type result struct {
	Events     []Event
	Usage      Usage
	HasUsage   bool
	Model      string
	Format     Format
	Dialect    Dialect
	Overflowed int
}

// run feeds the body in the given pieces and returns what was observed. It
// also checks that the pieces are not modified.
func run(t testing.TB, ct string, hint Dialect, cfg Config, pieces [][]byte) result {
	t.Helper()
	var r result
	o := NewObserver(ct, hint, func(ev *Event) { r.Events = append(r.Events, *ev) }, cfg)
	for _, p := range pieces {
		c := bytes.Clone(p)
		o.Write(p)
		if !bytes.Equal(c, p) {
			t.Fatalf("Write modified its input")
		}
		assertBounded(t, o, cfg)
	}
	o.Close()
	o.Write([]byte("data: after close\n\n"))
	o.Close()
	r.Usage, r.HasUsage = o.Usage()
	r.Model, r.Format, r.Dialect, r.Overflowed = o.Model(), o.Format(), o.Dialect(), o.Overflowed()
	return r
}

func (r result) equal(o result) bool {
	return slices.Equal(r.Events, o.Events) && r.Usage == o.Usage && r.HasUsage == o.HasUsage &&
		r.Model == o.Model && r.Format == o.Format && r.Dialect == o.Dialect && r.Overflowed == o.Overflowed
}

func whole(b []byte) [][]byte { return [][]byte{b} }

func splitAt(b []byte, cuts ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, c := range cuts {
		out = append(out, b[prev:c])
		prev = c
	}
	return append(out, b[prev:])
}

func randomSplit(b []byte, r *rand.Rand) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := 1 + r.IntN(min(len(b), 1+r.IntN(64)))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func bytesEach(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

type golden struct {
	file       string
	ct         string
	events     []string
	usage      Usage
	hasUsage   bool
	model      string
	format     Format
	dialect    Dialect
	sniffedFmt Format // format when sniffed without Content-Type (default: format)
}

func goldens() []golden {
	const sse, nd, js = "text/event-stream", "application/x-ndjson", "application/json"
	return []golden{
		{file: "openai_chat.sse", ct: sse,
			events: []string{"-", "O", "O", "O", "F:stop", "U:19,10,0,-1,0", "D"},
			usage:  us(19, 10, 0, -1, 0), hasUsage: true, model: "gpt-4o-2024-08-06", format: FormatSSE, dialect: DialectOpenAIChat},
		{file: "openai_chat_tools.sse", ct: sse,
			events: []string{"O", "O", "O", "F:tool_calls", "U:81,17,64,-1,0", "D"},
			usage:  us(81, 17, 64, -1, 0), hasUsage: true, model: "gpt-4o-mini-2024-07-18", format: FormatSSE, dialect: DialectOpenAIChat},
		{file: "openai_chat_reasoning_crlf.sse", ct: "text/event-stream; charset=utf-8",
			events: []string{"-", "O", "O", "F:length U:12,40,0,-1,38", "D"},
			usage:  us(12, 40, 0, -1, 38), hasUsage: true, model: "deepseek-reasoner", format: FormatSSE, dialect: DialectOpenAIChat},
		{file: "openai_chat_error.sse", ct: sse,
			events: []string{"-", "E"},
			usage:  noUsage(), model: "gpt-4o", format: FormatSSE, dialect: DialectOpenAIChat},
		{file: "openai_responses.sse", ct: sse,
			events: []string{"-", "-", "-", "-", "O", "-", "-", "-", "-", "O", "O", "-", "-", "-", "D F:completed U:37,75,0,-1,64"},
			usage:  us(37, 75, 0, -1, 64), hasUsage: true, model: "o4-mini-2025-04-16", format: FormatSSE, dialect: DialectOpenAIResponses},
		{file: "openai_responses_tool.sse", ct: sse,
			events: []string{"-", "-", "O", "O", "-", "D F:max_output_tokens U:50,16,0,-1,0"},
			usage:  us(50, 16, 0, -1, 0), hasUsage: true, model: "gpt-4.1-2025-04-14", format: FormatSSE, dialect: DialectOpenAIResponses},
		{file: "openai_responses_failed.sse", ct: sse,
			events: []string{"-", "E F:failed", "E"},
			usage:  noUsage(), model: "gpt-4.1", format: FormatSSE, dialect: DialectOpenAIResponses},
		{file: "anthropic.sse", ct: sse,
			events: []string{"U:25,1,0,0", "-", "-", "O", "O", "-", "F:end_turn U:-1,15", "D"},
			usage:  us(25, 15, 0, 0), hasUsage: true, model: "claude-sonnet-4-5-20250929", format: FormatSSE, dialect: DialectAnthropic},
		{file: "anthropic_tools_thinking.sse", ct: sse,
			events: []string{"U:2572,2,2000,100", "-", "O", "-", "-", "-", "O", "-", "-", "-", "O", "O", "-", "F:tool_use U:-1,89", "D"},
			usage:  us(2572, 89, 2000, 100), hasUsage: true, model: "claude-opus-4-1-20250805", format: FormatSSE, dialect: DialectAnthropic},
		{file: "anthropic_error.sse", ct: sse,
			events: []string{"U:10,1", "E"},
			usage:  us(10, 1), hasUsage: true, model: "claude-3-5-haiku-20241022", format: FormatSSE, dialect: DialectAnthropic},
		{file: "ollama_chat.ndjson", ct: nd,
			events: []string{"O", "O", "O", "D F:stop U:26,282"},
			usage:  us(26, 282), hasUsage: true, model: "llama3.2", format: FormatNDJSON, dialect: DialectOllama},
		{file: "ollama_chat_tools_thinking.ndjson", ct: nd,
			events: []string{"O", "O", "O", "D F:stop U:180,44"},
			usage:  us(180, 44), hasUsage: true, model: "qwen3", format: FormatNDJSON, dialect: DialectOllama},
		{file: "ollama_generate.ndjson", ct: nd,
			events: []string{"O", "O", "-", "D F:length U:26,259"},
			usage:  us(26, 259), hasUsage: true, model: "llama3.2", format: FormatNDJSON, dialect: DialectOllama},
		{file: "ollama_error.ndjson", ct: nd,
			events: []string{"E"},
			usage:  noUsage(), format: FormatNDJSON, dialect: DialectUnknown, sniffedFmt: FormatJSON},
		{file: "openai_chat.json", ct: js,
			events: []string{"O D F:stop U:19,10,0,-1,0"},
			usage:  us(19, 10, 0, -1, 0), hasUsage: true, model: "gpt-4.1-2025-04-14", format: FormatJSON, dialect: DialectOpenAIChat},
		{file: "anthropic.json", ct: js,
			events: []string{"O D F:end_turn U:2100,503,5,0"},
			usage:  us(2100, 503, 5, 0), hasUsage: true, model: "claude-sonnet-4-5-20250929", format: FormatJSON, dialect: DialectAnthropic},
		{file: "openai_responses.json", ct: js,
			events: []string{"O D F:completed U:36,87,0,-1,0"},
			usage:  us(36, 87, 0, -1, 0), hasUsage: true, model: "gpt-4.1-2025-04-14", format: FormatJSON, dialect: DialectOpenAIResponses},
		{file: "openai_error.json", ct: js,
			events: []string{"E"},
			usage:  noUsage(), format: FormatJSON, dialect: DialectUnknown},
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDialects(t *testing.T) {
	for _, g := range goldens() {
		body := readTestdata(t, g.file)
		for _, sniffed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sniffed=%v", g.file, sniffed), func(t *testing.T) {
				ct, format := g.ct, g.format
				if sniffed {
					ct = ""
					if g.sniffedFmt != FormatUnknown {
						format = g.sniffedFmt
					}
				}
				want := result{
					Events: evs(t, g.events...), Usage: g.usage, HasUsage: g.hasUsage,
					Model: g.model, Format: format, Dialect: g.dialect,
				}
				got := run(t, ct, DialectUnknown, Config{}, whole(body))
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("(-want +got):\n%s", d)
				}
			})
		}
	}
}

// TestSplitInvariance checks that any way of cutting a body into Writes
// gives the same result as one Write.
func TestSplitInvariance(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, g := range goldens() {
		body := readTestdata(t, g.file)
		for _, ct := range []string{g.ct, ""} {
			for _, cfg := range []Config{{}, {MaxEventBytes: 100, MaxJSONBytes: 300}} {
				t.Run(fmt.Sprintf("%s/ct=%q/%d", g.file, ct, cfg.MaxEventBytes), func(t *testing.T) {
					ref := run(t, ct, DialectUnknown, cfg, whole(body))
					check := func(what string, pieces [][]byte) {
						t.Helper()
						if got := run(t, ct, DialectUnknown, cfg, pieces); !got.equal(ref) {
							t.Fatalf("%s: (-one write +split):\n%s", what, cmp.Diff(ref, got))
						}
					}
					if (ct == "") == (cfg.MaxEventBytes != 0) {
						for i := range len(body) + 1 {
							check(fmt.Sprintf("cut at %d", i), splitAt(body, i))
						}
					}
					check("bytewise", bytesEach(body))
					for range 20 {
						check("random", randomSplit(body, r))
					}
				})
			}
		}
	}
}

func TestSSEFraming(t *testing.T) {
	tests := []struct {
		name   string
		hint   Dialect
		body   string
		events []string
	}{
		{"lf", DialectUnknown, "data: a\n\ndata: b\n\n", []string{"O", "O"}},
		{"crlf", DialectUnknown, "data: a\r\n\r\ndata: b\r\n\r\n", []string{"O", "O"}},
		{"cr", DialectUnknown, "data: a\r\rdata: b\r\r", []string{"O", "O"}},
		{"mixed", DialectUnknown, "data: a\r\n\rdata: b\n\r\n", []string{"O", "O"}},
		{"comments only", DialectUnknown, ": hi\n\n:\n\n: there\n\n", nil},
		{"event without data", DialectUnknown, "event: ping\n\nid: 3\nretry: 100\n\n", nil},
		{"data without colon", DialectUnknown, "data\n\n", []string{"O"}},
		{"done", DialectUnknown, "data: [DONE]\n\n", []string{"D"}},
		{"done no space", DialectUnknown, "data:[DONE]\n\n", []string{"D"}},
		{"error event", DialectUnknown, "event: error\ndata: oops\n\n", []string{"E"}},
		{"multi-line data joined", DialectUnknown,
			"data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":\ndata: {\"content\":\"x\"}}]}\n\n",
			[]string{"O"}},
		{"multi-line data joined, empty", DialectOpenAIChat,
			"data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"\"}}]}\n\n", []string{"-"}},
		{"trailing event flushed at close", DialectUnknown, "data: a\n\ndata: b", []string{"O", "O"}},
		{"trailing event flushed at close, no colon", DialectAnthropic,
			"event: message_stop\ndata: {\"type\":\"message_stop\"}", []string{"D"}},
		{"bom", DialectUnknown, "\xEF\xBB\xBFdata: a\n\n", []string{"O"}},
		{"event name is the type", DialectAnthropic,
			"event: content_block_delta\ndata: {\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n", []string{"O"}},
		{"long field names ignored", DialectUnknown, "datadatadata: a\n\n", nil},
		{"known dialect, non-JSON data", DialectOpenAIChat, "data: hello\n\n", []string{"-"}},
		{"unknown dialect, JSON data", DialectUnknown, "data: {\"foo\":1}\n\n", []string{"O"}},
		{"unknown dialect, error JSON", DialectUnknown, "data: {\"error\":{\"message\":\"x\"}}\n\n", []string{"E"}},
		{"unknown dialect, null error", DialectUnknown, "data: {\"error\":null,\"x\":1}\n\n", []string{"O"}},
		{"escaped keys in strings", DialectOpenAIChat,
			`data: {"choices":[{"delta":{"role":"assistant","x":"\"content\":\"hi\""}}]}` + "\n\n", []string{"-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := evs(t, tt.events...)
			for _, pieces := range [][][]byte{whole([]byte(tt.body)), bytesEach([]byte(tt.body))} {
				got := run(t, "text/event-stream", tt.hint, Config{}, pieces)
				if d := cmp.Diff(want, got.Events, cmp.Comparer(func(a, b []Event) bool {
					return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b)
				})); d != "" {
					t.Errorf("(-want +got):\n%s", d)
				}
			}
		})
	}
}

func TestText(t *testing.T) {
	o := 0
	obs := NewObserver("text/plain", DialectUnknown, func(ev *Event) {
		if !ev.Output {
			t.Errorf("text chunk without output: %+v", ev)
		}
		o++
	}, Config{})
	obs.Write([]byte("Hello"))
	obs.Write(nil)
	obs.Write([]byte(" world"))
	obs.Close()
	if o != 2 || obs.Format() != FormatText {
		t.Errorf("got %d chunks, format %v; want 2, text", o, obs.Format())
	}

	// Sniffed text: a prefix of "data:" waits for the next byte.
	o = 0
	obs.Reset("", DialectUnknown, func(*Event) { o++ })
	obs.Write([]byte("da"))
	if o != 0 || obs.Format() != FormatUnknown {
		t.Fatalf("decided too early: %d %v", o, obs.Format())
	}
	obs.Write([]byte("ta is text"))
	obs.Write([]byte("more"))
	obs.Close()
	if o != 2 || obs.Format() != FormatText {
		t.Errorf("got %d chunks, format %v; want 2, text", o, obs.Format())
	}

	// Undecided at Close.
	o = 0
	obs.Reset("", DialectUnknown, func(*Event) { o++ })
	obs.Write([]byte("  \n re"))
	obs.Close()
	if o != 1 || obs.Format() != FormatText {
		t.Errorf("got %d chunks, format %v; want 1, text", o, obs.Format())
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		ct    string
		first string
		want  Format
	}{
		{"text/event-stream", "", FormatSSE},
		{"Text/Event-Stream; charset=utf-8", "{", FormatSSE},
		{"application/x-ndjson", "", FormatNDJSON},
		{"application/jsonl", "", FormatNDJSON},
		{"application/ndjson", "", FormatNDJSON},
		{"application/json", "data: x", FormatJSON},
		{"application/problem+json", "", FormatJSON},
		{"text/plain; charset=utf-8", "", FormatText},
		{"", "", FormatUnknown},
		{"application/octet-stream", "data: {}", FormatSSE},
		{"", "event: x", FormatSSE},
		{"", "id: 1", FormatSSE},
		{"", "retry: 1", FormatSSE},
		{"", ": comment", FormatSSE},
		{"", "\xEF\xBB\xBF\n\ndata: x", FormatSSE},
		{"", "da", FormatUnknown},
		{"", "dat!", FormatText},
		{"", "Hello", FormatText},
		{"", `{"a":1}`, FormatJSON},
		{"", "{\"a\":1}\n{\"a\":2}", FormatNDJSON},
		{"", "{\"a\":1}\n\n  {", FormatNDJSON},
		{"", "{\n  \"a\": {\n", FormatJSON},
		{"", "[1,2]", FormatText},
	}
	for _, tt := range tests {
		if got := DetectFormat(tt.ct, []byte(tt.first)); got != tt.want {
			t.Errorf("DetectFormat(%q, %q) = %v, want %v", tt.ct, tt.first, got, tt.want)
		}
	}
}

func TestStrings(t *testing.T) {
	got := []string{}
	for f := FormatUnknown; f <= FormatText+1; f++ {
		got = append(got, f.String())
	}
	for d := DialectUnknown; d <= DialectOllama+1; d++ {
		got = append(got, d.String())
	}
	want := []string{"unknown", "sse", "ndjson", "json", "text", "unknown",
		"unknown", "openai_chat", "openai_responses", "anthropic", "ollama", "unknown"}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}

func TestJSONBecomesNDJSON(t *testing.T) {
	// A JSON-labelled body whose second line starts with '{' is NDJSON.
	body := readTestdata(t, "ollama_chat.ndjson")
	got := run(t, "application/json", DialectUnknown, Config{}, whole(body))
	if got.Format != FormatNDJSON || len(got.Events) != 4 {
		t.Errorf("format %v, %d events; want ndjson, 4", got.Format, len(got.Events))
	}
	// An Ollama first line with "done":false is decided at once, before
	// any second line arrives (so the first token is timed correctly).
	n := 0
	o := NewObserver("", DialectUnknown, func(*Event) { n++ }, Config{})
	o.Write(body[:bytes.IndexByte(body, '\n')+1])
	if n != 1 || o.Format() != FormatNDJSON {
		t.Errorf("after first line: %d events, format %v; want 1, ndjson", n, o.Format())
	}
}

func TestHintWins(t *testing.T) {
	got := run(t, "text/event-stream", DialectAnthropic, Config{}, whole(readTestdata(t, "openai_chat.sse")))
	if got.Dialect != DialectAnthropic {
		t.Errorf("dialect %v, want anthropic", got.Dialect)
	}
	for _, ev := range got.Events {
		if ev.Output {
			t.Errorf("OpenAI chunk decoded as Anthropic output: %+v", ev)
		}
	}
}

func TestOverflow(t *testing.T) {
	big := strings.Repeat("x", 10000)
	tests := []struct {
		name       string
		ct         string
		body       string
		cfg        Config
		events     []string
		usage      Usage
		overflowed int
	}{
		{
			name: "huge chat delta classified from prefix",
			ct:   "text/event-stream",
			body: `data: {"object":"chat.completion.chunk","choices":[{"delta":{"content":"` + big + `"}}]}` + "\n\n" +
				`data: {"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}` + "\n\ndata: [DONE]\n\n",
			cfg:        Config{MaxEventBytes: 200},
			events:     []string{"O", "U:3,4", "D"},
			usage:      us(3, 4),
			overflowed: 1,
		},
		{
			name: "ollama final line with a long context: usage from the tail",
			ct:   "application/x-ndjson",
			body: `{"model":"m","response":"a","done":false}` + "\n" +
				`{"model":"m","response":"","done":true,"done_reason":"stop","context":[` + strings.Repeat("128006,", 3000) +
				`1],"total_duration":1,"prompt_eval_count":26,"prompt_eval_duration":2,"eval_count":259,"eval_duration":3}` + "\n",
			cfg:        Config{MaxEventBytes: 512},
			events:     []string{"O", "D F:stop U:26,259"},
			usage:      us(26, 259),
			overflowed: 1,
		},
		{
			name: "responses completed with a long output: usage from the tail",
			ct:   "text/event-stream",
			body: "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n" +
				"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"" +
				big + "\"}]}],\"tools\":[],\"usage\":{\"input_tokens\":37,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":75,\"total_tokens\":112},\"user\":null,\"metadata\":{}}}\n\n",
			cfg:        Config{MaxEventBytes: 1000},
			events:     []string{"O", "D F:completed U:37,75,0"},
			usage:      us(37, 75, 0),
			overflowed: 1,
		},
		{
			name:       "usage inside a string in the tail is not taken",
			ct:         "application/x-ndjson",
			body:       `{"model":"m","done":false,"response":"` + big + `\"prompt_eval_count\":5,\"eval_count\":6"}` + "\n",
			cfg:        Config{MaxEventBytes: 512},
			events:     []string{"O"},
			usage:      noUsage(),
			overflowed: 1,
		},
		{
			name:       "json body over the cap: no usage",
			ct:         "application/json",
			body:       `{"object":"chat.completion","model":"gpt","choices":[{"message":{"content":"` + big + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
			cfg:        Config{MaxJSONBytes: 1000},
			events:     []string{"O D"},
			usage:      noUsage(),
			overflowed: 1,
		},
		{
			name:       "oversized comment and unknown field are skipped without buffering",
			ct:         "text/event-stream",
			body:       ":" + big + "\nfoo: " + big + "\nevent: " + big + "\ndata: [DONE]\n\n",
			cfg:        Config{MaxEventBytes: 100},
			events:     []string{"D"},
			usage:      noUsage(),
			overflowed: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, pieces := range [][][]byte{whole([]byte(tt.body)), randomSplit([]byte(tt.body), rand.New(rand.NewPCG(3, 4)))} {
				got := run(t, tt.ct, DialectUnknown, tt.cfg, pieces)
				if d := cmp.Diff(evs(t, tt.events...), got.Events); d != "" {
					t.Errorf("events (-want +got):\n%s", d)
				}
				if got.Usage != tt.usage || got.Overflowed != tt.overflowed {
					t.Errorf("usage %+v overflowed %d; want %+v %d", got.Usage, got.Overflowed, tt.usage, tt.overflowed)
				}
			}
		})
	}
}

// TestHugeLineBounded writes an 8 MiB line in 32 KiB pieces and checks that
// the observer's buffers stay within the caps.
func TestHugeLineBounded(t *testing.T) {
	for _, ct := range []string{"text/event-stream", "application/x-ndjson", "application/json", ""} {
		t.Run(ct, func(t *testing.T) {
			cfg := Config{MaxEventBytes: 64 << 10, MaxJSONBytes: 128 << 10}
			o := NewObserver(ct, DialectUnknown, nil, cfg)
			prefix := []byte(`data: {"choices":[{"delta":{"content":"`)
			if ct != "text/event-stream" {
				prefix = prefix[6:]
			}
			o.Write(prefix)
			chunk := bytes.Repeat([]byte("a"), 32<<10)
			for range (8 << 20) / len(chunk) {
				o.Write(chunk)
				assertBounded(t, o, cfg)
			}
			o.Close()
			if o.Overflowed() != 1 {
				t.Errorf("Overflowed = %d, want 1", o.Overflowed())
			}
		})
	}
}

func assertBounded(t testing.TB, o *Observer, cfg Config) {
	t.Helper()
	maxE, maxJ := cfg.MaxEventBytes, cfg.MaxJSONBytes
	if maxE <= 0 {
		maxE = defaultMaxEventBytes
	}
	if maxJ <= 0 {
		maxJ = defaultMaxJSONBytes
	}
	if cap(o.data) > max(maxE, 512) || cap(o.jbuf) > max(maxJ, 512) || cap(o.tail) > tailSize || cap(o.tailLin) > tailSize {
		t.Fatalf("buffers beyond caps: data %d/%d jbuf %d/%d tail %d tailLin %d",
			cap(o.data), maxE, cap(o.jbuf), maxJ, cap(o.tail), cap(o.tailLin))
	}
	if o.refSet {
		t.Fatalf("observer still references the caller's slice after Write")
	}
}

// TestNotRetained overwrites each slice after Write: events spanning Writes
// must have been copied.
func TestNotRetained(t *testing.T) {
	for _, g := range goldens() {
		body := readTestdata(t, g.file)
		ref := run(t, g.ct, DialectUnknown, Config{}, whole(body))
		var r result
		o := NewObserver(g.ct, DialectUnknown, func(ev *Event) { r.Events = append(r.Events, *ev) }, Config{})
		buf := make([]byte, 7)
		for p := body; len(p) > 0; {
			n := copy(buf, p)
			o.Write(buf[:n])
			for i := range buf {
				buf[i] = '#'
			}
			p = p[n:]
		}
		o.Close()
		r.Usage, r.HasUsage = o.Usage()
		r.Model, r.Format, r.Dialect, r.Overflowed = o.Model(), o.Format(), o.Dialect(), o.Overflowed()
		if d := cmp.Diff(ref, r); d != "" {
			t.Errorf("%s: (-want +got):\n%s", g.file, d)
		}
	}
}

func TestReset(t *testing.T) {
	var n int
	o := NewObserver("text/event-stream", DialectUnknown, func(*Event) { n++ }, Config{})
	o.Write(readTestdata(t, "anthropic.sse"))
	o.Write([]byte("data: partial"))
	o.Reset("application/x-ndjson", DialectUnknown, nil)
	if o.Format() != FormatNDJSON || o.Dialect() != DialectUnknown || o.Model() != "" || o.Overflowed() != 0 {
		t.Fatalf("Reset left state: %v %v %q %d", o.Format(), o.Dialect(), o.Model(), o.Overflowed())
	}
	if u, ok := o.Usage(); ok || u != (noUsage()) {
		t.Fatalf("Reset left usage %+v %v", u, ok)
	}
	o.Write(readTestdata(t, "ollama_chat.ndjson"))
	o.Close()
	if u, _ := o.Usage(); u != (us(26, 282)) || o.Dialect() != DialectOllama {
		t.Errorf("after Reset: usage %+v dialect %v", u, o.Dialect())
	}
}

func TestScanner(t *testing.T) {
	tests := []struct {
		in   string
		want []string // key=value
	}{
		{`{"a":1,"b":"x\"y","c":{"d":[1,{"e":"}"}]},"f":null}`, []string{`a=1`, `b="x\"y"`, `c={"d":[1,{"e":"}"}]}`, `f=null`}},
		{` { "a" : true , "b":"\\" } `, []string{`a=true`, `b="\\"`}},
		{`{"a":"trunc`, []string{`a="trunc`}},
		{`{"a":12`, []string{`a=12`}},
		{`{"a":}`, nil},
		{`[1]`, nil},
		{`{"a":1 "b":2}`, []string{`a=1`, `b=2`}},
	}
	for _, tt := range tests {
		var got []string
		it := object([]byte(tt.in))
		for {
			k, v, _, ok := it.next()
			if !ok {
				break
			}
			got = append(got, string(k)+"="+string(v))
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%s: %s", tt.in, d)
		}
	}
	for _, tt := range []struct {
		v        string
		complete bool
		n        int64
		ok       bool
	}{
		{"12", true, 12, true}, {"12", false, 0, false}, {"1.5", true, 1, true}, {"-1", true, 0, false},
		{"1234567890123456789", true, 0, false}, {"x", true, 0, false}, {"", true, 0, false},
	} {
		if n, ok := num([]byte(tt.v), tt.complete); n != tt.n || ok != tt.ok {
			t.Errorf("num(%q, %v) = %d, %v", tt.v, tt.complete, n, ok)
		}
	}
	for _, tt := range []struct {
		s   string
		key string
		at  int
	}{
		{`x,"usage":{}`, "usage", 10}, {`x "usage":{}`, "usage", -1}, {`{ "usage" :1`, "usage", 11},
		{`\"usage\":1`, "usage", -1}, {`,"usage"`, "usage", -1},
	} {
		if got := lastKey([]byte(tt.s), tt.key); got != tt.at {
			t.Errorf("lastKey(%q) = %d, want %d", tt.s, got, tt.at)
		}
	}
}

func TestZeroObserver(t *testing.T) {
	var o Observer
	o.Write(readTestdata(t, "openai_chat.sse"))
	o.Close()
	if u, ok := o.Usage(); !ok || u != (us(19, 10, 0, -1, 0)) || o.Format() != FormatSSE || o.Dialect() != DialectOpenAIChat {
		t.Errorf("zero Observer: usage %+v %v format %v dialect %v", u, ok, o.Format(), o.Dialect())
	}
	var z Observer
	if u, ok := z.Usage(); ok || u != (noUsage()) {
		t.Errorf("zero Observer usage %+v %v", u, ok)
	}
	z.Close()
}

func TestDialectFromPath(t *testing.T) {
	tests := []struct {
		path string
		want Dialect
	}{
		{"/v1/chat/completions", DialectOpenAIChat},
		{"/openai/deployments/gpt4/chat/completions?api-version=2024-10-21", DialectOpenAIChat},
		{"/v1/completions", DialectOpenAIChat},
		{"/v1/responses", DialectOpenAIResponses},
		{"/v1/messages", DialectAnthropic},
		{"/v1/messages/", DialectAnthropic},
		{"/api/chat", DialectOllama},
		{"/api/generate", DialectOllama},
		{"/v1/embeddings", DialectUnknown},
		{"", DialectUnknown},
	}
	for _, tt := range tests {
		if got := DialectFromPath(tt.path); got != tt.want {
			t.Errorf("DialectFromPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestTextEventAfterReset checks that every plain-text chunk is delivered as
// output without usage, also by an Observer whose previous body left a
// decoded chunk with usage behind.
func TestTextEventAfterReset(t *testing.T) {
	var got []Event
	sink := func(ev *Event) { got = append(got, *ev) }
	obs := NewObserver("text/event-stream", DialectOpenAIChat, sink, Config{})
	obs.Write([]byte(`data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}` + "\n\n"))
	obs.Close()
	if len(got) != 1 || got[0].Usage.Output != 5 {
		t.Fatalf("usage chunk: got %+v", got)
	}
	for _, ct := range []string{"text/plain", ""} {
		got = got[:0]
		obs.Reset(ct, DialectUnknown, sink)
		obs.Write([]byte("Hello"))
		obs.Write([]byte(" world"))
		obs.Close()
		want := []Event{textEvent(), textEvent()}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("content type %q: (-want +got):\n%s", ct, d)
		}
	}
}
