package release

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBuildStampsVersion builds the reference service as a release does and
// runs it with -version: slo.Version reports the release version the build
// was given, not the default compiled into the library.
func TestBuildStampsVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the reference service")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	const stamped = "v9.8.7-stamp.1"
	var prog Program
	for _, p := range Programs() {
		if p.Name == "rag-service" {
			prog = p
		}
	}
	c := Config{Root: root, Version: stamped, Go: "go"}
	a := artifact{prog: prog, platform: Platform{"linux", runtime.GOARCH}, bin: filepath.Join(t.TempDir(), "rag-service")}
	if err := c.build(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), a.bin, "-version").CombinedOutput()
	if err != nil {
		t.Fatalf("rag-service -version: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != stamped {
		t.Errorf("rag-service -version = %q, want the stamped %q", got, stamped)
	}
}
