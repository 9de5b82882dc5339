package slo

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoDirective checks that the modules ask for Go 1.26.0, the oldest
// 1.26 release (golang.org/x/sys and the other x modules declare go 1.26.0,
// so "go 1.26" is refused by the go command), with no toolchain line: any
// Go 1.26 toolchain builds them without downloading another. The README
// says the same.
func TestGoDirective(t *testing.T) {
	for _, path := range []string{"go.mod", filepath.Join("deploy", "go.mod")} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var goLine string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(line, "go "):
				goLine = line
			case strings.HasPrefix(line, "toolchain "):
				t.Errorf("%s: %q makes older 1.26 toolchains download another", path, line)
			}
		}
		f.Close()
		if goLine != "go 1.26.0" {
			t.Errorf("%s: %q, want \"go 1.26.0\" (a later patch release forces users of earlier ones to download a toolchain)", path, goLine)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "Go 1.26") {
		t.Error("README.md does not say which Go it needs (Go 1.26)")
	}
}
