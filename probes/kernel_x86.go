//go:build linux && (386 || amd64)

package probes

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/internal/bpf"
)

// attachment is one program and how to attach it.
type attachment struct {
	name   string
	prog   *ebpf.Program
	attach func(*ebpf.Program) (link.Link, error)
	link   link.Link
	// lazy: a DNS packet program, attached while DNS traffic is about
	// (armDNS) rather than with its signal.
	lazy bool
}

// dnsState is the on-demand attachment of the DNS packet programs: the
// cgroup programs arm them on a connect or send to a DNS port, idleDNS
// detaches them after dnsIdle without one.
type dnsState struct {
	// attached, lastArm, lastQuery: dns_attached, dns_last_arm_ns and
	// dns_last_query_ns of dns.bpf.c.
	attached, lastArm, lastQuery *ebpf.Variable
	// on: the signal is attached (not shed); eager: the arming programs
	// could not attach (no cgroup2), so the packet programs stay attached.
	on, eager bool
	// armLatency: from the connect or send that armed the packet programs
	// to their attachment, the last time (an answer that arrives sooner
	// is not seen).
	armLatency time.Duration
}

// dnsIdle is how long the DNS packet programs stay attached without DNS
// traffic (a variable for tests).
var dnsIdle = 30 * time.Second

// dnsArming are the DNS programs that arm the packet programs.
var dnsArming = []string{"slo_dns_connect4", "slo_dns_connect6", "slo_dns_sendmsg4", "slo_dns_sendmsg6"}

// bpfKernel owns every BPF object of a Set.
type bpfKernel struct {
	events, owner, trace, lostMap *ebpf.Map
	hists, histSelf               [numSignals]*ebpf.Map // per-CPU: by tgid, and the target's
	// target is the target's tgid as the kernel sees it (initial pid
	// namespace); nsTarget the same process as Start saw it (Set.target).
	target, nsTarget uint32
	atts             [numSignals][]*attachment
	closers          []io.Closer
	colls            []*ebpf.Collection
	netColl          *ebpf.Collection
	dns              *dnsState // nil without DNSLatency
	reader           *ringbuf.Reader
	dec              *decoder
	stats            io.Closer

	mu     sync.Mutex // guards every object against close
	closed bool
}

// loadKernel loads and attaches the BPF programs of the requested kernel
// signals, recording each signal's status in s. It returns nil when no
// program could be attached.
func loadKernel(s *Set, wallOffset int64) kernel {
	cfg := s.cfg
	var want []Signal
	for _, sig := range AllSignals() {
		if sig.kernel() && cfg.wants(sig) {
			want = append(want, sig)
		}
	}
	offAll := func(reason string) kernel {
		for _, sig := range want {
			s.setStatus(sig, Off, reason)
		}
		return nil
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return offAll("kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load")
	}
	// features.HaveProgramType(ebpf.Tracing) probes fentry, which some
	// kernels refuse (EPERM) while tp_btf loads fine: probe raw tracepoints
	// for privileges and let loading the real programs decide the rest.
	if err := features.HaveProgramType(ebpf.RawTracepoint); err != nil {
		return offAll(featureReason("raw tracepoint programs", err))
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return offAll(featureReason("ring buffers", err))
	}
	if cfg.RemoveMemlock {
		if err := rlimit.RemoveMemlock(); err != nil {
			return offAll("remove memlock rlimit: " + err.Error())
		}
	}

	k := &bpfKernel{dec: newDecoder(wallOffset), target: s.target, nsTarget: s.target}
	if s.target != 0 && s.target == uint32(os.Getpid()) {
		// Inside a container getpid() is the pid-namespace id; the
		// programs compare the kernel's (initial namespace) tgid.
		if tgid, err := selfTgid(); err == nil && tgid != 0 {
			k.target = tgid
			if tgid != s.target {
				k.dec.pidFrom, k.dec.pidTo = tgid, s.target
			}
		}
	}
	spec, err := bpf.LoadSched()
	if err != nil {
		return offAll("parse BPF object: " + err.Error())
	}
	shared := map[string]*ebpf.Map{}
	// The maps in event.h that every object shares.
	for _, name := range [...]string{"events", "sock_owner", "sock_trace", "lost"} {
		ms := spec.Maps[name].Copy()
		if name == "events" {
			ms.MaxEntries = uint32(cfg.RingBufferSize)
		}
		m, err := ebpf.NewMap(ms)
		if err != nil {
			for _, m := range shared {
				m.Close()
			}
			return offAll(featureReason("create map "+name, err))
		}
		shared[name] = m
	}
	k.events, k.owner, k.trace, k.lostMap = shared["events"], shared["sock_owner"], shared["sock_trace"], shared["lost"]
	k.closers = append(k.closers, k.events, k.owner, k.trace, k.lostMap)

	if cfg.OverheadBudget > 0 {
		// Before attaching, so the guard sees every run.
		if c, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME); err == nil {
			k.stats = c
		}
	}
	for _, sig := range want {
		if err := k.loadSignal(s, sig, shared); err != nil {
			s.setStatus(sig, Off, err.Error())
		}
	}
	var any bool
	for _, sig := range want {
		if s.StatusOf(sig).State != Off {
			any = true
		}
	}
	if !any {
		k.close()
		return nil
	}
	rd, err := ringbuf.NewReader(k.events)
	if err != nil {
		k.close()
		return offAll("open ring buffer: " + err.Error())
	}
	k.reader = rd
	return k
}

