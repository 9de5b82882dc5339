package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRefusesBadFlags checks the flags are validated before anything
// is built.
func TestRunRefusesBadFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dist")
	base := []string{"-root", "../../../..", "-out", out, "-revision", "abc", "-epoch", "1700000000"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-platforms", "darwin/arm64"}, "want linux/amd64 or linux/arm64"},
		{[]string{"-programs", "slo-sidecar,nope"}, `no program "nope"`},
		{[]string{"-epoch", "yesterday"}, `epoch "yesterday"`},
		{[]string{"-epoch", "-5"}, `epoch "-5"`},
		{[]string{"-root", t.TempDir()}, "VERSION"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		err := run(context.Background(), append(append([]string{}, base...), tt.args...), &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("release %v: %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
