package promtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/promapi"
)

// Binary returns the path of the program name (prometheus, promtool,
// prometheus-alertmanager). When it is missing the test is skipped with the
// Debian package to install, or fails when CI or SLO_REQUIRE_BPF is set
// (CI installs it).
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	pkg := map[string]string{"prometheus-alertmanager": "prometheus-alertmanager"}[name]
	if pkg == "" {
		pkg = "prometheus"
	}
	if os.Getenv("CI") != "" || os.Getenv("SLO_REQUIRE_BPF") != "" {
		tb.Fatalf("CI or SLO_REQUIRE_BPF is set but %s is missing (Debian package %s): %v", name, pkg, err)
	}
	tb.Skipf("%s not installed (apt-get install %s); CI runs this test", name, pkg)
	return ""
}

// Job is one scrape job of the server's configuration.
type Job struct {
	Name    string
	Targets []string // host:port
	Path    string   // metrics path; empty means /metrics
}

// Options configures [Start]. The zero value starts an empty server that
// scrapes nothing.
type Options struct {
	// ScrapeInterval and EvalInterval are the global intervals; 0 means 1 s.
	ScrapeInterval, EvalInterval time.Duration
	// Jobs are the scrape jobs.
	Jobs []Job
	// Rules are rule files by name, loaded through rule_files.
	Rules map[string][]byte
	// Alertmanagers are host:port addresses the server sends alerts to.
	Alertmanagers []string
	// Backfill is OpenMetrics text (ending in "# EOF") written into the
	// server's storage with promtool tsdb create-blocks-from openmetrics
	// before it starts: history for queries over the past.
	Backfill []byte
	// Retention is the storage retention; 0 means 400 days, so that
	// backfilled history is kept.
	Retention time.Duration
}

// Server is a running Prometheus server, stopped when the test ends.
type Server struct {
	// URL is its base URL, http://127.0.0.1:<port>.
	URL string
	// Dir holds its configuration, rule files, storage and log.
	Dir string
	// API queries it.
	API *promapi.Client

	*Process
}

// Start starts prometheus on a free loopback port with a configuration, rule
// files and storage in a temporary directory, backfilled first when asked,
// and waits until it is ready (30 s at most). The server is stopped by its
// PID (SIGTERM, then SIGKILL after 10 s) and its directory removed when tb
// ends; its log is printed when tb failed.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	bin := Binary(tb, "prometheus")
	dir := tb.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		tb.Fatal(err)
	}
	if len(opts.Backfill) > 0 {
		backfill(tb, dir, data, opts.Backfill)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, config(tb, dir, opts), 0o644); err != nil {
		tb.Fatal(err)
	}
	retention := opts.Retention
	if retention <= 0 {
		retention = 400 * 24 * time.Hour
	}
	s := &Server{Dir: dir}
	s.Process = StartProcess(tb, "prometheus", filepath.Join(dir, "prometheus.log"), "/-/ready", func(addr string) *exec.Cmd {
		s.URL = "http://" + addr
		s.API = &promapi.Client{URL: s.URL}
		return exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+data, "--web.listen-address="+addr,
			"--storage.tsdb.retention.time="+strconv.FormatInt(int64(retention/time.Hour), 10)+"h", "--log.level=warn",
			// Firing alerts are sent again every second, not every minute:
			// an alert that fired before the Alertmanager was discovered
			// (and was dropped) reaches it a second later.
			"--rules.alert.resend-delay=1s")
	})
	return s
}

// Eventually evaluates expr until cond accepts the result or ctx ends, and
// returns the last result.
func (s *Server) Eventually(ctx context.Context, expr string, cond func([]promapi.Series) bool) ([]promapi.Series, error) {
	for {
		res, err := s.API.Query(ctx, expr, time.Now())
		if err == nil && cond(res) {
			return res, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return res, fmt.Errorf("%s: %w", expr, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func backfill(tb testing.TB, dir, data string, om []byte) {
	tb.Helper()
	src := filepath.Join(dir, "backfill.om")
	if err := os.WriteFile(src, om, 0o644); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command(Binary(tb, "promtool"), "tsdb", "create-blocks-from", "openmetrics", src, data).CombinedOutput()
	if err != nil {
		tb.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, tail(out, 2000))
	}
}

// config writes the rule files and returns the configuration.
func config(tb testing.TB, dir string, opts Options) []byte {
	tb.Helper()
	d := func(v time.Duration) string {
		if v <= 0 {
			v = time.Second
		}
		return strconv.FormatInt(v.Milliseconds(), 10) + "ms"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  evaluation_interval: %s\n", d(opts.ScrapeInterval), d(opts.EvalInterval))
	names := make([]string, 0, len(opts.Rules))
	for name := range opts.Rules {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) > 0 {
		b.WriteString("rule_files:\n")
	}
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, opts.Rules[name], 0o644); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&b, "  - %q\n", p)
	}
	if len(opts.Alertmanagers) > 0 {
		fmt.Fprintf(&b, "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [%s]\n", quoted(opts.Alertmanagers))
	}
	if len(opts.Jobs) == 0 {
		b.WriteString("scrape_configs: []\n")
	} else {
		b.WriteString("scrape_configs:\n")
	}
	for _, j := range opts.Jobs {
		fmt.Fprintf(&b, "  - job_name: %q\n", j.Name)
		if j.Path != "" {
			fmt.Fprintf(&b, "    metrics_path: %q\n", j.Path)
		}
		fmt.Fprintf(&b, "    static_configs:\n      - targets: [%s]\n", quoted(j.Targets))
	}
	return b.Bytes()
}

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// freePort returns a loopback address with a port free at the time of the call.
func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
