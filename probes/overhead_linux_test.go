//go:build linux

package probes

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/llmslo/slo/internal/testutil"
)

// BenchmarkStreamingOverhead measures a loopback streaming HTTP load (each
// request streams 32 flushed SSE chunks) with every probe off and
// on, in the same process. Run it with -count N: off and on alternate, and
// `go run ./benchstat` or `benchstat` compares the two.
func BenchmarkStreamingOverhead(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	chunk := []byte("data: {\"choices\":[{\"delta\":{\"content\":\"token\"}}]}\n\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := 0; i < 32; i++ {
			_, _ = w.Write(chunk)
			f.Flush()
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := fmt.Sprintf("http://%s/", ln.Addr())
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	run := func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		start, cpu0 := time.Now(), processCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		// Process CPU per request (client + server + the BPF programs they
		// trigger): less sensitive to a shared machine than req/s.
		b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/req")
	}
	b.Run("probes=off", run)
	for _, v := range []struct {
		name    string
		signals []Signal
	}{
		{"probes=default", nil},
		{"probes=all", AllSignals()},
	} {
		b.Run(v.name, func(b *testing.B) {
			testutil.RequireBPF(b, ebpf.RawTracepoint, ebpf.CGroupSKB)
			set, err := Start(b.Context(), Config{Signals: v.signals})
			if err != nil {
				b.Fatal(err)
			}
			defer set.Close()
			events, cancel := set.Subscribe(1 << 12)
			defer cancel()
			go func() {
				for range events {
				}
			}()
			b.ResetTimer()
			run(b)
			b.StopTimer()
			b.ReportMetric(float64(set.Stats().ReaderBusy.Nanoseconds())/float64(b.N), "reader-ns/req")
		})
	}
}
