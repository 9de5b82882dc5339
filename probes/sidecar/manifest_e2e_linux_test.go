//go:build linux

package sidecar

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/internal/testutil"
)

// manifestSidecar is how a manifest under deploy/sidecar runs the
// slo-sidecar container.
type manifestSidecar struct {
	file       string
	uid, gid   uint32
	caps       []string // capabilities.add, without CAP_
	dropAll    bool     // capabilities.drop is ["ALL"]
	noNewPrivs bool     // allowPrivilegeEscalation: false
	args       []string
}

// readManifests parses every slo-sidecar container of deploy/sidecar/*.yaml.
func readManifests(t *testing.T) []manifestSidecar {
	t.Helper()
	files, err := filepath.Glob("../../deploy/sidecar/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var out []manifestSidecar
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, c := range podContainers(doc) {
				if c["name"] != "slo-sidecar" {
					continue
				}
				out = append(out, parseSidecarContainer(t, filepath.Base(f), c))
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no slo-sidecar container in deploy/sidecar")
	}
	return out
}

// podContainers returns the containers of a Pod or of a workload's pod
// template.
func podContainers(doc map[string]any) []map[string]any {
	spec, _ := doc["spec"].(map[string]any)
	if tmpl, ok := spec["template"].(map[string]any); ok {
		spec, _ = tmpl["spec"].(map[string]any)
	}
	var out []map[string]any
	list, _ := spec["containers"].([]any)
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func parseSidecarContainer(t *testing.T, file string, c map[string]any) manifestSidecar {
	t.Helper()
	m := manifestSidecar{file: file}
	sc, _ := c["securityContext"].(map[string]any)
	uid, ok := sc["runAsUser"].(int)
	if !ok {
		t.Fatalf("%s: slo-sidecar has no runAsUser", file)
	}
	m.uid = uint32(uid)
	if gid, ok := sc["runAsGroup"].(int); ok {
		m.gid = uint32(gid)
	}
	m.noNewPrivs = sc["allowPrivilegeEscalation"] == false
	caps, _ := sc["capabilities"].(map[string]any)
	add, _ := caps["add"].([]any)
	for _, a := range add {
		m.caps = append(m.caps, fmt.Sprint(a))
	}
	drop, _ := caps["drop"].([]any)
	m.dropAll = len(drop) == 1 && drop[0] == "ALL"
	args, _ := c["args"].([]any)
	for _, a := range args {
		m.args = append(m.args, fmt.Sprint(a))
	}
	return m
}

// capNumbers are the capabilities a manifest may name.
var capNumbers = map[string]uintptr{
	"CHOWN": unix.CAP_CHOWN, "DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE, "DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH,
	"FOWNER": unix.CAP_FOWNER, "KILL": unix.CAP_KILL, "SETUID": unix.CAP_SETUID, "SETGID": unix.CAP_SETGID,
	"NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "NET_ADMIN": unix.CAP_NET_ADMIN, "NET_RAW": unix.CAP_NET_RAW,
	"SYS_PTRACE": unix.CAP_SYS_PTRACE, "SYS_ADMIN": unix.CAP_SYS_ADMIN, "SYS_RESOURCE": unix.CAP_SYS_RESOURCE,
	"PERFMON": unix.CAP_PERFMON, "BPF": unix.CAP_BPF, "CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// capMask returns the capability bit mask of names.
func capMask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		c, ok := capNumbers[n]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		m |= 1 << c
	}
	return m, nil
}

// runCapExecHelper becomes the process a container runtime starts for the
// manifest: it keeps exactly the capabilities of SLO_SC_CAPS that it holds
// (bounding, permitted and effective sets; none inheritable or ambient), sets
// no_new_privs when SLO_SC_NNP is 1, and executes SLO_SC_EXEC with this
// process's arguments. Its uid and gid are the ones it was started with.
func runCapExecHelper() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "capexec:", err); return 1 }
	mask, err := capMask(strings.Split(os.Getenv("SLO_SC_CAPS"), ","))
	if err != nil {
		return fail(err)
	}
	// Capabilities are per thread: change this thread's and execute from it.
	runtime.LockOSThread()
	// A runtime can grant only what it holds: on a host whose root lacks one
	// of the manifest's capabilities the sidecar runs without it.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var held [2]unix.CapUserData
	if err := unix.Capget(&hdr, &held[0]); err != nil {
		return fail(fmt.Errorf("capget: %w", err))
	}
	mask &= uint64(held[0].Permitted) | uint64(held[1].Permitted)<<32
	for c := uintptr(0); c <= unix.CAP_LAST_CAP; c++ {
		if mask&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fail(fmt.Errorf("drop %d from the bounding set: %w", c, err))
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fail(err)
	}
	data := [2]unix.CapUserData{
		{Effective: uint32(mask), Permitted: uint32(mask)},
		{Effective: uint32(mask >> 32), Permitted: uint32(mask >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fail(fmt.Errorf("capset: %w", err))
	}
	if os.Getenv("SLO_SC_NNP") == "1" {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fail(err)
		}
	}
	exe := os.Getenv("SLO_SC_EXEC")
	return fail(syscall.Exec(exe, append([]string{exe}, os.Args[1:]...), []string{"PATH=/usr/bin:/bin"}))
}

