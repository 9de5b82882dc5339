package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Config says what [Run] builds. Every field but Go and Log is required.
type Config struct {
	// Root is the module root of github.com/llmslo/slo.
	Root string
	// Out is the output directory. It must not exist or be empty.
	Out string
	// Version is the release version (see [ReadVersion]).
	Version string
	// Revision is the source revision, the images'
	// org.opencontainers.image.revision (a commit id).
	Revision string
	// Epoch is SOURCE_DATE_EPOCH: the time of the last commit, used for
	// every timestamp the release writes (file mtimes, image creation, SBOM).
	Epoch time.Time
	// Platforms are the targets; Programs the programs built for each.
	Platforms []Platform
	Programs  []Program
	// Go is the go command; "go" when empty.
	Go string
	// Log receives one line per step; nil discards them.
	Log io.Writer
}

// artifact is one program built for one platform.
type artifact struct {
	prog     Program
	platform Platform
	bin      string // path of the binary
	sbom     []byte // its CycloneDX SBOM (JSON)
}

// base returns the file name of the binary: <name>_<version>_<os>_<arch>.
func (a artifact) base(version string) string {
	return fmt.Sprintf("%s_%s_%s_%s", a.prog.Name, version, a.platform.OS, a.platform.Arch)
}

// Run builds every program for every platform into c.Out: binaries, SBOMs,
// an OCI layout per program and SHA256SUMS (see the package doc).
func Run(ctx context.Context, c Config) error {
	if err := c.check(); err != nil {
		return err
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	for _, prog := range c.Programs {
		var arts []artifact
		for _, pl := range c.Platforms {
			a := artifact{prog: prog, platform: pl}
			a.bin = filepath.Join(c.Out, a.base(c.Version))
			c.logf("build %s for %s", prog.Name, pl)
			if err := c.build(ctx, a); err != nil {
				return fmt.Errorf("build %s for %s: %w", prog.Name, pl, err)
			}
			sbom, err := c.sbom(a)
			if err != nil {
				return fmt.Errorf("sbom of %s for %s: %w", prog.Name, pl, err)
			}
			a.sbom = sbom
			if err := os.WriteFile(a.bin+".cdx.json", sbom, 0o644); err != nil {
				return err
			}
			arts = append(arts, a)
		}
		c.logf("image layout oci/%s", prog.Name)
		if err := c.writeLayout(filepath.Join(c.Out, "oci", prog.Name), arts); err != nil {
			return fmt.Errorf("image of %s: %w", prog.Name, err)
		}
	}
	c.logf("SHA256SUMS")
	return writeSums(c.Out)
}

func (c *Config) check() error {
	switch {
	case c.Root == "" || c.Out == "":
		return errors.New("release: Root and Out are required")
	case c.Version == "":
		return errors.New("release: no version")
	case c.Revision == "":
		return errors.New("release: no revision (outside a git checkout, set it explicitly)")
	case c.Epoch.IsZero():
		return errors.New("release: no SOURCE_DATE_EPOCH (outside a git checkout, set it explicitly)")
	case len(c.Platforms) == 0 || len(c.Programs) == 0:
		return errors.New("release: no platform or no program")
	}
	ents, err := os.ReadDir(c.Out)
	if err == nil && len(ents) > 0 {
		return fmt.Errorf("release: output directory %s is not empty", c.Out)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if c.Go == "" {
		c.Go = "go"
	}
	return nil
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "release: "+format+"\n", args...)
	}
}

// build runs go build for a: no absolute paths (-trimpath), no VCS stamping
// (the revision is on the image, and a copy of the tree without .git must
// build the same bytes), no build id, no symbol table or DWARF, and the
// release version stamped into slo.Version (versionFlag). Everything
// in the environment that changes the output is pinned; GOFLAGS is cleared
// so the caller's cannot leak in.
// versionPackage is the package whose version variable a release stamps.
const versionPackage = "github.com/llmslo/slo"

// versionFlag returns the linker flag that sets slo.Version to version (the
// VERSION file's value).
func versionFlag(version string) string { return "-X " + versionPackage + ".version=" + version }

func (c *Config) build(ctx context.Context, a artifact) error {
	cmd := exec.CommandContext(ctx, c.Go, "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid= "+versionFlag(c.Version), "-o", a.bin, a.prog.Package)
	cmd.Dir = c.Root
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOOS="+a.platform.OS, "GOARCH="+a.platform.Arch,
		"GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=", "GOEXPERIMENT=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}
