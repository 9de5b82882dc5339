package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	impl := filepath.Join("testdata", "impl.txt")
	old := filepath.Join("testdata", "old.txt")
	nw := filepath.Join("testdata", "new.txt")
	implBytes, err := os.ReadFile(impl)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout []string // substrings
		stderr string
		noGate bool
	}{
		{name: "key report", args: []string{"-key", "impl", "-base", "bare", impl}, code: 0,
			stdout: []string{"Serve-2", "otelhttp", "+185.15%", "ratio CI"}, noGate: true},
		{name: "key gate fails", args: []string{"-key", "impl", "-gate", impl}, code: 1,
			stdout: []string{"FAIL", "+5.4% > 3.0%", "gate: max overhead 3.0%"}},
		{name: "looser gate, inconclusive allowed", args: []string{"-key", "impl", "-gate", "-max-overhead", "2", impl}, code: 0,
			stdout: []string{"INCONCLUSIVE", "n=4+4 < 10 samples", ": INCONCLUSIVE"}},
		{name: "inconclusive fails on request", args: []string{"-key", "impl", "-gate", "-max-overhead", "2", "-fail-inconclusive", impl}, code: 1},
		{name: "gate only slo, generous budget", args: []string{"-key", "impl", "-gate", "-gate-only", "slo", "-max-overhead", "0.06", "-min-samples", "4", impl}, code: 0,
			stdout: []string{": PASS"}},
		{name: "gate only otelhttp", args: []string{"-key", "impl", "-gate", "-gate-only", "otelhttp", "-max-overhead", "0.06", impl}, code: 1},
		{name: "quiet gate", args: []string{"-key", "impl", "-gate", "-q", impl}, code: 1,
			stdout: []string{"verdict"}},
		{name: "stdin", args: []string{"-key", "impl"}, stdin: string(implBytes), code: 0,
			stdout: []string{"Serve-2"}},
		{name: "two files gate passes", args: []string{"-gate", "-units", "sec/op,B/s", old, nw}, code: 0,
			stdout: []string{"DecodeSSE-2", "B/s", ": PASS"}},
		{name: "-base file", args: []string{"-base", old, "-gate", nw}, code: 0,
			stdout: []string{"old.txt", "new.txt"}},
		{name: "strict", args: []string{"-base", old, "-gate", "-strict", nw}, code: 0,
			stdout: []string{"CI upper", "strict"}},
		{name: "p99", args: []string{"-quantile", "0.99", old, nw}, code: 0,
			stdout: []string{"p99 ratio CI"}},
		{name: "markdown", args: []string{"-key", "impl", "-gate", "-gate-only", "slo", "-format", "markdown", impl}, code: 1,
			stdout: []string{"| benchmark | unit |", "|---|", "| FAIL |", "Warnings:"}},
		{name: "bad format", args: []string{"-format", "html", old, nw}, code: 2, stderr: "unknown -format"},
		{name: "usage", args: []string{old}, code: 2, stderr: "need -key"},
		{name: "missing file", args: []string{"-key", "impl", filepath.Join("testdata", "nope.txt")}, code: 2, stderr: "no such file"},
		{name: "unknown base variant", args: []string{"-key", "impl", "-base", "nope", impl}, code: 2, stderr: "nothing to compare"},
		{name: "bad flag", args: []string{"-nope"}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// Fewer bootstrap resamples keep the race-enabled run short.
			args := append([]string{"-resamples", "500"}, tt.args...)
			code := run(args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			if tt.noGate && strings.Contains(stdout.String(), "verdict") {
				t.Errorf("gate table printed without -gate")
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
		})
	}
}