func featureReason(what string, err error) string {
	switch {
	case errors.Is(err, ebpf.ErrNotSupported):
		return "kernel lacks " + what + ": " + err.Error()
	case errors.Is(err, os.ErrPermission):
		return what + ": permission denied (needs CAP_BPF and CAP_PERFMON, or root)"
	default:
		return what + ": " + err.Error()
	}
}

// loadSignal loads the object of sig and attaches its programs.
func (k *bpfKernel) loadSignal(s *Set, sig Signal, shared map[string]*ebpf.Map) error {
	cfg := s.cfg
	var (
		spec    *ebpf.CollectionSpec
		err     error
		name    string
		outlier time.Duration
	)
	switch sig {
	case RunqueueDelay, SyscallLatency:
		if err := schedBookkeeping(); err != nil {
			return &LoadError{Probe: "sched", Err: err}
		}
	}
	switch sig {
	case RunqueueDelay:
		name, outlier = "sched", cfg.RunqueueThreshold
		spec, err = bpf.LoadSched()
	case TCPRetransmit, ConnectLatency:
		name = "net"
		if (sig == ConnectLatency && k.atts[TCPRetransmit] != nil) || (sig == TCPRetransmit && k.atts[ConnectLatency] != nil) {
			return k.netSecond(s, sig)
		}
		spec, err = bpf.LoadNet()
	case DNSLatency:
		name = "dns"
		spec, err = bpf.LoadDns()
	case MemReclaim:
		name, outlier = "mm", cfg.ReclaimThreshold
		spec, err = bpf.LoadMm()
	case BlockIO:
		name, outlier = "blk", cfg.BlockIOThreshold
		spec, err = bpf.LoadBlk()
	case SyscallLatency:
		name, outlier = "sys", cfg.SyscallThreshold
		spec, err = bpf.LoadSys()
	default:
		return fmt.Errorf("no BPF program for %s", sig)
	}
	if err != nil {
		return &LoadError{Probe: name, Err: err}
	}
	if v := spec.Variables["target_tgid"]; v != nil {
		if err := v.Set(k.target); err != nil {
			return &LoadError{Probe: name, Err: err}
		}
	}
	if v := spec.Variables["claim_on_send"]; v != nil && cfg.ClaimOnSend {
		if err := v.Set(true); err != nil {
			return &LoadError{Probe: name, Err: err}
		}
	}
	if v := spec.Variables["outlier_ns"]; v != nil {
		if err := v.Set(uint64(outlier)); err != nil {
			return &LoadError{Probe: name, Err: err}
		}
	}
	if ms := spec.Maps["events"]; ms != nil {
		ms.MaxEntries = uint32(cfg.RingBufferSize)
	}
	repl := map[string]*ebpf.Map{}
	for n, m := range shared {
		if _, ok := spec.Maps[n]; ok {
			repl[n] = m
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{MapReplacements: repl})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return &LoadError{Probe: name, Err: fmt.Errorf("permission denied (needs CAP_BPF and CAP_PERFMON, or root): %w", err)}
		}
		return &LoadError{Probe: name, Err: err}
	}
	k.colls = append(k.colls, coll)

	tracing := func(p *ebpf.Program) (link.Link, error) {
		return link.AttachTracing(link.TracingOptions{Program: p})
	}
	add := func(sig Signal, prog string, attach func(*ebpf.Program) (link.Link, error)) {
		p := coll.Programs[prog]
		k.atts[sig] = append(k.atts[sig], &attachment{name: prog, prog: p, attach: attach})
	}
	switch sig {
	case RunqueueDelay:
		add(sig, "slo_sched_switch", tracing)
		k.hists[sig] = coll.Maps["runq_hist"]
		k.histSelf[sig] = coll.Maps["runq_hist_self"]
	case TCPRetransmit, ConnectLatency:
		k.netColl = coll
		return k.netSecond(s, sig)
	case DNSLatency:
		ports := coll.Maps["dns_ports"]
		for _, p := range cfg.DNSPorts {
			if err := ports.Put(p, uint8(1)); err != nil {
				return &LoadError{Probe: name, Err: fmt.Errorf("set DNS port %d: %w", p, err)}
			}
		}
		k.dns = &dnsState{attached: coll.Variables["dns_attached"], lastArm: coll.Variables["dns_last_arm_ns"],
			lastQuery: coll.Variables["dns_last_query_ns"]}
		cgroupProg := func(at ebpf.AttachType) func(*ebpf.Program) (link.Link, error) {
			return func(p *ebpf.Program) (link.Link, error) {
				cg, err := cgroup2Dir(int(k.nsTarget))
				if err != nil {
					return nil, err
				}
				return link.AttachCgroup(link.CgroupOptions{Path: cg, Attach: at, Program: p})
			}
		}
		// Cookies for new UDP sockets; without it (no cgroup2) the signal
		// is Degraded: events carry cookie 0.
		add(sig, "slo_dns_sock_create", cgroupProg(ebpf.AttachCGroupInetSockCreate))
		// The arming programs: a UDP connect or send to a DNS port.
		for i, at := range []ebpf.AttachType{ebpf.AttachCGroupInet4Connect, ebpf.AttachCGroupInet6Connect,
			ebpf.AttachCGroupUDP4Sendmsg, ebpf.AttachCGroupUDP6Sendmsg} {
			add(sig, dnsArming[i], cgroupProg(at))
		}
		add(sig, "slo_dns_egress", tracing)
		add(sig, "slo_dns_ingress", tracing)
		for _, a := range k.atts[sig][len(k.atts[sig])-2:] {
			a.lazy = true
		}
	case MemReclaim:
		add(sig, "slo_reclaim_begin", tracing)
		add(sig, "slo_reclaim_end", tracing)
		add(sig, "slo_memcg_reclaim_begin", tracing)
		add(sig, "slo_memcg_reclaim_end", tracing)
		k.hists[sig] = coll.Maps["reclaim_hist"]
		k.histSelf[sig] = coll.Maps["reclaim_hist_self"]
	case BlockIO:
		add(sig, "slo_block_io_start", tracing)
		add(sig, "slo_block_io_done", tracing)
		k.hists[sig] = coll.Maps["blk_hist"]
		k.histSelf[sig] = coll.Maps["blk_hist_self"]
	case SyscallLatency:
		skip := coll.Maps["sys_skip"]
		for _, nr := range blockingSyscalls() {
			_ = skip.Put(uint32(nr), uint8(1))
		}
		add(sig, "slo_sys_switch", tracing)
		k.hists[sig] = coll.Maps["sys_hist"]
		k.histSelf[sig] = coll.Maps["sys_hist_self"]
	}
	return k.attachSignal(s, sig)
}