// buildSidecar builds cmd/slo-sidecar into dir as the release does
// (without cgo: a static binary that can drop capabilities on every
// thread).
func buildSidecar(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, "slo-sidecar")
	cmd := exec.Command(goBin, "build", "-o", out, "./cmd/slo-sidecar")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as released
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/slo-sidecar: %v\n%s", err, b)
	}
	if err := os.Chmod(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// sidecarArgs are the manifest's arguments with the socket, the health
// address and the DNS ports of the test.
func sidecarArgs(m manifestSidecar, socket, dnsPorts string) []string {
	var args []string
	for _, a := range m.args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "socket" || name == "health" || name == "dns-ports" {
			continue
		}
		args = append(args, a)
	}
	return append(args, "-socket="+socket, "-health=127.0.0.1:0", "-dns-ports="+dnsPorts)
}

// startManifestSidecar starts the built sidecar as m says and waits until
// its socket is served; the process is killed and reaped at cleanup.
func startManifestSidecar(t *testing.T, m manifestSidecar, testBin, sidecarBin string, args []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(testBin, args...)
	cmd.Env = []string{"SLO_SIDECAR_HELPER=capexec", "SLO_SC_EXEC=" + sidecarBin,
		"SLO_SC_CAPS=" + strings.Join(m.caps, ","), "SLO_SC_NNP=" + map[bool]string{true: "1", false: "0"}[m.noNewPrivs]}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: m.uid, Gid: m.gid, NoSetGroups: false},
		Pdeathsig:  syscall.SIGKILL,
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	served, exited := make(chan struct{}), make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if len(lines) < 100 {
				lines = append(lines, line)
			}
			if strings.Contains(line, `"msg":"serving"`) {
				close(served)
			}
			if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, "rejected") || strings.Contains(line, `"level":"ERROR"`) {
				t.Logf("sidecar: %s", line)
			}
		}
		exited <- lines
	}()
	select {
	case <-served:
	case lines := <-exited:
		t.Fatalf("the sidecar exited before serving:\n%s", strings.Join(lines, "\n"))
	case <-time.After(30 * time.Second):
		t.Fatal("the sidecar did not serve within 30s")
	}
	return cmd
}

// procStatus returns the fields of /proc/<pid>/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// checkCredentials asserts the sidecar process runs with the manifest's
// uid and capability bounding set, and, serving, with only those of
// RuntimeCapabilities effective and permitted.
func checkCredentials(t *testing.T, m manifestSidecar, pid int) {
	t.Helper()
	bounding, err := capMask(m.caps)
	if err != nil {
		t.Fatal(err)
	}
	runtimeCaps, err := capMask(RuntimeCapabilities())
	if err != nil {
		t.Fatal(err)
	}
	// What this host's root holds bounds what any runtime can grant.
	host, err := strconv.ParseUint(procStatus(t, os.Getpid())["CapPrm"], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if missing := bounding &^ host; missing != 0 {
		t.Logf("this host's root lacks capabilities %#x of the manifest: the sidecar runs without them", missing)
	}
	bounding &= host
	st := procStatus(t, pid)
	for k, want := range map[string]uint64{"CapBnd": bounding, "CapEff": bounding & runtimeCaps, "CapPrm": bounding & runtimeCaps} {
		got, err := strconv.ParseUint(st[k], 16, 64)
		if err != nil || got != want {
			t.Errorf("sidecar %s = %s, want %016x", k, st[k], want)
		}
	}
	for _, k := range []string{"CapInh", "CapAmb"} {
		if got, _ := strconv.ParseUint(st[k], 16, 64); got != 0 {
			t.Errorf("sidecar %s = %s, want none", k, st[k])
		}
	}
	uid := strconv.Itoa(int(m.uid))
	if f := strings.Fields(st["Uid"]); len(f) != 4 || slices.ContainsFunc(f, func(s string) bool { return s != uid }) {
		t.Errorf("sidecar Uid %q, want %s", st["Uid"], uid)
	}
	if m.noNewPrivs && st["NoNewPrivs"] != "1" {
		t.Errorf("sidecar NoNewPrivs %q, want 1", st["NoNewPrivs"])
	}
	t.Logf("sidecar pid %d: Uid %s Gid %s CapBnd %s CapEff %s NoNewPrivs %s", pid, st["Uid"], st["Gid"], st["CapBnd"], st["CapEff"], st["NoNewPrivs"])
}

// TestManifestSidecarServesUnprivilegedTenants starts cmd/slo-sidecar as
// each manifest under deploy/sidecar starts it — the uid, group and
// capability set read from the manifest, every other capability dropped,
// no_new_privs — and two clients as uid 10001, the manifests' application
// user, each in a cgroup of its own, provoking DNS delay and TCP
// retransmissions at the same time. Each must be served by the sidecar and
// receive its own events and none of the other's.
func TestManifestSidecarServesUnprivilegedTenants(t *testing.T) {
	testutil.RequireBPF(t)
	testutil.RequireRootNet(t)
	const appUID = 10001
	for _, m := range readManifests(t) {
		t.Run(m.file, func(t *testing.T) {
			if !m.dropAll {
				t.Fatalf("%s: the sidecar does not drop ALL capabilities", m.file)
			}
			rig := newIsolationRig(t, 74)
			// The socket directory belongs to the sidecar's uid (an emptyDir or
			// hostPath the runtime creates); clients traverse it.
			if err := os.Chown(rig.dir, int(m.uid), int(m.gid)); err != nil {
				t.Fatal(err)
			}
			sidecarBin := buildSidecar(t, rig.dir)
			cmd := startManifestSidecar(t, m, rig.bin, sidecarBin, sidecarArgs(m, rig.socket, rig.portList()))
			checkCredentials(t, m, cmd.Process.Pid)
			rig.runClients(t, appUID, m.gid)
			rig.check(t)
		})
	}
}
