//go:build linux

package correlate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/testutil"
	"github.com/llmslo/slo/probes"
	"golang.org/x/sys/unix"
)

// tierLab is the workload of TestRecordTiersPrivileged (its call serves
// TestRecordLossPrivileged too): concurrent requests
// of one process whose every kernel event has a known owner. A request runs
// on an OS thread of its own (locked for its lifetime, so a run-queue event's
// thread id names it) and makes its calls on connections of its own (so a
// network event's socket cookie names it); the harness keeps both books.
type tierLab struct {
	rec   *recorder
	clock *Clock
	ns    *faults.Netns

	mu      sync.Mutex
	sockets map[uint64]*owned // socket cookie → owner; req -1: no request
	threads map[uint32]*owned // thread id → owner
}

// owned is a socket or thread owned by request req over [from, to].
type owned struct {
	req      int
	from, to int64
}

// Ports of the two upstreams: lossyPort drops 30 % of the client's packets.
const lossyPort, cleanPort = 9001, 9002

// call posts 256 KiB to port and reads the stream. A registered call
// records its dial and connection as the Transport does (dial, acquire,
// release); an unregistered one — a client the process did not instrument —
// only enters the harness's books. req -1 is traffic of no request.
func (l *tierLab) call(req, port int, registered bool) error {
	var getConn, connStart int64
	var c Conn
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GetConn:      func(string) { getConn = l.clock.Now() },
		ConnectStart: func(string, string) { connStart = l.clock.Now() },
		ConnectDone: func(_, addr string, _ error) {
			if ap, err := netip.ParseAddrPort(addr); err == nil && registered {
				l.rec.op(Op{Kind: OpDial, Req: req, From: connStart, To: l.clock.Now(), Remote: ap})
			}
		},
		GotConn: func(gi httptrace.GotConnInfo) {
			c = Conn{Cookie: cookieOf(gi.Conn), Local: gi.Conn.LocalAddr().(*net.TCPAddr).AddrPort(), Remote: gi.Conn.RemoteAddr().(*net.TCPAddr).AddrPort()}
			l.mu.Lock()
			l.sockets[c.Cookie] = &owned{req: req, from: getConn, to: 1 << 62}
			l.mu.Unlock()
			if registered {
				l.rec.op(Op{Kind: OpAcquire, Req: req, Mono: getConn, Cookie: c.Cookie, Local: c.Local, Remote: c.Remote})
			}
		},
	})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://%s:%d/", l.ns.NSAddr(), port), bytes.NewReader(bytes.Repeat([]byte("x"), 256<<10)))
	resp, err := client.Do(hr)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	now := l.clock.Now()
	l.mu.Lock()
	if o := l.sockets[c.Cookie]; o != nil {
		o.to = now
	}
	l.mu.Unlock()
	if registered {
		l.rec.op(Op{Kind: OpRelease, Mono: now, Cookie: c.Cookie, Local: c.Local, Remote: c.Remote})
	}
	return nil
}

// spinThread burns d of the calling thread's CPU time (at most 2 s of wall
// time).
func spinThread(d time.Duration) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	end, stop := ts.Nano()+int64(d), time.Now().Add(2*time.Second)
	for ts.Nano() < end && time.Now().Before(stop) {
		_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	}
}

// request is request req: on its own thread pinned to cpu, 20 ms of CPU
// work, its calls (group 0: a registered call to the lossy port; 1: that
// and an unregistered one to the lossy port; 2: a registered call to the
// clean port), 20 ms of CPU work.
func (l *tierLab) request(req, cpu int) error {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return err
	}
	th := &owned{req: req, from: l.clock.Now(), to: 1 << 62}
	l.mu.Lock()
	l.threads[uint32(unix.Gettid())] = th
	l.mu.Unlock()
	l.rec.op(Op{Kind: OpStart, Req: req, Mono: th.from})
	spinThread(20 * time.Millisecond)
	var err error
	switch req % 3 {
	case 0:
		err = l.call(req, lossyPort, true)
	case 1:
		err = l.call(req, lossyPort, true)
		if err == nil {
			err = l.call(req, lossyPort, false)
		}
	case 2:
		err = l.call(req, cleanPort, true)
	}
	spinThread(20 * time.Millisecond)
	end := l.clock.Now()
	l.mu.Lock()
	th.to = end
	l.mu.Unlock()
	l.rec.op(Op{Kind: OpEnd, Req: req, Mono: end})
	return err
}

// label writes the truth: a network event belongs to the request that owned
// its socket at that instant; a run-queue stall to the request whose thread
// it delayed, overlapping the request; a PSI poll to every request whose
// own thread stalled during the poll's period (the CPU pressure the node
// reported reached it).
func (l *tierLab) label(poll time.Duration) {
	ds := &l.rec.ds
	type stall struct {
		req      int
		from, to int64
	}
	var stalls []stall
	for i, o := range ds.Ops {
		if o.Kind != OpEvent {
			continue
		}
		ev := o.Event
		switch ev.Signal {
		case probes.TCPRetransmit, probes.ConnectLatency:
			if w := l.sockets[ev.Cookie]; ev.Cookie != 0 && w != nil && w.req >= 0 && w.from <= ev.Mono && ev.Mono <= w.to {
				ds.Truth = append(ds.Truth, Pair{Event: i, Req: w.req})
			}
		case probes.RunqueueDelay:
			from := ev.Mono - int64(ev.Duration)
			if w := l.threads[ev.TID]; w != nil && from <= w.to && w.from <= ev.Mono {
				ds.Truth = append(ds.Truth, Pair{Event: i, Req: w.req})
				stalls = append(stalls, stall{w.req, from, ev.Mono})
			}
		}
	}
	prev := int64(0)
	for i, o := range ds.Ops {
		if o.Kind != OpEvent || o.Event.Signal != probes.PSI || o.Event.Op != probes.PSICPU {
			continue
		}
		from := o.Event.Mono - int64(poll)
		if prev > 0 && prev < o.Event.Mono {
			from = prev
		}
		prev = o.Event.Mono
		seen := map[int]bool{}
		for _, s := range stalls {
			if s.from <= o.Event.Mono && from <= s.to && !seen[s.req] {
				seen[s.req] = true
				ds.Truth = append(ds.Truth, Pair{Event: i, Req: s.req})
			}
		}
	}
}