// netSecond attaches the programs of the net object that sig needs, the
// object being loaded once for TCPRetransmit and ConnectLatency.
func (k *bpfKernel) netSecond(s *Set, sig Signal) error {
	coll := k.netColl
	if coll == nil {
		return &LoadError{Probe: "net", Err: errors.New("object not loaded")}
	}
	tracing := func(p *ebpf.Program) (link.Link, error) {
		return link.AttachTracing(link.TracingOptions{Program: p})
	}
	add := func(prog string) {
		k.atts[sig] = append(k.atts[sig], &attachment{name: prog, prog: coll.Programs[prog], attach: tracing})
	}
	switch sig {
	case TCPRetransmit:
		add("slo_tcp_retransmit")
		if s.cfg.ClaimOnSend {
			add("slo_sock_send")
		}
		if !s.cfg.wants(ConnectLatency) {
			// Registers connecting, listening and accepted sockets and
			// forgets closed ones.
			add("slo_inet_sock_set_state")
		}
	case ConnectLatency:
		add("slo_inet_sock_set_state")
	}
	return k.attachSignal(s, sig)
}

// attachSignal attaches every program of sig: all → On, some → Degraded,
// none → error.
func (k *bpfKernel) attachSignal(s *Set, sig Signal) error {
	var failed []string
	var firstErr error
	armFailed := false // a DNS arming program did not attach
	for _, a := range k.atts[sig] {
		if a.lazy && !armFailed {
			continue // attached by armDNS
		}
		if a.lazy {
			k.dns.eager = true
		}
		var err error
		if a.prog == nil {
			err = errors.New("missing")
		} else {
			a.link, err = a.attach(a.prog)
		}
		if err != nil {
			failed = append(failed, a.name+": "+err.Error())
			if firstErr == nil {
				firstErr = err
			}
			armFailed = armFailed || slices.Contains(dnsArming, a.name)
		}
	}
	if sig == DNSLatency {
		k.dns.on = true
		if k.dns.eager {
			failed = append(failed, "packet programs stay attached (nothing arms them)")
		}
	}
	switch {
	case len(failed) == 0:
		s.setStatus(sig, On, "")
	case len(failed) < len(k.atts[sig]):
		s.setStatus(sig, Degraded, "attach: "+strings.Join(failed, "; "))
	default:
		return &LoadError{Probe: sig.String(), Err: fmt.Errorf("attach: %s: %w", strings.Join(failed, "; "), firstErr)}
	}
	return nil
}

