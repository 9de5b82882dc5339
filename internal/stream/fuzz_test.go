package stream

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzObserver checks, for arbitrary bodies: no panic, the caller's bytes
// unchanged, buffers within the caps after every Write, and the same result
// however the body is cut into Writes (except plain text, where each Write
// is a chunk by definition). The seed corpus is in testdata/fuzz/<name>/.
func fuzzObserver(f *testing.F, ct string) {
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		hint := Dialect(seed % 5)
		for _, cfg := range []Config{{MaxEventBytes: 48, MaxJSONBytes: 200}, {}} {
			ref := run(t, ct, hint, cfg, whole(data))
			pieces := randomSplit(data, rand.New(rand.NewPCG(seed, 7)))
			got := run(t, ct, hint, cfg, pieces)
			if ref.Format == FormatText {
				if len(got.Events) > len(pieces) || len(ref.Events) > 1 {
					t.Fatalf("text: %d events for %d pieces, %d for one", len(got.Events), len(pieces), len(ref.Events))
				}
				for _, ev := range got.Events {
					if ev != textEvent() {
						t.Fatalf("text event %+v", ev)
					}
				}
				got.Events, ref.Events = nil, nil
			}
			if d := cmp.Diff(ref, got); d != "" {
				t.Fatalf("split changed the result (-one write +split):\n%s", d)
			}
			if ref.Format == FormatSSE && !bytes.Contains(data, []byte("data")) && len(ref.Events) > 0 {
				t.Fatalf("SSE events without any data field: %+v", ref.Events)
			}
			if len(trimWS(data)) == 0 && len(ref.Events) > 0 {
				t.Fatalf("events from a blank body: %+v", ref.Events)
			}
			if ref.HasUsage && !bytes.Contains(data, []byte("_")) {
				t.Fatalf("usage %+v invented from a body without any usage key", ref.Usage)
			}
		}
	})
}

func FuzzObserverSSE(f *testing.F)    { fuzzObserver(f, "text/event-stream") }
func FuzzObserverNDJSON(f *testing.F) { fuzzObserver(f, "application/x-ndjson") }
func FuzzObserverJSON(f *testing.F)   { fuzzObserver(f, "application/json") }
func FuzzObserverSniff(f *testing.F)  { fuzzObserver(f, "") }
func FuzzObserverText(f *testing.F)   { fuzzObserver(f, "text/plain") }
