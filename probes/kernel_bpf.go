//go:build linux && (386 || amd64 || arm64)

package probes

import (
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
	"github.com/llmslo/slo/probes/internal/cgroupfs"
)

// attachment is one program and how to attach it.
type attachment struct {
	name   string
	prog   *ebpf.Program
	attach attachFunc
	link   link.Link
	// lazy: a DNS packet program, attached while DNS traffic is about
	// (armDNS) rather than with its signal.
	lazy bool
}

// bpfKernel owns every BPF object of a Set.
type bpfKernel struct {
	events, owner, trace, lostMap *ebpf.Map
	hists, histSelf               [numSignals]*ebpf.Map // per-CPU: by tgid, and the target's
	// target is the target's tgid as the kernel sees it (initial pid
	// namespace); nsTarget the same process as Start saw it (Set.target).
	target, nsTarget uint32
	atts             [numSignals][]*attachment
	shared           map[string]*ebpf.Map // the maps every object shares, by name
	closers          []io.Closer
	colls            []*ebpf.Collection
	netColl          *ebpf.Collection
	sched            *schedSwitch // nil until a scheduler signal loads
	dns              *dnsState    // nil without DNSLatency
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
	if reason := kernelMissing(cfg); reason != "" {
		return offAll(reason)
	}
	k := newBPFKernel(s, wallOffset)
	if err := k.createShared(cfg); err != nil {
		return offAll(err.Error())
	}
	if cfg.OverheadBudget > 0 {
		// Before attaching, so the guard sees every run.
		if c, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME); err == nil {
			k.stats = c
		}
	}
	var anyOn bool
	for _, sig := range want {
		if err := k.loadSignal(s, sig); err != nil {
			s.setStatus(sig, Off, err.Error())
		}
		anyOn = anyOn || s.StatusOf(sig).State != Off
	}
	if !anyOn {
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

// kernelMissing returns why no BPF program can load here, "" when they
// may: BTF, raw tracepoints, ring buffers, and the memlock rlimit when
// Config.RemoveMemlock asks to lift it.
func kernelMissing(cfg Config) string {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return "kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load"
	}
	// features.HaveProgramType(ebpf.Tracing) probes fentry, which some
	// kernels refuse (EPERM) while tp_btf loads fine: probe raw tracepoints
	// for privileges and let loading the real programs decide the rest.
	if err := features.HaveProgramType(ebpf.RawTracepoint); err != nil {
		return featureReason("raw tracepoint programs", err)
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return featureReason("ring buffers", err)
	}
	if cfg.RemoveMemlock {
		if err := rlimit.RemoveMemlock(); err != nil {
			return "remove memlock rlimit: " + err.Error()
		}
	}
	return ""
}

// newBPFKernel returns the kernel side of s, its target translated to the
// initial pid namespace the programs see.
func newBPFKernel(s *Set, wallOffset int64) *bpfKernel {
	k := &bpfKernel{dec: newDecoder(wallOffset), target: s.target, nsTarget: s.target}
	k.dec.omitNames = s.cfg.OmitDNSNames
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
	return k
}

