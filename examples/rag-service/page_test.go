package main

import (
	"bytes"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a Chromium binary, skipping the test when
// there is none outside CI; with CI set a missing browser is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set but chromium is missing (Debian package chromium)")
	}
	t.Skip("chromium not installed (apt-get install chromium); CI runs this test")
	return ""
}

// artifactDir is $SLO_ARTIFACTS when set (kept after the test), else a
// temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("SLO_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestStatusPageRendersInBrowser loads the status page in headless Chromium
// after real traffic and an injected fault, and saves the screenshot.
func TestStatusPageRendersInBrowser(t *testing.T) {
	bin := chromium(t)
	a := startTestApp(t)
	streamMany(t, a, 40, 8)
	waitRequests(t, a, 40)
	if err := a.injectFault(t.Context(), "provider_throttle"); err != nil {
		t.Fatal(err)
	}
	c := newLoadClient(a.URL())
	for i := 0; i < 40 && a.tracker.Status().Incidents == 0; i++ {
		_, _ = askStream(t.Context(), c, questions[i%len(questions)])
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(a.tracker.Incidents()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}

	// The HTML itself carries the data (server-side rendered).
	resp, err := http.Get(a.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"ttft_500ms_p99", "tpot_50ms_p99", "error_rate_p99.9", "provider_throttle", "TTFT p50 / p90 / p99", "Last incidents"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if bytes.Contains(html, []byte("No incident yet")) {
		t.Error("status page shows no incident after the fault")
	}

	dir := artifactDir(t)
	shot := filepath.Join(dir, "rag-service-status.png")
	profile := t.TempDir()
	cmd := exec.CommandContext(t.Context(), bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+profile, "--screenshot="+shot, "--window-size=1280,900", a.URL()+"/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Errorf("screenshot is %dx%d, want 1280x900", b.Dx(), b.Dy())
	}
	// A rendered page has text, bars and pills: many distinct colours; a
	// blank or error page has a handful.
	colours := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[(r>>11)<<10|(g>>11)<<5|bl>>11] = true
		}
	}
	if len(colours) < 50 {
		t.Errorf("screenshot has only %d distinct colours: blank page?", len(colours))
	}
	t.Logf("screenshot: %s (%d distinct colours)", shot, len(colours))
	if strings.Contains(string(out), "ERR_CONNECTION_REFUSED") {
		t.Errorf("chromium could not reach the service:\n%s", out)
	}
}