// selfTgid returns the calling process's tgid in the initial pid namespace
// (what bpf_get_current_pid_tgid reports), by running a one-instruction
// raw_tp program in this thread.
func selfTgid() (uint32, error) {
	spec, err := bpf.LoadSelf()
	if err != nil {
		return 0, err
	}
	var objs bpf.SelfObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		return 0, err
	}
	defer objs.Close()
	ret, err := objs.SloSelfTgid.Run(&ebpf.RunOptions{})
	if err != nil {
		return 0, fmt.Errorf("run self-tgid program: %w", err)
	}
	return ret, nil
}

// cgroup2Dir returns the cgroup v2 directory of process pid, where the DNS
// cookie program attaches (so it sees only that cgroup's new sockets; the
// root on hosts that keep processes in the cgroup2 root).
func cgroup2Dir(pid int) (string, error) {
	_, v2 := cgroupMounts()
	if v2 == "" {
		return "", errors.New("no cgroup2 mount (socket cookies of DNS events are 0)")
	}
	if pid == 0 { // AllProcesses: the root sees every socket
		return v2, nil
	}
	path := fmt.Sprintf("/proc/%d/cgroup", pid)
	if pid == os.Getpid() {
		path = "/proc/self/cgroup" // also right when /proc is another pid namespace's
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return filepath.Join(v2, p), nil
		}
	}
	return v2, nil
}

