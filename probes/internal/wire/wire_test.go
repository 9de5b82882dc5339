package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFrameBytes(t *testing.T) {
	// Hand-computed: length 13 (type + 12), type 1, "SLOS", version 1, flags 0, signals 0x12.
	got := AppendFrame(nil, TypeHello, AppendHello(nil, Hello{Version: 1, Signals: 0x12}))
	want := []byte{13, 0, 0, 0, 1, 'S', 'L', 'O', 'S', 1, 0, 0, 0, 0x12, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Fatalf("hello frame\n got %v\nwant %v", got, want)
	}
	hb := AppendFrame(nil, TypeHeartbeat, AppendHeartbeat(nil, Heartbeat{Mono: 0x0102, Dropped: 3}))
	wantHB := []byte{17, 0, 0, 0, 4, 2, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(hb, wantHB) {
		t.Fatalf("heartbeat frame\n got %v\nwant %v", hb, wantHB)
	}
}

func TestRoundTrip(t *testing.T) {
	w := Welcome{Version: 1, HeartbeatMillis: 250, CgroupID: 1 << 40, PID: 77, Statuses: []SignalStatus{
		{Signal: 2, State: 2}, {Signal: 4, State: 0, Reason: "no cgroup_skb"},
	}}
	bye := Bye{Reason: ByeTimeout, Text: "no heartbeat for 5s"}
	var stream []byte
	stream = AppendFrame(stream, TypeHello, AppendHello(nil, Hello{Version: Version, Signals: 0xfe}))
	stream = AppendFrame(stream, TypeWelcome, AppendWelcome(nil, w))
	stream = AppendFrame(stream, TypeEvent, make([]byte, 128))
	stream = AppendFrame(stream, TypeBye, AppendBye(nil, bye))
	r := NewReader(bytes.NewReader(stream), 0)

	f, err := r.Next()
	if err != nil || f.Type != TypeHello {
		t.Fatalf("frame 1: %v %v", f.Type, err)
	}
	h, err := DecodeHello(f.Payload)
	if err != nil || h != (Hello{Version: 1, Signals: 0xfe}) {
		t.Fatalf("hello %+v %v", h, err)
	}
	f, _ = r.Next()
	gw, err := DecodeWelcome(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(w, gw); d != "" {
		t.Errorf("welcome (-want +got):\n%s", d)
	}
	f, _ = r.Next()
	if f.Type != TypeEvent || len(f.Payload) != 128 {
		t.Errorf("event frame %v %d", f.Type, len(f.Payload))
	}
	f, _ = r.Next()
	gb, err := DecodeBye(f.Payload)
	if err != nil || gb != bye {
		t.Errorf("bye %+v %v", gb, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("end: %v, want EOF", err)
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty frame", []byte{0, 0, 0, 0}, ErrMalformed},
		{"too large", []byte{0x01, 0x00, 0x01, 0x00}, ErrFrameTooLarge}, // 65537 > 65536
		{"huge", []byte{0xff, 0xff, 0xff, 0xff}, ErrFrameTooLarge},
		{"truncated header", []byte{5, 0}, io.ErrUnexpectedEOF},
		{"truncated payload", []byte{5, 0, 0, 0, 3, 1}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.in), 0).Next()
			if !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := DecodeHello([]byte("SLOX\x01\x00\x00\x00\x00\x00\x00\x00")); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad magic: %v", err)
	}
	if _, err := DecodeWelcome(append(AppendWelcome(nil, Welcome{}), 0)); !errors.Is(err, ErrMalformed) {
		t.Errorf("welcome trailer: %v", err)
	}
}

// FuzzReader feeds arbitrary bytes to the frame reader and every payload
// decoder: no panic, bounded allocation, and re-encoding a decoded message
// reproduces its payload.
func FuzzReader(f *testing.F) {
	f.Add(AppendFrame(nil, TypeHello, AppendHello(nil, Hello{Version: 1, Signals: 6})))
	f.Add(AppendFrame(nil, TypeWelcome, AppendWelcome(nil, Welcome{Version: 1, Statuses: []SignalStatus{{1, 2, "x"}}})))
	f.Add(AppendFrame(nil, TypeBye, AppendBye(nil, Bye{Reason: 3, Text: "no"})))
	f.Add(AppendFrame(nil, TypeHeartbeat, AppendHeartbeat(nil, Heartbeat{1, 2})))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), 4096)
		for range 64 {
			fr, err := r.Next()
			if err != nil {
				return
			}
			if len(fr.Payload) >= 4096 {
				t.Fatalf("payload %d beyond limit", len(fr.Payload))
			}
			switch fr.Type {
			case TypeHello:
				if h, err := DecodeHello(fr.Payload); err == nil {
					// Flags are ignored on decode.
					re := AppendHello(nil, h)
					if !bytes.Equal(re[:6], fr.Payload[:6]) || !bytes.Equal(re[8:], fr.Payload[8:]) {
						t.Fatalf("hello re-encode %v != %v", re, fr.Payload)
					}
				}
			case TypeWelcome:
				if w, err := DecodeWelcome(fr.Payload); err == nil {
					if re := AppendWelcome(nil, w); !bytes.Equal(re, fr.Payload) {
						t.Fatalf("welcome re-encode %v != %v", re, fr.Payload)
					}
				}
			case TypeStatus:
				_, _, _ = DecodeStatuses(fr.Payload)
			case TypeHeartbeat:
				if h, err := DecodeHeartbeat(fr.Payload); err == nil {
					if re := AppendHeartbeat(nil, h); !bytes.Equal(re, fr.Payload) {
						t.Fatal("heartbeat re-encode")
					}
				}
			case TypeBye:
				if b, err := DecodeBye(fr.Payload); err == nil {
					if re := AppendBye(nil, b); !bytes.Equal(re, fr.Payload) {
						t.Fatal("bye re-encode")
					}
				}
			}
		}
	})
}
