package archtest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// known lists the violations the tree still has, each with the change that
// removes it. A listed violation that no longer occurs fails
// TestModuleLayout too, so the list can only shrink.
var known = map[string]string{}

// moduleDir returns the directory of the module's go.mod.
func moduleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside a module")
	}
	return filepath.Dir(gomod)
}

// TestModuleLayout checks the module's own package graph, on every platform
// of Platforms, against the layout table.
func TestModuleLayout(t *testing.T) {
	pkgs, err := Load(t.Context(), moduleDir(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; want the whole module", len(pkgs))
	}
	seen := map[string]bool{}
	for _, v := range Check(pkgs, Layout()) {
		seen[v.Key()] = true
		if why, ok := known[v.Key()]; ok {
			t.Logf("known: %s (until %s)", v, why)
			continue
		}
		t.Errorf("%s", v)
	}
	for k := range known {
		if !seen[k] {
			t.Errorf("known violation %q no longer occurs: delete it from known", k)
		}
	}
}

// TestForbiddenImportFails adds, through a go list overlay (the tree is not
// touched), files that import against the rules, and expects Check to
// report each of them.
func TestForbiddenImportFails(t *testing.T) {
	dir := moduleDir(t)
	tmp := t.TempDir()
	files := map[string]string{
		// A library package importing the fault injectors.
		"semconv/zz_archtest.go": "package semconv\n\nimport _ \"" + Module + "/faults\"\n",
		// A library package importing cilium/ebpf and the OTel SDK.
		"attribution/zz_archtest.go": "package attribution\n\nimport (\n\t_ \"github.com/cilium/ebpf\"\n\t_ \"go.opentelemetry.io/otel/sdk/trace\"\n)\n",
		// A sub-package importing the root (benchstat: no import cycle).
		"benchstat/zz_archtest.go": "package benchstat\n\nimport _ \"" + Module + "\"\n",
		// A lower layer importing a higher one.
		"correlate/zz_archtest.go": "package correlate\n\nimport _ \"" + Module + "/attribution\"\n",
		// A sub-package's test importing the root.
		"internal/burn/zz_archtest_test.go": "package burn_test\n\nimport _ \"" + Module + "\"\n",
		// A package the table does not know.
		"zzarchtest/zz.go": "package zzarchtest\n",
	}
	replace := map[string]string{}
	for name, src := range files {
		f := filepath.Join(tmp, strings.ReplaceAll(name, "/", "_"))
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		replace[filepath.Join(dir, filepath.FromSlash(name))] = f
	}
	b, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlay, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pkgs, err := Load(t.Context(), dir, overlay, Platform{"linux", "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range Check(pkgs, Layout()) {
		got = append(got, v.Key())
	}
	for _, want := range []string{
		"semconv -> faults",
		"attribution -> github.com/cilium/ebpf",
		"attribution -> go.opentelemetry.io/otel/sdk/trace",
		"benchstat -> .",
		"correlate -> attribution",
		"internal/burn -(test)-> .",
		"zzarchtest",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("forbidden import %q not reported; got %q", want, got)
		}
	}
}