func (k *bpfKernel) tagConn(cookie uint64, traceID [16]byte, spanID [8]byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	v := bpf.NetTraceTag{TraceId: traceID, SpanId: spanID}
	if err := k.trace.Put(cookie, &v); err != nil {
		return fmt.Errorf("probes: tag connection: %w", err)
	}
	return nil
}

func (k *bpfKernel) untagConn(cookie uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	if err := k.trace.Delete(cookie); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("probes: untag connection: %w", err)
	}
	return nil
}

func (k *bpfKernel) histogram(sig Signal, tgid uint32) (Histogram, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return Histogram{}, ErrClosed
	}
	// The programs count the target process in the one-entry map, every
	// process (target 0) in the map keyed by tgid; both are per CPU.
	m, key := k.hists[sig], tgid
	if k.nsTarget != 0 && tgid == k.nsTarget {
		m, key = k.histSelf[sig], 0
	}
	if m == nil {
		return Histogram{}, fmt.Errorf("probes: %s has no histogram", sig)
	}
	var per []bpf.SchedHist
	if err := m.Lookup(key, &per); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return Histogram{}, nil
		}
		return Histogram{}, fmt.Errorf("probes: read %s histogram: %w", sig, err)
	}
	var h Histogram
	for _, c := range per {
		for i, n := range c.Slots {
			h.Buckets[i] += n
		}
		h.Count += c.Count
		h.Sum += time.Duration(c.SumNs)
	}
	return h, nil
}

func (k *bpfKernel) setAttached(sig Signal, on bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	var errs []error
	if sig == DNSLatency && k.dns != nil {
		k.dns.on = on
		if !on {
			errs = append(errs, k.dns.attached.Set(uint32(0)))
		}
	}
	for _, a := range k.atts[sig] {
		if on && a.lazy && !k.dns.eager {
			continue // attached by armDNS when DNS traffic starts
		}
		errs = append(errs, a.set(on))
	}
	return errors.Join(errs...)
}

// set attaches (on) or detaches a; nothing when it already is (or, to
// attach, when its program is missing).
func (a *attachment) set(on bool) error {
	switch {
	case on && a.link == nil && a.prog != nil:
		l, err := a.attach(a.prog)
		if err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		a.link = l
	case !on && a.link != nil:
		err := a.link.Close()
		a.link = nil
		return err
	}
	return nil
}

func (k *bpfKernel) runTime(sig Signal) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0
	}
	var d time.Duration
	for _, a := range k.atts[sig] {
		if a.prog == nil {
			continue
		}
		if st, err := a.prog.Stats(); err == nil {
			d += st.Runtime
		}
	}
	return d
}

func (k *bpfKernel) lost(sig Signal) uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0
	}
	var per []uint64
	if err := k.lostMap.Lookup(uint32(sig), &per); err != nil {
		return 0
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n
}

func (k *bpfKernel) close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	var errs []error
	for sig := range k.atts {
		for _, a := range k.atts[sig] {
			errs = append(errs, a.set(false))
		}
	}
	if k.reader != nil {
		errs = append(errs, k.reader.Close())
	}
	if k.stats != nil {
		errs = append(errs, k.stats.Close())
	}
	for _, c := range k.colls {
		c.Close()
	}
	for _, c := range k.closers {
		c.Close()
	}
	k.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("probes: close: %w", err)
	}
	return nil
}

// readLoop decodes ring-buffer records until the reader is closed.
func (k *bpfKernel) readLoop(s *Set) {
	var rec ringbuf.Record
	var ev Event
	for {
		if err := k.reader.ReadInto(&rec); err != nil {
			if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return
			}
			// Unexpected: count it and do not spin.
			s.decodeErrors.Add(1)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t0 := time.Now()
		if raw := rec.RawSample; len(raw) >= recSize && Signal(raw[offSignal]) == DNSLatency && raw[offFlags]&flagArm != 0 {
			k.armDNS(s, int64(binary.LittleEndian.Uint64(raw[offTS:])))
		} else if err := k.dec.decode(rec.RawSample, &ev); err != nil {
			s.decodeErrors.Add(1)
		} else {
			s.emit(&ev)
		}
		s.readerBusy.Add(int64(time.Since(t0)))
	}
}

