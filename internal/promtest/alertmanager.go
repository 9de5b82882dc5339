package promtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// AlertmanagerOptions configures [StartAlertmanager].
type AlertmanagerOptions struct {
	// Webhook is the URL every alert is delivered to (one webhook receiver
	// on the root route). Required.
	Webhook string
	// GroupBy lists the labels alerts are grouped by; empty means
	// alertname and objective.
	GroupBy []string
	// GroupWait and GroupInterval are the route's; 0 means 1 s, so that a
	// test sees a delivery within seconds of the alert.
	GroupWait, GroupInterval time.Duration
}

// Alertmanager is a running Alertmanager, stopped when the test ends.
type Alertmanager struct {
	// URL is its base URL, http://<Addr>; Addr is for [Options.Alertmanagers].
	URL string
	*Process
}

// StartAlertmanager starts prometheus-alertmanager on a free loopback port,
// its clustering off, its configuration and storage in a temporary
// directory, and waits until it is ready (30 s at most). It is stopped by
// its PID (SIGTERM, then SIGKILL after 10 s) when tb ends; its log is
// printed when tb failed.
func StartAlertmanager(tb testing.TB, opts AlertmanagerOptions) *Alertmanager {
	tb.Helper()
	bin := Binary(tb, "prometheus-alertmanager")
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, alertmanagerConfig(opts), 0o644); err != nil {
		tb.Fatal(err)
	}
	am := &Alertmanager{}
	am.Process = StartProcess(tb, "alertmanager", filepath.Join(dir, "alertmanager.log"), "/-/ready", func(addr string) *exec.Cmd {
		am.URL = "http://" + addr
		return exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	})
	return am
}

func alertmanagerConfig(opts AlertmanagerOptions) []byte {
	d := func(v time.Duration) string {
		if v <= 0 {
			v = time.Second
		}
		return fmt.Sprintf("%dms", v.Milliseconds())
	}
	groupBy := opts.GroupBy
	if len(groupBy) == 0 {
		groupBy = []string{"alertname", "objective"}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "route:\n  receiver: test\n  group_by: [%s]\n  group_wait: %s\n  group_interval: %s\n  repeat_interval: 1h\n",
		quoted(groupBy), d(opts.GroupWait), d(opts.GroupInterval))
	fmt.Fprintf(&b, "receivers:\n  - name: test\n    webhook_configs:\n      - url: %q\n        send_resolved: false\n", opts.Webhook)
	return b.Bytes()
}
