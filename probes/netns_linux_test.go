//go:build linux

package probes

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/llmslo/slo/internal/testutil"
)

// testNetns is a network namespace created for one test (ip netns add),
// with lo up, deleted at cleanup.
type testNetns struct {
	name string
	path string
}

var netnsSeq atomic.Int32

func newTestNetns(t *testing.T) *testNetns {
	t.Helper()
	testutil.RequireRootNet(t)
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			testutil.Skip(t, bin+" not installed (apt-get install iproute2 nftables)")
		}
	}
	ns := &testNetns{name: fmt.Sprintf("slo-probes-%d-%d", os.Getpid(), netnsSeq.Add(1))}
	ns.path = "/run/netns/" + ns.name
	run(t, "ip", "netns", "add", ns.name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns.name, err, out)
		}
	})
	ns.ip(t, "link", "set", "lo", "up")
	return ns
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// ip runs `ip -n <ns> args...`.
func (ns *testNetns) ip(t *testing.T, args ...string) {
	t.Helper()
	run(t, "ip", append([]string{"-n", ns.name}, args...)...)
}

// nft loads an nftables ruleset into the namespace. Tables die with it.
func (ns *testNetns) nft(t *testing.T, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns.name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s\n%s", ns.name, err, out, ruleset)
	}
}

// do runs fn on a thread switched into the namespace: sockets fn creates
// belong to the namespace for their whole life.
func (ns *testNetns) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(ns.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- fmt.Errorf("restore netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
