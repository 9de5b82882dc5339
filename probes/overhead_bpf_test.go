//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/internal/testutil"
)

var eachSignal = flag.Bool("probes.each", false,
	"BenchmarkStreamingOverhead: also run one variant per kernel signal")

var progStats = flag.Bool("probes.progstats", false,
	"BenchmarkStreamingOverhead: turn on BPF_ENABLE_STATS and report each program's runs/req and ns/run (the accounting itself costs ~2 clock reads per run)")

// progCounters snapshots run count and run time of every attached program.
func progCounters(set *Set) map[string][2]uint64 {
	out := map[string][2]uint64{}
	k, ok := set.kern.(*bpfKernel)
	if !ok || k == nil {
		return out
	}
	for _, atts := range k.atts {
		for _, a := range atts {
			if a.prog == nil || a.link == nil {
				continue
			}
			if st, err := a.prog.Stats(); err == nil {
				out[a.name] = [2]uint64{st.RunCount, uint64(st.Runtime)}
			}
		}
	}
	return out
}

// addProgDeltas adds after - before of each program's counters to acc.
func addProgDeltas(acc, before, after map[string][2]uint64) {
	for name, c := range after {
		a := acc[name]
		acc[name] = [2]uint64{a[0] + c[0] - before[name][0], a[1] + c[1] - before[name][1]}
	}
}

// reportProgStats reports each program's runs and run time per request
// (n requests) and per run, from its counters (runs, ns).
func reportProgStats(b *testing.B, progs map[string][2]uint64, n int64) {
	for name, c := range progs {
		if c[0] == 0 {
			continue
		}
		b.ReportMetric(float64(c[0])/float64(n), name+"-runs/req")
		b.ReportMetric(float64(c[1])/float64(c[0]), name+"-ns/run")
		b.ReportMetric(float64(c[1])/float64(n), name+"-ns/req")
	}
}

// BenchmarkStreamingOverhead is the worst case of the probes' overhead: a
// loopback streaming HTTP load (each request streams 32 unpaced, flushed SSE
// chunks) whose client and server both live in this process, so every
// packet, wakeup and context switch of the load is the target's own, with
// the probes off and with every signal (the default). It reports process
// CPU per request. go test repeats a leaf benchmark consecutively under
// -count, so for side-by-side samples repeat the binary instead (each
// invocation runs off, then all):
//
//	go test -c -o /tmp/probes.test ./probes
//	for i in $(seq 8); do /tmp/probes.test -test.run '^$' -test.bench StreamingOverhead -test.benchtime 1s; done > worst.out
//	go run ./internal/cmd/benchreport -key probes -base off worst.out
//
// -probes.progstats adds each BPF program's runs and run time per request;
// -probes.each adds one variant per kernel signal.
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
	type variant struct {
		name    string
		signals []Signal
	}
	variants := []variant{{"probes=all", AllSignals()}}
	if *eachSignal {
		for _, sig := range AllSignals() {
			if sig.kernel() {
				variants = append(variants, variant{"probes=" + sig.String(), []Signal{sig}})
			}
		}
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			testutil.RequireBPF(b, ebpf.RawTracepoint, ebpf.CGroupSKB)
			if *progStats {
				c, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
			}
			set, err := Start(b.Context(), Config{Signals: v.signals})
			if err != nil {
				b.Fatal(err)
			}
			defer set.Close()
			defer discardEvents(set)()
			before := progCounters(set)
			b.ResetTimer()
			run(b)
			b.StopTimer()
			if *progStats {
				progs := map[string][2]uint64{}
				addProgDeltas(progs, before, progCounters(set))
				reportProgStats(b, progs, int64(b.N))
			}
			b.ReportMetric(float64(set.Stats().ReaderBusy.Nanoseconds())/float64(b.N), "reader-ns/req")
		})
	}
}
