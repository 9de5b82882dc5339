//go:build linux

package correlate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/internal/testutil"
	"github.com/llmslo/slo/probes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sys/unix"
)

// recorder drives a Joiner and records every input as a Dataset op.
type recorder struct {
	mu  sync.Mutex
	j   *Joiner
	ds  Dataset
	ids map[int]RequestID
}

func (r *recorder) op(o Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch o.Kind {
	case OpStart:
		r.ids[o.Req] = r.j.Start(o.Mono, trace.SpanContext{})
	case OpEnd:
		r.j.End(r.ids[o.Req], o.Mono)
	case OpAcquire:
		r.j.Acquire(r.ids[o.Req], Conn{Cookie: o.Cookie, Local: o.Local, Remote: o.Remote}, o.Mono)
	case OpRelease:
		r.j.Release(Conn{Cookie: o.Cookie, Local: o.Local, Remote: o.Remote}, o.Mono)
	case OpDial:
		r.j.Dial(r.ids[o.Req], o.Remote, o.From, o.To)
	case OpEvent:
		r.j.Add(o.Event)
	}
	r.ds.Ops = append(r.ds.Ops, o)
}

// feed records the events of set (a subscription of size n) as they come;
// stop ends the subscription and waits for the last one.
func (r *recorder) feed(set *probes.Set, n int) (stop func()) {
	events, unsubscribe := set.Subscribe(n)
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for ev := range events {
			e := ev
			r.op(Op{Kind: OpEvent, Event: &e})
		}
	}()
	return func() {
		unsubscribe()
		<-fed
	}
}

func cookieOf(c net.Conn) uint64 {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return 0
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0
	}
	var v uint64
	_ = rc.Control(func(fd uintptr) { v, _ = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE) })
	return v
}

// streamServers starts, in a fresh network namespace (closed at the end of
// the test), an HTTP server on each port that reads the request body and
// streams 20 SSE chunks 10 ms apart.
func streamServers(t *testing.T, ports ...int) *faults.Netns {
	t.Helper()
	var ns *faults.Netns
	var err error
	for n := 200; n < 240 && ns == nil; n++ {
		ns, err = faults.NewNetns("", faults.Subnet(uint8(n)))
		if errors.Is(err, faults.ErrPrivilege) {
			testutil.Skip(t, err.Error())
		}
	}
	if ns == nil {
		t.Fatal("no free subnet")
	}
	t.Cleanup(func() { ns.Close() })
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 20 {
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":\"t%d\"}}]}\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond)
		}
	})
	for _, port := range ports {
		ln, err := ns.Listen("tcp4", fmt.Sprintf("%s:%d", ns.NSAddr(), port))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: up}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { srv.Close() })
	}
	return ns
}

// TestRecordLossPrivileged is the labelled-data harness: 20 concurrent
// streaming requests over their own connections to two servers in a
// network namespace, one port losing 30% of the client's packets. The
// harness knows which request owned which connection (socket cookie) and
// when, so every kernel event on those sockets is labelled. It checks the
// live joins and, with SLO_RECORD=1, writes testdata/loss.json, which
// TestEvaluateRecorded replays without privileges.
func TestRecordLossPrivileged(t *testing.T) {
	testutil.RequireBPF(t)
	testutil.RequireRootNet(t)
	set, err := probes.Start(t.Context(), probes.Config{Signals: []probes.Signal{probes.TCPRetransmit, probes.ConnectLatency}})
	if err != nil {
		testutil.Skip(t, "probes: "+err.Error())
	}
	defer set.Close()
	if set.StatusOf(probes.TCPRetransmit).State == probes.Off {
		testutil.Skip(t, "tcp_retransmit off: "+set.StatusOf(probes.TCPRetransmit).Reason)
	}
	ns := streamServers(t, lossyPort, cleanPort)
	undo, err := faults.PacketLoss{NS: ns, Port: lossyPort, Percent: 30}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer undo()

	clock := NewClock()
	// The harness registers ownership when the dial returns (GotConn); on a
	// loaded machine that can trail the connect event by more than the
	// default Settle, so it waits longer here (and in the replay).
	cfg := Config{Settle: 250 * time.Millisecond}
	rec := &recorder{j: New(cfg), ids: map[int]RequestID{}, ds: Dataset{Name: "20 concurrent streaming requests, 5 with 30% client-side loss (faults.PacketLoss), one connection each"}}
	stopFeed := rec.feed(set, 8192)
	l := &tierLab{rec: rec, clock: clock, ns: ns, sockets: map[uint64]*owned{}}
	const n, lossy = 20, 5
	var wg sync.WaitGroup
	for i := range n {
		port := cleanPort
		if i < lossy {
			port = lossyPort
		}
		wg.Go(func() {
			rec.op(Op{Kind: OpStart, Req: i, Mono: clock.Now()})
			if err := l.call(i, port, true); err != nil {
				t.Error(err)
			}
			rec.op(Op{Kind: OpEnd, Req: i, Mono: clock.Now()})
		})
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond) // trailing events
	stopFeed()

	// Truth: an event on a socket belongs to the request that owned it at
	// that instant.
	ds := &rec.ds
	retrans := map[int]int{}
	for i, o := range ds.Ops {
		if o.Kind != OpEvent || o.Event.Cookie == 0 {
			continue
		}
		if w := l.sockets[o.Event.Cookie]; w != nil && w.from <= o.Event.Mono && o.Event.Mono <= w.to {
			ds.Truth = append(ds.Truth, Pair{Event: i, Req: w.req})
			if o.Event.Signal == probes.TCPRetransmit {
				retrans[w.req]++
			}
		}
	}
	for i := range lossy {
		if retrans[i] == 0 {
			t.Errorf("lossy request %d: no retransmit recorded", i)
		}
	}
	res, err := Evaluate(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	logResult(t, ds, res)
	if p := res.TierPrecision(TierExact); p != 1 || res.Recall() != 1 {
		t.Errorf("exact precision %.3f, recall %.3f; want 1, 1", p, res.Recall())
	}
	if os.Getenv("SLO_RECORD") == "1" {
		b, err := json.MarshalIndent(ds, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "loss.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote testdata/loss.json: %d ops, %d truth pairs", len(ds.Ops), len(ds.Truth))
	}
}
