package release

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePlatforms(t *testing.T) {
	tests := []struct {
		in      string
		want    []Platform
		wantErr string
	}{
		{"linux/amd64", []Platform{{"linux", "amd64"}}, ""},
		{"linux/amd64, linux/arm64", []Platform{{"linux", "amd64"}, {"linux", "arm64"}}, ""},
		{"darwin/arm64", nil, "want linux/amd64 or linux/arm64"},
		{"linux", nil, "want linux/amd64 or linux/arm64"},
		{"linux/riscv64", nil, "want linux/amd64 or linux/arm64"},
		{"linux/amd64,linux/amd64", nil, "listed twice"},
		{"", nil, "want linux/amd64"},
	}
	for _, tt := range tests {
		got, err := ParsePlatforms(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePlatforms(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParsePlatforms(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestReadVersion(t *testing.T) {
	tests := []struct{ file, want, wantErr string }{
		{"v0.1.0\n", "v0.1.0", ""},
		{"  v1.2.3-rc.1  \n", "v1.2.3-rc.1", ""},
		{"0.1.0\n", "", "want a semantic version"},
		{"v1.2\n", "", "want a semantic version"},
		{"v1.2.3+meta\n", "", "want a semantic version"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte(tt.file), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadVersion(dir)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("VERSION %q: error %v, want %q", tt.file, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("VERSION %q: %q, %v; want %q", tt.file, got, err, tt.want)
		}
	}
	if v, err := ReadVersion(filepath.Join("..", "..", "..")); err != nil || v == "" {
		t.Errorf("the repository's VERSION: %q, %v", v, err)
	}
}

// TestProgramsImage checks the names the manifests are held to.
func TestProgramsImage(t *testing.T) {
	var got []string
	for _, p := range Programs() {
		got = append(got, p.Image("v1.0.0"))
		if _, err := os.Stat(filepath.Join("..", "..", "..", p.Package, "main.go")); err != nil {
			t.Errorf("%s: package %s: %v", p.Name, p.Package, err)
		}
	}
	want := []string{"ghcr.io/llmslo/slo-sidecar:v1.0.0", "ghcr.io/llmslo/rag-service:v1.0.0"}
	if !slices.Equal(got, want) {
		t.Errorf("images %v, want %v", got, want)
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup found a program that does not exist")
	}
}

// TestRunRefuses checks what Run refuses before building anything.
func TestRunRefuses(t *testing.T) {
	full := func() Config {
		return Config{Root: "..", Out: filepath.Join(t.TempDir(), "dist"), Version: "v1.0.0", Revision: "abc",
			Epoch: testEpoch, Platforms: []Platform{{"linux", "amd64"}}, Programs: Programs()}
	}
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "old"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"no revision", func(c *Config) { c.Revision = "" }, "no revision"},
		{"no epoch", func(c *Config) { c.Epoch = time.Time{} }, "no SOURCE_DATE_EPOCH"},
		{"no platform", func(c *Config) { c.Platforms = nil }, "no platform"},
		{"output not empty", func(c *Config) { c.Out = nonEmpty }, "is not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := full()
			tt.change(&c)
			err := Run(context.Background(), c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