// armDNS attaches the DNS packet programs: a connect or send to a DNS port
// asked for them (an SLO_FLAG_ARM record).
func (k *bpfKernel) armDNS(s *Set, armedAt int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed || k.dns == nil || !k.dns.on {
		return
	}
	var attached uint32
	if k.dns.attached.Get(&attached) == nil && attached == 1 {
		return
	}
	var failed []string
	for _, a := range k.atts[DNSLatency] {
		if a.lazy {
			if err := a.set(true); err != nil {
				failed = append(failed, err.Error())
			}
		}
	}
	if len(failed) > 0 {
		s.setStatus(DNSLatency, Degraded, onDemandFailed+strings.Join(failed, "; "))
		return
	}
	if strings.HasPrefix(s.StatusOf(DNSLatency).Reason, onDemandFailed) {
		s.setStatus(DNSLatency, On, "")
	}
	_ = k.dns.attached.Set(uint32(1))
	k.dns.armLatency = time.Duration(monoNow() - armedAt)
}

// onDemandFailed starts the reason of a DNSLatency Degraded by armDNS.
const onDemandFailed = "attach on demand: "

// idleDNS detaches the DNS packet programs once no connect, send or query
// to a DNS port was seen for dnsIdle; the next one arms them again.
func (k *bpfKernel) idleDNS(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k.mu.Lock()
		if k.closed {
			k.mu.Unlock()
			return
		}
		var attached uint32
		var lastArm, lastQuery uint64
		d := k.dns
		if d.on && !d.eager && d.attached.Get(&attached) == nil && attached == 1 &&
			d.lastArm.Get(&lastArm) == nil && d.lastQuery.Get(&lastQuery) == nil {
			if uint64(monoNow())-max(lastArm, lastQuery) > uint64(dnsIdle) {
				// Cleared first: a connect from here on arms again.
				_ = d.attached.Set(uint32(0))
				for _, a := range k.atts[DNSLatency] {
					if a.lazy {
						_ = a.set(false)
					}
				}
			}
		}
		k.mu.Unlock()
	}
}

// schedBookkeeping reports whether the kernel keeps what the run-queue and
// syscall programs read at sched_switch: per-task sched_info
// (CONFIG_SCHED_INFO) and the run queue of a task's cfs_rq
// (CONFIG_FAIR_GROUP_SCHED).
func schedBookkeeping() error {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("kernel BTF: %w", err)
	}
	has := func(typ, member string) bool {
		var st *btf.Struct
		if spec.TypeByName(typ, &st) != nil {
			return false
		}
		for _, m := range st.Members {
			if m.Name == member {
				return true
			}
		}
		return false
	}
	switch {
	case !has("task_struct", "sched_info"):
		return errors.New("kernel without CONFIG_SCHED_INFO: no per-task run-queue accounting to read")
	case !has("cfs_rq", "rq"):
		return errors.New("kernel without CONFIG_FAIR_GROUP_SCHED: no run-queue clock to read")
	}
	return nil
}

// blockingSyscalls returns the x86-64 syscalls that block by design and
// are no latency evidence: futex, epoll_wait, epoll_pwait, epoll_pwait2,
// nanosleep, clock_nanosleep, select, pselect6, poll, ppoll, wait4, waitid,
// pause, rt_sigsuspend, rt_sigtimedwait, io_getevents, io_uring_enter,
// accept, accept4.
func blockingSyscalls() [19]int {
	return [...]int{202, 232, 281, 441, 35, 230, 23, 270, 7, 271, 61, 247, 34, 130, 128, 208, 426, 43, 288}
}
