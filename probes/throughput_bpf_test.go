//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/internal/testutil"
)

var (
	tputWindow = flag.Duration("probes.window", 500*time.Millisecond,
		"BenchmarkStreamingThroughput: measurement window per variant and round")
	tputRounds = flag.Int("probes.rounds", 6,
		"BenchmarkStreamingThroughput: interleaved rounds (one window per variant each) per invocation")
	tputVariants = flag.String("probes.variants", "off,nop,all",
		"BenchmarkStreamingThroughput: comma-separated variants: off, null, nop, default, all or signal names joined by +")
	tputToggle = flag.Bool("probes.toggle", true,
		"BenchmarkStreamingThroughput: one Set with every signal, variants attach and detach its programs (off = loaded, all detached); false: Start and Close a Set per window (off = no Set)")
	tputConns = flag.Int("probes.conns", 8,
		"BenchmarkStreamingThroughput: concurrent streams of the load generator")
)

// sseChunks is the response of the throughput benchmark's server: an
// OpenAI-style completion stream of 64 chunks (one token each) plus the
// final usage chunk and [DONE], flushed one by one.
const sseChunks = 64

func sseChunk(i int) []byte {
	return fmt.Appendf(nil, "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" tok%02d\"},\"finish_reason\":null}]}\n\n", i%100)
}

// procCPU returns the CPU time of process pid, 0 if it cannot be read.
func procCPU(pid int) time.Duration {
	d, _ := testutil.PidCPU(pid)
	return d
}

