package slo

import (
	"os"
	"strings"
	"testing"
)

// TestVersionMatchesFile: the version compiled into the library is the
// VERSION file's, so a build without release stamping reports the same
// version as a release of the same tree.
func TestVersionMatchesFile(t *testing.T) {
	b, err := os.ReadFile("VERSION")
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(b)); Version() != want {
		t.Errorf("Version() = %q, VERSION says %q: update version in version.go", Version(), want)
	}
}
