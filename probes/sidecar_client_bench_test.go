//go:build linux

package probes_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/sidecar"
)

func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// floorSet starts a Set with only go_sched_latency really on and sig
// enabled for injected records.
func floorSet(b *testing.B, cfg probes.Config, sig probes.Signal) *probes.Set {
	b.Helper()
	cfg.Signals = []probes.Signal{sig, probes.GoSchedLatency}
	cfg.KernelPath = probes.PathFloor
	cfg.SidecarSocket = "off"
	s, err := probes.Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	probes.EnableForTest(s, sig)
	return s
}

// BenchmarkDelivery measures kernel-event delivery to a subscriber, per
// event: impl=inprocess decodes a ring-buffer record and emits it in the
// subscriber's process (the ring-buffer reader's work); impl=sidecar does
// the same in a host-wide Set, then routes the event through the sidecar
// server, its Unix socket and the client Set. Both sides run in this
// process, so cpu-ns/event is the total cost of a path.
func BenchmarkDelivery(b *testing.B) {
	// The sidecar delivers an event to the clients of the cgroup the kernel
	// stamped on it: this process's.
	cg, err := sidecar.CgroupID("", os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	ev := probes.Event{Signal: probes.TCPRetransmit, Mono: 1, PID: uint32(os.Getpid()), Count: 1, Cookie: 42, CgroupID: cg}
	raw := probes.AppendRecord(nil, &ev)
	for _, impl := range []string{"inprocess", "sidecar"} {
		b.Run("impl="+impl, func(b *testing.B) {
			var source, client *probes.Set
			switch impl {
			case "inprocess":
				source = floorSet(b, probes.Config{}, probes.TCPRetransmit)
				client = source
			case "sidecar":
				source = floorSet(b, probes.Config{AllProcesses: true}, probes.TCPRetransmit)
				socket := filepath.Join(b.TempDir(), "s.sock")
				srv, err := sidecar.NewServer(source, sidecar.Config{Socket: socket})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- srv.Serve(ctx) }()
				defer func() { cancel(); <-done }()
				for srv.Health() != nil {
					time.Sleep(time.Millisecond)
				}
				client, err = probes.Start(context.Background(), probes.Config{
					Signals: []probes.Signal{probes.TCPRetransmit}, KernelPath: probes.PathSidecar, SidecarSocket: socket,
				})
				if err != nil {
					b.Fatal(err)
				}
				if client.Path() != probes.PathSidecar {
					b.Fatalf("client path %v", client.Path())
				}
				defer client.Close()
			}
			defer source.Close()
			events, unsub := client.Subscribe(4096)
			defer unsub()
			const batch = 256
			progress := make(chan int, b.N/batch+2)
			consumed := make(chan struct{})
			go func() {
				defer close(consumed)
				n := 0
				for range events {
					n++
					if n%batch == 0 || n == b.N {
						progress <- n
					}
					if n == b.N {
						return
					}
				}
			}()
			inj := probes.NewInjectorForTest(source)
			b.ReportAllocs()
			c0 := cpuTime()
			b.ResetTimer()
			t0 := time.Now()
			got := 0
			for sent := 0; sent < b.N; {
				for range min(batch, b.N-sent) {
					if err := inj.Inject(raw); err != nil {
						b.Fatal(err)
					}
					sent++
				}
				// At most two batches in flight: no queue overflows.
				for got < sent-2*batch {
					got = <-progress
				}
			}
			select {
			case <-consumed:
			case <-time.After(30 * time.Second):
				b.Fatalf("received %d of %d events", got, b.N)
			}
			el := time.Since(t0)
			b.StopTimer()
			cpu := cpuTime() - c0
			b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
		})
	}
}