// BenchmarkStreamingThroughput measures the throughput of an instrumented
// streaming HTTP server — this process, with the probes off, with empty
// programs on the busiest tracepoints (nop) and with every signal — under a
// saturating loopback load from a separate load-generator process (this
// test binary re-executed, helper mode "loadgen", -probes.conns streams of
// 64-chunk SSE responses).
//
// One invocation is -probes.rounds rounds; each round measures one window
// (-probes.window) per variant, in a fresh random order, and each variant's
// result sums its windows. By default one Set with every signal runs
// throughout and a variant attaches exactly its programs (off: every
// program loaded but detached, the pollers running), so the windows can be
// short and many; -probes.toggle=false starts and closes a Set per window
// instead (off: no Set). go test repeats a leaf benchmark consecutively
// under -count, which would not be side by side, so -test.count must be 1:
// repeat the binary for more samples.
//
//	go test -c -o /tmp/probes.test ./probes
//	for i in $(seq 30); do /tmp/probes.test -test.run '^$' -test.bench StreamingThroughput; done > tput.out
//	go run ./internal/cmd/benchreport -key probes -base off tput.out
//
// It reports req/s and chunks/s completed by the server, the server
// process's CPU per request, the CPU of both processes per request, the
// events the Set delivered per request and server-cpu-x-off: the server's
// CPU per request over that of this invocation's off windows (paired, so
// the machine's drift between invocations cancels; read this one). ns/op is
// suppressed: it is the window, not a per-request time. -probes.variants
// picks other variants: off, null (off again: the method's own bias), nop,
// default, all, or signal names joined by + (e.g. off,runqueue_delay,dns_latency);
// -probes.progstats adds per-program runs and run time per request.
func BenchmarkStreamingThroughput(b *testing.B) {
	if f := flag.Lookup("test.count"); f != nil && f.Value.String() != "1" {
		b.Fatal("BenchmarkStreamingThroughput interleaves its variants itself: run it with -test.count 1, repeated")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	chunks := make([][]byte, sseChunks)
	for i := range chunks {
		chunks[i] = sseChunk(i)
	}
	usage := []byte("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":24,\"completion_tokens\":64,\"total_tokens\":88}}\n\ndata: [DONE]\n\n")
	var served atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		f := w.(http.Flusher)
		for _, c := range chunks {
			if _, err := w.Write(c); err != nil {
				return
			}
			f.Flush()
		}
		_, _ = w.Write(usage)
		f.Flush()
		served.Add(1)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	type variant struct {
		name    string
		signals []Signal // nil: probes off
		n       int64
		el, cpu time.Duration
		genCPU  time.Duration
		err     error
		progs   map[string][2]uint64 // -probes.progstats: runs, ns per program
		events  uint64               // delivered by the Set (ring buffer and pollers)
	}
	var variants []*variant
	for _, spec := range strings.Split(*tputVariants, ",") {
		sigs, err := parseVariant(spec)
		if err != nil {
			b.Fatalf("-probes.variants: %v", err)
		}
		variants = append(variants, &variant{name: "probes=" + spec, signals: sigs})
	}
	bpfOK := features.HaveProgramType(ebpf.RawTracepoint) == nil && features.HaveProgramType(ebpf.CGroupSKB) == nil

	genEnv := []string{"SLO_PROBES_URL=http://" + ln.Addr().String() + "/v1/chat/completions",
		"SLO_PROBES_CONNS=" + strconv.Itoa(*tputConns)}
	gen := startHelper(b, "loadgen", genEnv...)
	genPid := gen.cmd.Process.Pid
	// Let the load generator connect and the rate settle.
	for start := time.Now(); served.Load() < 100 && time.Since(start) < 5*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)

	var shared *Set
	if *tputToggle && bpfOK {
		shared, err = Start(b.Context(), Config{Signals: AllSignals()})
		if err != nil {
			b.Fatal(err)
		}
		defer shared.Close()
		defer discardEvents(shared)()
	}
	var setNop func(on bool)
	for _, v := range variants {
		if v.name == "probes=nop" && bpfOK {
			setNop = nopPrograms(b)
		}
	}
	window := func(v *variant) {
		if shared == nil && v.signals != nil && !bpfOK {
			return
		}
		if *progStats && (shared != nil || v.signals != nil) {
			c, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
			if err != nil {
				v.err = err
				return
			}
			defer c.Close()
		}
		set := shared
		if set != nil {
			if v.err = attachOnly(set, v.signals); v.err != nil {
				return
			}
		} else if v.signals != nil {
			set, v.err = Start(b.Context(), Config{Signals: v.signals})
			if v.err != nil {
				return
			}
			cancel := discardEvents(set)
			defer func() { cancel(); _ = set.Close() }()
		}
		if setNop != nil {
			setNop(v.name == "probes=nop")
		}
		settle := 300 * time.Millisecond // the same for every variant
		if shared != nil {
			settle = 100 * time.Millisecond
		}
		time.Sleep(settle)
		var p0 map[string][2]uint64
		if set != nil && *progStats {
			p0 = progCounters(set)
		}
		ev0 := setEvents(set)
		n0, cpu0, gen0, t0 := served.Load(), processCPU(), procCPU(genPid), time.Now()
		time.Sleep(*tputWindow)
		v.events += setEvents(set) - ev0
		if p0 != nil {
			if v.progs == nil {
				v.progs = map[string][2]uint64{}
			}
			addProgDeltas(v.progs, p0, progCounters(set))
		}
		v.n += served.Load() - n0
		v.cpu += processCPU() - cpu0
		v.genCPU += procCPU(genPid) - gen0
		v.el += time.Since(t0)
	}
	order := make([]int, len(variants))
	for i := range order {
		order[i] = i
	}
	for range *tputRounds {
		// A fresh random order each round: no variant keeps a position
		// (first after the previous round's last, or after off).
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			window(variants[i])
		}
	}
	var off *variant
	for _, v := range variants {
		if v.name == "probes=off" && v.n > 0 {
			off = v
		}
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			if v.signals != nil && !bpfOK {
				testutil.RequireBPF(b, ebpf.RawTracepoint, ebpf.CGroupSKB)
			}
			if v.err != nil {
				b.Fatal(v.err)
			}
			if v.n == 0 {
				b.Fatal("no request completed in the windows")
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(v.n)/v.el.Seconds(), "req/s")
			b.ReportMetric(float64(v.n*sseChunks)/v.el.Seconds(), "chunks/s")
			b.ReportMetric(float64(v.cpu.Nanoseconds())/float64(v.n), "server-cpu-ns/req")
			b.ReportMetric(float64((v.cpu+v.genCPU).Nanoseconds())/float64(v.n), "total-cpu-ns/req")
			if off != nil {
				// Paired: this invocation's off windows, interleaved with
				// this variant's, so drifts of the machine between
				// invocations cancel out.
				perReq := func(v *variant) float64 { return float64(v.cpu.Nanoseconds()) / float64(v.n) }
				b.ReportMetric(perReq(v)/perReq(off), "server-cpu-x-off")
			}
			if v.signals != nil || shared != nil {
				b.ReportMetric(float64(v.events)/float64(v.n), "events/req")
			}
			reportProgStats(b, v.progs, v.n)
		})
	}
}

// setEvents returns the events a Set delivered so far (0 for nil).
func setEvents(set *Set) uint64 {
	if set == nil {
		return 0
	}
	var n uint64
	for _, st := range set.Stats().Signals {
		n += st.Events
	}
	return n
}
