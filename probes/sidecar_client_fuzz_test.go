//go:build linux

package probes

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/llmslo/slo/probes/internal/wire"
)

// FuzzServerBytes plays a sidecar that welcomes the client and then sends
// arbitrary bytes: the client decodes what it can, never panics, and its
// Set closes promptly whatever the stream held.
func FuzzServerBytes(f *testing.F) {
	ev := Event{Signal: DNSLatency, Mono: 5, Duration: time.Millisecond, DNS: DNSInfo{Name: "a.test", QType: 1}}
	f.Add(wire.AppendFrame(nil, wire.TypeEvent, AppendRecord(nil, &ev)))
	f.Add(wire.AppendFrame(nil, wire.TypeHeartbeat, wire.AppendHeartbeat(nil, wire.Heartbeat{Mono: 1, Dropped: 3})))
	f.Add(wire.AppendFrame(nil, wire.TypeStatus, wire.AppendStatuses(nil, []wire.SignalStatus{{Signal: uint8(DNSLatency), State: 2, Reason: "x"}})))
	f.Add(wire.AppendFrame(nil, wire.TypeBye, wire.AppendBye(nil, wire.Bye{Reason: wire.ByeShutdown, Text: "bye"})))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 1})
	socket := filepath.Join(f.TempDir(), "fuzz.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ln.Close() })
	welcome := wire.AppendFrame(nil, wire.TypeWelcome, wire.AppendWelcome(nil, wire.Welcome{
		Version: wire.Version, HeartbeatMillis: 250, CgroupID: 1, PID: 1,
		Statuses: []wire.SignalStatus{{Signal: uint8(DNSLatency), State: uint8(On)}},
	}))
	f.Fuzz(func(t *testing.T, in []byte) {
		served := make(chan struct{})
		go func() {
			defer close(served)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := wire.NewReader(c, 0).Next(); err != nil {
				return
			}
			_, _ = c.Write(append(welcome, in...))
		}()
		set, err := Start(context.Background(), Config{Signals: []Signal{DNSLatency}, KernelPath: PathSidecar, SidecarSocket: socket})
		if err != nil {
			t.Fatal(err)
		}
		events, unsub := set.Subscribe(64)
		<-served
		done := make(chan struct{})
		go func() { set.Close(); close(done) }()
		for n := 0; ; n++ {
			select {
			case _, ok := <-events:
				if !ok {
					events = nil
				}
				continue
			case <-done:
			case <-time.After(2 * time.Second):
				t.Fatalf("Set.Close did not return within 2s after %d events", n)
			}
			break
		}
		unsub()
	})
}
