package release

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/semver"
)

// Repository is the registry path the images are named under:
// Repository/<program>:<version>.
const Repository = "ghcr.io/llmslo"

// Source is the source repository, the images' org.opencontainers.image.source.
const Source = "https://github.com/llmslo/slo"

// License is the SPDX identifier of the module's license, the images'
// org.opencontainers.image.licenses.
const License = "MIT"

// UID and GID are the numeric user and group the images run as by default
// (the manifests' runAsUser/runAsGroup of the unprivileged containers). The
// sidecar's manifests override the user with 0: the capabilities a pod adds
// are effective for root only, and allowPrivilegeEscalation: false rules out
// file capabilities.
const (
	UID = 10001
	GID = 10001
)

// Program is one shipped program.
type Program struct {
	// Name names the binary, the image and the SBOM.
	Name string
	// Package is the main package, relative to the module root.
	Package string
	// Description is the image's org.opencontainers.image.description.
	Description string
	// Args are the image's default arguments (its Cmd).
	Args []string
	// Ports are the ports the image exposes ("8089/tcp").
	Ports []string
}

// Programs returns the shipped programs: the sidecar and the reference
// service, whose image the example manifests run as the application.
func Programs() []Program {
	return []Program{
		{
			Name:        "slo-sidecar",
			Package:     "./cmd/slo-sidecar",
			Description: "llmslo sidecar: kernel signals (eBPF) for unprivileged processes embedding github.com/llmslo/slo",
			Ports:       []string{"8089/tcp"},
		},
		{
			Name:        "rag-service",
			Package:     "./examples/rag-service",
			Description: "llmslo reference service: an OpenAI-compatible streaming chat API instrumented with github.com/llmslo/slo",
			Args:        []string{"-addr=:8080"},
			Ports:       []string{"8080/tcp"},
		},
	}
}

// Lookup returns the program called name.
func Lookup(name string) (Program, bool) {
	for _, p := range Programs() {
		if p.Name == name {
			return p, true
		}
	}
	return Program{}, false
}

// Image returns the image reference of the program at version:
// Repository/<name>:<version>.
func (p Program) Image(version string) string {
	return Repository + "/" + p.Name + ":" + version
}

// ReadVersion returns the release version, the one line of the file VERSION
// in the module root: a semantic version with its v prefix ("v0.1.0").
func ReadVersion(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if !semver.IsValid(v) || semver.Canonical(v) != v { // full vX.Y.Z[-pre], no +build
		return "", fmt.Errorf("VERSION %q: want a semantic version like v1.2.3", v)
	}
	return v, nil
}

// Platform is a target of the release build.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// ParsePlatforms parses a comma-separated list of os/arch pairs
// ("linux/amd64,linux/arm64"). Only linux targets are shipped.
func ParsePlatforms(s string) ([]Platform, error) {
	var out []Platform
	seen := map[Platform]bool{}
	for f := range strings.SplitSeq(s, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(f), "/")
		p := Platform{os, arch}
		switch {
		case !ok || os != "linux" || (arch != "amd64" && arch != "arm64"):
			return nil, fmt.Errorf("platform %q: want linux/amd64 or linux/arm64", f)
		case seen[p]:
			return nil, fmt.Errorf("platform %s listed twice", p)
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}