// createShared creates the maps of event.h every object shares (user space
// creates them once and hands them to each object as replacements), the
// ring buffer sized by cfg.
func (k *bpfKernel) createShared(cfg Config) error {
	spec, err := bpf.LoadSched()
	if err != nil {
		return fmt.Errorf("parse BPF object: %w", err)
	}
	k.shared = map[string]*ebpf.Map{}
	for _, name := range [...]string{"events", "sock_owner", "sock_trace", "lost"} {
		ms := spec.Maps[name].Copy()
		if name == "events" {
			ms.MaxEntries = uint32(cfg.RingBufferSize)
		}
		m, err := ebpf.NewMap(ms)
		if err != nil {
			for _, m := range k.shared {
				m.Close()
			}
			return errors.New(featureReason("create map "+name, err))
		}
		k.shared[name] = m
	}
	k.events, k.owner, k.trace, k.lostMap = k.shared["events"], k.shared["sock_owner"], k.shared["sock_trace"], k.shared["lost"]
	k.closers = append(k.closers, k.events, k.owner, k.trace, k.lostMap)
	return nil
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

// object is the BPF object behind a kernel signal.
type object struct {
	// name names the object in LoadError.Probe.
	name string
	load func() (*ebpf.CollectionSpec, error)
	// outlier is the duration from which events go to the ring buffer
	// (the rest only to the histogram); 0 for objects without one.
	outlier time.Duration
	// hist names the signal's histogram map keyed by tgid; hist+"_self"
	// is the target's one-entry map. "" without a histogram.
	hist string
	// progs are the tp_btf programs attached with the signal (the net and
	// DNS objects attach theirs in netSecond and dnsPrograms).
	progs []string
	// schedInfo: the programs read the scheduler's bookkeeping
	// (schedBookkeeping).
	schedInfo bool
	// gate names the variable that switches the signal's part of the
	// sched_switch program the scheduler signals share (schedSwitch).
	gate string
}

// objectOf returns the object of kernel signal sig, configured by cfg.
func objectOf(sig Signal, cfg Config) (object, bool) {
	switch sig {
	case RunqueueDelay:
		return object{name: "sched", load: bpf.LoadSched, hist: "runq_hist", gate: "runq_on", schedInfo: true}, true
	case TCPRetransmit, ConnectLatency:
		return object{name: "net", load: bpf.LoadNet}, true
	case DNSLatency:
		return object{name: "dns", load: bpf.LoadDns}, true
	case MemReclaim:
		return object{name: "mm", load: bpf.LoadMm, outlier: cfg.ReclaimThreshold, hist: "reclaim_hist",
			progs: []string{"slo_reclaim_begin", "slo_reclaim_end", "slo_memcg_reclaim_begin", "slo_memcg_reclaim_end"}}, true
	case BlockIO:
		return object{name: "blk", load: bpf.LoadBlk, outlier: cfg.BlockIOThreshold, hist: "blk_hist",
			progs: []string{"slo_block_io_start", "slo_block_io_done"}}, true
	case SyscallLatency:
		return object{name: "sched", load: bpf.LoadSched, hist: "sys_hist", gate: "sys_on", schedInfo: true}, true
	}
	return object{}, false
}

// loadSignal loads the object of sig and attaches its programs.
func (k *bpfKernel) loadSignal(s *Set, sig Signal) error {
	obj, ok := objectOf(sig, s.cfg)
	if !ok {
		return fmt.Errorf("no BPF program for %s", sig)
	}
	if obj.schedInfo {
		if err := schedBookkeeping(); err != nil {
			return &LoadError{Probe: "sched", Err: err}
		}
	}
	if obj.name == "net" && k.netColl != nil {
		return k.netSecond(s, sig) // one net object serves both signals
	}
	if obj.gate != "" && k.sched != nil {
		return k.schedSecond(s, sig, obj) // one sched object serves both signals
	}
	coll, err := k.newCollection(obj, s.cfg)
	if err != nil {
		return &LoadError{Probe: obj.name, Err: err}
	}
	k.colls = append(k.colls, coll)
	switch sig {
	case TCPRetransmit, ConnectLatency:
		k.netColl = coll
		return k.netSecond(s, sig)
	case DNSLatency:
		if err := k.dnsPrograms(coll, s.cfg.DNSPorts); err != nil {
			return &LoadError{Probe: obj.name, Err: err}
		}
	case RunqueueDelay, SyscallLatency:
		skip := coll.Maps["sys_skip"]
		for _, nr := range blockingSyscalls() {
			_ = skip.Put(uint32(nr), uint8(1))
		}
		k.sched = &schedSwitch{coll: coll}
		return k.schedSecond(s, sig, obj)
	}
	for _, p := range obj.progs {
		k.add(sig, coll, p, attachTracing)
	}
	if obj.hist != "" {
		k.hists[sig], k.histSelf[sig] = coll.Maps[obj.hist], coll.Maps[obj.hist+"_self"]
	}
	return k.attachSignal(s, sig)
}

// newCollection loads obj with its variables set from cfg and the shared
// maps in place of its own.
func (k *bpfKernel) newCollection(obj object, cfg Config) (*ebpf.Collection, error) {
	spec, err := obj.load()
	if err != nil {
		return nil, err
	}
	vars := []struct {
		name string
		val  any
		set  bool
	}{
		{"target_tgid", k.target, true},
		{"claim_on_send", true, cfg.ClaimOnSend},
		{"outlier_ns", uint64(obj.outlier), true},
		{"runq_outlier_ns", uint64(cfg.RunqueueThreshold), true},
		{"sys_outlier_ns", uint64(cfg.SyscallThreshold), true},
	}
	for _, v := range vars {
		if sv := spec.Variables[v.name]; sv != nil && v.set {
			if err := sv.Set(v.val); err != nil {
				return nil, err
			}
		}
	}
	if ms := spec.Maps["events"]; ms != nil {
		ms.MaxEntries = uint32(cfg.RingBufferSize)
	}
	repl := map[string]*ebpf.Map{}
	for n, m := range k.shared {
		if _, ok := spec.Maps[n]; ok {
			repl[n] = m
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{MapReplacements: repl})
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("permission denied (needs CAP_BPF and CAP_PERFMON, or root): %w", err)
	}
	return coll, err
}

// attachFunc attaches a program.
type attachFunc func(*ebpf.Program) (link.Link, error)

// attachTracing attaches a tp_btf program.
func attachTracing(p *ebpf.Program) (link.Link, error) {
	return link.AttachTracing(link.TracingOptions{Program: p})
}

// add registers program prog of coll as one of sig's attachments.
func (k *bpfKernel) add(sig Signal, coll *ebpf.Collection, prog string, attach attachFunc) {
	k.atts[sig] = append(k.atts[sig], &attachment{name: prog, prog: coll.Programs[prog], attach: attach})
}

// netSecond attaches the programs of the net object that sig needs, the
// object being loaded once for TCPRetransmit and ConnectLatency.
func (k *bpfKernel) netSecond(s *Set, sig Signal) error {
	coll := k.netColl
	switch sig {
	case TCPRetransmit:
		k.add(sig, coll, "slo_tcp_retransmit", attachTracing)
		if s.cfg.ClaimOnSend {
			k.add(sig, coll, "slo_sock_send", attachTracing)
		}
		if !s.cfg.wants(ConnectLatency) {
			// Registers connecting, listening and accepted sockets and
			// forgets closed ones.
			k.add(sig, coll, "slo_inet_sock_set_state", attachTracing)
		}
	case ConnectLatency:
		k.add(sig, coll, "slo_inet_sock_set_state", attachTracing)
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
	_, v2, _ := cgroupfs.Mounts()
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