// TestRecordTiersPrivileged is the labelled workload behind the tier
// confidences (docs/tiers.md): rounds of 12 concurrent requests in this
// process, each on its own thread — half of them pinned to a CPU shared with
// two spinners, half to another — and its own connections: a third call a
// port losing 30 % of the client's packets, a third call it and also open a
// connection the process did not register (an uninstrumented client), a
// third call a clean port of the same host; beside them, background traffic
// of no request on unregistered connections to the lossy port. Every event
// has a known owner (socket cookie, thread id), so each join at every tier
// is labelled right or wrong. With SLO_RECORD=1 it writes
// testdata/tiers.json, which TestTierConfidenceMeasured replays without
// privileges.
func TestRecordTiersPrivileged(t *testing.T) {
	testutil.RequireBPF(t)
	testutil.RequireRootNet(t)
	if runtime.NumCPU() < 2 {
		testutil.Skip(t, "needs two CPUs")
	}
	const poll = time.Second
	set, err := probes.Start(t.Context(), probes.Config{PollInterval: poll,
		Signals: []probes.Signal{probes.TCPRetransmit, probes.ConnectLatency, probes.RunqueueDelay, probes.PSI}})
	if err != nil {
		testutil.Skip(t, "probes: "+err.Error())
	}
	defer set.Close()
	for _, sig := range []probes.Signal{probes.TCPRetransmit, probes.RunqueueDelay} {
		if st := set.StatusOf(sig); st.State == probes.Off {
			testutil.Skip(t, sig.String()+" off: "+st.Reason)
		}
	}
	t.Logf("psi: %v %s", set.StatusOf(probes.PSI).State, set.StatusOf(probes.PSI).Reason)
	ns := streamServers(t, lossyPort, cleanPort)
	undoLoss, err := faults.PacketLoss{NS: ns, Port: lossyPort, Percent: 30}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer undoLoss()
	busy := runtime.NumCPU() - 1
	undoSpin, err := faults.CPUContention{CPUs: []int{busy}, Workers: 2}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer undoSpin()

	l := &tierLab{clock: NewClock(), ns: ns, sockets: map[uint64]*owned{}, threads: map[uint32]*owned{},
		rec: &recorder{j: New(Config{}), ids: map[int]RequestID{}, ds: Dataset{Name: tierLabName}}}
	l.run(t, set, busy)
	l.label(poll)
	res, err := Evaluate(&l.rec.ds, Config{})
	if err != nil {
		t.Fatal(err)
	}
	logResult(t, &l.rec.ds, res)
	checkTierLab(t, res)
	if os.Getenv("SLO_RECORD") == "1" {
		b, err := json.MarshalIndent(&l.rec.ds, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "tiers.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote testdata/tiers.json: %d ops, %d truth pairs", len(l.rec.ds.Ops), len(l.rec.ds.Truth))
	}
}

// tierLabName describes the recorded run.
const tierLabName = "12 rounds of 12 concurrent requests, each on its own thread (6 pinned to a CPU with 2 spinners) and connections: " +
	"4 to a port losing 30% of the client's packets, 4 to it plus an unregistered connection, 4 to a clean port of the host; " +
	"background traffic of no request to the lossy port"

// run feeds the probes' events to the recorder while the rounds run, with
// background traffic throughout.
func (l *tierLab) run(t *testing.T, set *probes.Set, busy int) {
	stopFeed := l.rec.feed(set, 1<<14)
	stop := make(chan struct{})
	bg := make(chan struct{})
	go func() {
		defer close(bg)
		for {
			select {
			case <-stop:
				return
			default:
				_ = l.call(-1, lossyPort, false)
			}
		}
	}()
	const rounds, perRound = 12, 12
	for r := range rounds {
		var wg sync.WaitGroup
		for k := range perRound {
			req := r*perRound + k
			cpu := 0
			if k%2 == 0 {
				cpu = busy
			}
			wg.Go(func() {
				if err := l.request(req, cpu); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	close(stop)
	<-bg
	time.Sleep(2 * time.Second) // trailing events and a last PSI poll
	stopFeed()
}

// checkTierLab checks that the run exercised every tier and that the exact
// tier made no mistake.
func checkTierLab(t *testing.T, res Result) {
	t.Helper()
	if p := res.TierPrecision(TierExact); p != 1 {
		t.Errorf("exact-tier precision %.3f, want 1", p)
	}
	for _, tier := range []Tier{TierExact, TierPodPID, TierPodConn, TierSvcNode} {
		if res.Tiers[tier].Joins == 0 {
			t.Errorf("no join at %s", tier)
		}
	}
}
