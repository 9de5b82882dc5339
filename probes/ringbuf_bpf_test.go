//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/llmslo/slo/internal/bpf"
	"github.com/llmslo/slo/internal/testutil"
)

// BenchmarkRingbufReadDecode reads records a BPF program wrote into a real
// ring buffer (ringbuf.Reader.ReadInto) and decodes them: the reader's hot
// path. Filling the buffer (BPF_PROG_TEST_RUN) is not timed.
func BenchmarkRingbufReadDecode(b *testing.B) {
	testutil.RequireBPF(b, ebpf.RawTracepoint)
	const batch = 4096
	spec, err := bpf.LoadBench()
	if err != nil {
		b.Fatal(err)
	}
	if err := spec.Variables["bench_n"].Set(uint32(batch)); err != nil {
		b.Fatal(err)
	}
	var objs bpf.BenchObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		b.Fatal(err)
	}
	defer objs.Close()
	rd, err := ringbuf.NewReader(objs.Events)
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	d := newDecoder(0)
	var rec ringbuf.Record
	var ev Event
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		if _, err := objs.SloBenchFill.Run(&ebpf.RunOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n := min(batch, b.N-done)
		for i := 0; i < n; i++ {
			if err := rd.ReadInto(&rec); err != nil {
				b.Fatal(err)
			}
			if err := d.decode(rec.RawSample, &ev); err != nil {
				b.Fatal(err)
			}
		}
		done += n
		if n < batch {
			// Drain what this round left behind.
			b.StopTimer()
			for range batch - n {
				if err := rd.ReadInto(&rec); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
