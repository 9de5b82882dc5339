package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of the SBOM attached to each image.
const (
	// SBOMMediaType is the media type of a CycloneDX JSON document, the
	// artifactType of the SBOM referrer and the media type of its one layer.
	SBOMMediaType = "application/vnd.cyclonedx+json"
	// refName is the annotation naming a manifest in a layout's index.json.
	refName = "org.opencontainers.image.ref.name"
)

// ImageRef returns the reference of the image index in the program's OCI
// layout (the version) and, for a platform, of that platform's image
// (version-os-arch): `skopeo inspect oci:<layout>:<ref>`.
func ImageRef(version string, p *Platform) string {
	if p == nil {
		return version
	}
	return version + "-" + p.OS + "-" + p.Arch
}

// annotations returns the OCI annotations of the program's images and
// index, which are also the images' labels.
func (c *Config) annotations(p Program) map[string]string {
	return map[string]string{
		"org.opencontainers.image.created":     c.Epoch.UTC().Format(time.RFC3339),
		"org.opencontainers.image.version":     c.Version,
		"org.opencontainers.image.revision":    c.Revision,
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.title":       p.Name,
		"org.opencontainers.image.description": p.Description,
		"org.opencontainers.image.licenses":    License,
	}
}

// image returns a's image: one layer (see [layerTar]), the non-root user,
// the program as entrypoint, OCI media types, labels and annotations.
func (c *Config) image(a artifact) (v1.Image, error) {
	binary, err := os.ReadFile(a.bin)
	if err != nil {
		return nil, err
	}
	t, err := layerTar(a.prog.Name, binary, c.Epoch)
	if err != nil {
		return nil, err
	}
	l, err := newLayer(t)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: c.Epoch.UTC()}
	ports := map[string]struct{}{}
	for _, p := range a.prog.Ports {
		ports[p] = struct{}{}
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: a.platform.Arch,
		OS:           a.platform.OS,
		Created:      created,
		Config: v1.Config{
			User:         fmt.Sprintf("%d:%d", UID, GID),
			Entrypoint:   []string{binDir + "/" + a.prog.Name},
			Cmd:          a.prog.Args,
			Env:          []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
			WorkingDir:   "/",
			ExposedPorts: ports,
			Labels:       c.annotations(a.prog),
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{
		Created:   created,
		CreatedBy: "llmslo release: go build " + a.prog.Package + " to " + binDir + "/" + a.prog.Name,
	}})
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	return mutate.Annotations(img, c.annotations(a.prog)).(v1.Image), nil
}

// writeLayout writes the program's OCI image layout to dir. Its index.json
// lists the image index (ref: the version), each platform's image (ref:
// version-os-arch, see [ImageRef]) and each image's SBOM as a referrer: an
// OCI 1.1 artifact manifest whose subject is the image, artifactType
// [SBOMMediaType], the empty config and the SBOM as its one layer.
func (c *Config) writeLayout(dir string, arts []artifact) error {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var descs []v1.Descriptor
	for _, a := range arts {
		img, err := c.image(a)
		if err != nil {
			return err
		}
		d, err := partial.Descriptor(img)
		if err != nil {
			return err
		}
		d.Platform = &v1.Platform{OS: a.platform.OS, Architecture: a.platform.Arch}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: *d})
		d.Annotations = map[string]string{refName: ImageRef(c.Version, &a.platform)}
		descs = append(descs, *d)
	}
	idx = mutate.Annotations(idx, c.annotations(arts[0].prog)).(v1.ImageIndex)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{refName: c.Version})); err != nil {
		return err
	}
	for _, d := range descs {
		if err := p.AppendDescriptor(d); err != nil {
			return err
		}
	}
	for i, a := range arts {
		if err := c.attachSBOM(p, descs[i], a.sbom); err != nil {
			return err
		}
	}
	return nil
}

// emptyJSON is the OCI empty descriptor's content: the config of an
// artifact that has none.
const emptyJSON = "{}"

// attachSBOM writes sbom as a referrer of the image subject into p.
func (c *Config) attachSBOM(p layout.Path, subject v1.Descriptor, sbom []byte) error {
	subject.Annotations, subject.Platform = nil, nil
	cfg := v1.Descriptor{MediaType: types.OCIEmptyJSON, Digest: sha256Hash([]byte(emptyJSON)), Size: int64(len(emptyJSON))}
	body := v1.Descriptor{MediaType: SBOMMediaType, Digest: sha256Hash(sbom), Size: int64(len(sbom))}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  SBOMMediaType,
		Config:        cfg,
		Layers:        []v1.Descriptor{body},
		Subject:       &subject,
		Annotations:   map[string]string{"org.opencontainers.image.created": c.Epoch.UTC().Format(time.RFC3339)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	for _, b := range [][]byte{[]byte(emptyJSON), sbom, raw} {
		if err := p.WriteBlob(sha256Hash(b), io.NopCloser(bytes.NewReader(b))); err != nil {
			return err
		}
	}
	return p.AppendDescriptor(v1.Descriptor{
		MediaType: types.OCIManifestSchema1, ArtifactType: SBOMMediaType,
		Digest: sha256Hash(raw), Size: int64(len(raw)),
	})
}
