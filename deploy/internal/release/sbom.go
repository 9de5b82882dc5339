package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/CycloneDX/cyclonedx-gomod/pkg/generate/bin"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
)

// generatorModule is the module of the SBOM generator, named in each SBOM's
// metadata.tools.
const generatorModule = "github.com/CycloneDX/cyclonedx-gomod"

// sbom returns the CycloneDX 1.6 SBOM (JSON) of a's binary. The components
// come from the build info the go command embedded in the binary — the
// modules actually linked, with their versions and go.sum hashes — plus the
// Go standard library; the main component carries the release version. The
// timestamp is the release epoch and the serial number a name-based UUID of
// the binary's digest, so the SBOM is as reproducible as the binary.
func (c *Config) sbom(a artifact) ([]byte, error) {
	g, err := bin.NewGenerator(a.bin, bin.WithVersionOverride(c.Version), bin.WithIncludeStdlib(true),
		bin.WithLogger(zerolog.Nop()))
	if err != nil {
		return nil, err
	}
	bom, err := g.Generate()
	if err != nil {
		return nil, err
	}
	sum, err := fileSHA256(a.bin)
	if err != nil {
		return nil, err
	}
	bom.SerialNumber = uuid.NewSHA1(uuid.NameSpaceURL, []byte(Source+"/"+a.base(c.Version)+"@sha256:"+sum)).URN()
	if bom.Metadata == nil {
		bom.Metadata = &cdx.Metadata{}
	}
	bom.Metadata.Timestamp = c.Epoch.UTC().Format(time.RFC3339)
	bom.Metadata.Tools = &cdx.ToolsChoice{Components: &[]cdx.Component{{
		Type:    cdx.ComponentTypeApplication,
		Group:   "CycloneDX",
		Name:    "cyclonedx-gomod",
		Version: moduleVersion(generatorModule),
	}}}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), nil
}

// moduleVersion returns the version of module path linked into this
// program, or "unknown".
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "unknown"
}

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}
