package stream

import "testing"

// TestParseUsage reads the usage objects of each dialect, as the providers
// send them, into the five counts; the expected values are read off the
// objects by hand.
func TestParseUsage(t *testing.T) {
	tests := []struct {
		name string
		v    string
		want Usage
	}{
		{"openai chat, cached and reasoning",
			`{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":256,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`,
			us(2006, 300, 1920, -1, 256)},
		{"openai chat, details null",
			`{"prompt_tokens":5,"completion_tokens":7,"prompt_tokens_details":null,"completion_tokens_details":null}`,
			us(5, 7)},
		{"openai chat, no details",
			`{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}`,
			us(5, 7)},
		{"deepseek cache hit beside the details",
			`{"prompt_tokens":12,"completion_tokens":40,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":38},"prompt_cache_hit_tokens":8,"prompt_cache_miss_tokens":4}`,
			us(12, 40, 8, -1, 38)},
		{"openai responses",
			`{"input_tokens":1500,"input_tokens_details":{"cached_tokens":1024},"output_tokens":900,"output_tokens_details":{"reasoning_tokens":640},"total_tokens":2400}`,
			us(1500, 900, 1024, -1, 640)},
		{"anthropic message_start: input is the sum of the three",
			`{"input_tokens":472,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":2}`,
			us(472+100+2000, 2, 2000, 100)},
		{"anthropic with the cache_creation breakdown",
			`{"input_tokens":3,"cache_creation_input_tokens":50,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":50,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}`,
			us(53, 1, 0, 50)},
		{"anthropic message_delta: output only",
			`{"output_tokens":89}`,
			us(-1, 89)},
		{"anthropic cache counts without input: input stays unknown",
			`{"cache_read_input_tokens":10,"output_tokens":4}`,
			us(-1, 4, 10)},
		{"detail that is not a number",
			`{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":"8"},"completion_tokens_details":{"reasoning_tokens":-3}}`,
			us(1)},
		{"cut inside a details object: complete members count",
			`{"prompt_tokens":9,"prompt_tokens_details":{"cached_tokens":4,"audio_tok`,
			us(9, -1, 4)},
		{"cut inside the number: not trusted",
			`{"prompt_tokens":9,"prompt_tokens_details":{"cached_tokens":4`,
			us(9)},
		{"details as a number are ignored",
			`{"input_tokens_details":7,"output_tokens_details":[1]}`,
			us()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseUsage([]byte(tt.v)); got != tt.want {
				t.Errorf("parseUsage = %+v, want %+v", got, tt.want)
			}
			if got := refParseUsage([]byte(tt.v)); got != tt.want {
				t.Errorf("refParseUsage = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestUsageMerge checks that a stream's usage is merged field by field, the
// last report of each field winning: Anthropic reports its cache counts in
// message_start and its output in message_delta.
func TestUsageMerge(t *testing.T) {
	body := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"c\",\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":7,\"cache_read_input_tokens\":90,\"output_tokens\":1}}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\"}}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":41}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	o := NewObserver("text/event-stream", DialectUnknown, nil, Config{})
	o.Write([]byte(body))
	o.Close()
	u, ok := o.Usage()
	if want := us(100, 41, 90, 7); !ok || u != want {
		t.Errorf("Usage() = %+v, %v; want %+v, true", u, ok, want)
	}
	var zero Observer
	if u, ok := zero.Usage(); ok || u != noUsage() {
		t.Errorf("zero Observer Usage() = %+v, %v", u, ok)
	}
}

// FuzzParseUsage checks the usage decoder against the reference one and its
// invariants: no panic, every detail count unreported (-1) or a count.
func FuzzParseUsage(f *testing.F) {
	for _, s := range []string{
		`{"prompt_tokens":2006,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":256}}`,
		`{"input_tokens":1500,"input_tokens_details":{"cached_tokens":1024},"output_tokens":900,"output_tokens_details":{"reasoning_tokens":640}}`,
		`{"input_tokens":472,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":2}`,
		`{"prompt_cache_hit_tokens":8,"prompt_tokens_details":{"cached_tokens":`,
		`{"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := parseUsage(b)
		if want := refParseUsage(b); got != want {
			t.Fatalf("parseUsage = %+v, reference %+v", got, want)
		}
		for _, v := range []int64{got.CacheRead, got.CacheWrite, got.Reasoning} {
			if v < -1 {
				t.Fatalf("detail %d in %+v", v, got)
			}
		}
	})
}
