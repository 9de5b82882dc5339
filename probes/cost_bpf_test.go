//go:build linux && (386 || amd64 || arm64)

package probes

import (
	"flag"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/benchstat"
	"github.com/llmslo/slo/internal/testutil"
)

var (
	costRounds = flag.Int("probes.costrounds", 150,
		"BenchmarkProbeCost: interleaved rounds (one short window per variant each) per event kind")
	costVariants = flag.String("probes.costvariants", "off,default,all",
		"BenchmarkProbeCost: comma-separated variants: off, default, all or signal names joined by +")
	costKinds = flag.String("probes.costkinds", "switch,tcp,udp",
		"BenchmarkProbeCost: event kinds to measure")
)

// BenchmarkProbeCost measures what the attached programs add to each kind
// of kernel event they hook, in tight loops that vary far less than a
// streaming load does:
//
//   - switch: two threads of this process on one CPU hand a byte back and
//     forth over pipes (blocking reads): two context switches per op, both
//     of the target process and both inside read(2) — the run-queue and
//     syscall programs' most expensive path (a thread of another process
//     costs them one load and compare);
//   - tcp: a 100-byte write on a loopback TCP connection and its read on
//     the other end (the segment passes net_dev_queue and
//     netif_receive_skb, as a streamed chunk does);
//   - udp: the same with a connected loopback UDP socket pair (not a DNS
//     port, and no DNS traffic: the DNS packet programs stay detached).
//
// One Set with every signal runs throughout; the variants (-probes.costvariants:
// off, nothing attached; nop, empty programs on sched_switch, net_dev_queue
// and netif_receive_skb, what any program there costs; default; all; or
// signal names joined by +) attach their programs in turn, in a random order
// each round. Each reports its median window (ns/op), the median of its
// per-round ratios to the first variant (x-off) and the difference of the
// medians (ns-added/op). Multiply by the events per request
// (-probes.progstats of BenchmarkStreamingThroughput) to predict the cost
// per request.
//
//	go test -run '^$' -bench ProbeCost -count 1 ./probes
func BenchmarkProbeCost(b *testing.B) {
	testutil.RequireBPF(b)
	set, err := Start(b.Context(), Config{Signals: AllSignals()})
	if err != nil {
		b.Fatal(err)
	}
	defer set.Close()
	defer discardEvents(set)()

	type variant struct {
		name    string
		signals []Signal
		perOp   []float64 // ns per op of each window
	}
	kinds := []struct {
		name string
		ops  int
		run  func(tb testing.TB) func(n int)
	}{
		{"switch", 2000, pingPong},
		{"tcp", 2000, loopbackTCP},
		{"udp", 4000, loopbackUDP},
	}
	setNop := nopPrograms(b)
	defer setNop(false)

	for _, kind := range kinds {
		if !slices.Contains(strings.Split(*costKinds, ","), kind.name) {
			continue
		}
		op := kind.run(b)
		var variants []*variant
		for _, spec := range strings.Split(*costVariants, ",") {
			sigs, err := parseVariant(spec)
			if err != nil {
				b.Fatal(err)
			}
			variants = append(variants, &variant{name: spec, signals: sigs})
		}
		order := slices.Clone(variants)
		op(kind.ops / 10) // warm up
		rounds := *costRounds
		if f := flag.Lookup("test.benchtime"); f != nil && f.Value.String() == "1x" {
			rounds = 3 // a smoke run (make test): that it works, not figures
		}
		for range rounds {
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, v := range order {
				if err := attachOnly(set, v.signals); err != nil {
					b.Fatal(err)
				}
				setNop(v.name == "nop")
				t0 := time.Now()
				op(kind.ops)
				v.perOp = append(v.perOp, float64(time.Since(t0).Nanoseconds())/float64(kind.ops))
			}
		}
		off := variants[0]
		for _, v := range variants {
			// Round by round against the first variant (normally off):
			// windows of one round are a fraction of a second apart.
			ratios := make([]float64, len(v.perOp))
			for i := range v.perOp {
				ratios[i] = v.perOp[i] / off.perOp[i]
			}
			b.Run("event="+kind.name+"/probes="+v.name, func(b *testing.B) {
				// Medians: the host steals CPU in bursts that would
				// dominate a sum.
				b.ReportMetric(benchstat.Median(v.perOp), "ns/op")
				b.ReportMetric(benchstat.Median(ratios), "x-"+off.name)
				b.ReportMetric(benchstat.Median(v.perOp)-benchstat.Median(off.perOp), "ns-added/op")
			})
		}
	}
}

// pingPong returns an op that does n round trips between two threads
// pinned to one CPU over a pair of blocking pipes.
func pingPong(b testing.TB) func(n int) {
	var ab, ba [2]int
	for _, p := range []*[2]int{&ab, &ba} {
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		for _, fd := range []int{ab[0], ab[1], ba[0], ba[1]} {
			unix.Close(fd)
		}
	})
	var cpu unix.CPUSet
	cpu.Set(runtime.NumCPU() - 1)
	start := make(chan int)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		_ = unix.SchedSetaffinity(0, &cpu)
		var buf [1]byte
		for n := range start {
			for range n {
				if _, err := unix.Read(ab[0], buf[:]); err != nil {
					return
				}
				if _, err := unix.Write(ba[1], buf[:]); err != nil {
					return
				}
			}
			done <- struct{}{}
		}
	}()
	b.Cleanup(func() { close(start) })
	return func(n int) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var old unix.CPUSet
		_ = unix.SchedGetaffinity(0, &old)
		_ = unix.SchedSetaffinity(0, &cpu)
		defer unix.SchedSetaffinity(0, &old)
		start <- n
		var buf [1]byte
		for range n {
			if _, err := unix.Write(ab[1], buf[:]); err != nil {
				b.Fatal(err)
			}
			if _, err := unix.Read(ba[0], buf[:]); err != nil {
				b.Fatal(err)
			}
		}
		<-done
	}
}

// loopbackTCP returns an op that writes 100 bytes n times on a loopback
// TCP connection and reads them on the other end.
func loopbackTCP(b testing.TB) func(n int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	w, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	r := <-acc
	if r == nil {
		b.Fatal("accept failed")
	}
	b.Cleanup(func() { w.Close(); r.Close() })
	return streamOp(b, w, r)
}

// loopbackUDP is loopbackTCP with a connected UDP socket pair.
func loopbackUDP(b testing.TB) func(n int) {
	r, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	w, err := net.DialUDP("udp", nil, r.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close(); r.Close() })
	return streamOp(b, w, r)
}

func streamOp(b testing.TB, w io.Writer, r io.Reader) func(n int) {
	msg := make([]byte, 100)
	buf := make([]byte, 100)
	return func(n int) {
		for range n {
			if _, err := w.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(r, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}
