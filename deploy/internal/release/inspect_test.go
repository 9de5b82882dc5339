package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// skopeo runs `skopeo inspect args... oci:<layout>:<ref>` and decodes its
// JSON output into v.
func skopeo(t *testing.T, v any, layoutDir, ref string, args ...string) {
	t.Helper()
	args = append(append([]string{"inspect"}, args...), "oci:"+layoutDir+":"+ref)
	out, err := exec.Command("skopeo", args...).Output()
	if err != nil {
		t.Fatalf("skopeo %s: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// checkIndex reads the program's image index with skopeo: one image per
// platform built.
func checkIndex(t *testing.T, dist string, p Program, version string, pls []Platform) {
	t.Helper()
	var idx v1.IndexManifest
	skopeo(t, &idx, filepath.Join(dist, "oci", p.Name), ImageRef(version, nil), "--raw")
	var got, want []string
	for _, m := range idx.Manifests {
		if m.Platform != nil {
			got = append(got, m.Platform.OS+"/"+m.Platform.Architecture)
		}
	}
	for _, pl := range pls {
		want = append(want, pl.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index %s:%s platforms (-want +got):\n%s", p.Name, version, diff)
	}
	if idx.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("index media type %s", idx.MediaType)
	}
}

// inspected is the part of `skopeo inspect` checked here.
type inspected struct {
	Created      time.Time
	Architecture string
	Os           string
	Labels       map[string]string
	Layers       []string
}

// checkImage reads one platform's image with skopeo (architecture, user,
// entrypoint, labels) and its layer with go-containerregistry (the released
// binary, root-owned files at the epoch, the user in /etc/passwd).
func checkImage(t *testing.T, dist string, p Program, pl Platform, want releaseFacts) {
	t.Helper()
	dir, ref := filepath.Join(dist, "oci", p.Name), ImageRef(want.version, &pl)
	var img inspected
	skopeo(t, &img, dir, ref)
	var cfg v1.ConfigFile
	skopeo(t, &cfg, dir, ref, "--config")
	t.Logf("skopeo inspect oci:%s:%s: architecture %s, os %s, created %s, user %q, entrypoint %q, labels %v",
		filepath.Join("dist", "oci", p.Name), ref, img.Architecture, img.Os, img.Created.Format(time.RFC3339),
		cfg.Config.User, cfg.Config.Entrypoint, img.Labels)
	wantLabels := map[string]string{
		"org.opencontainers.image.created":     want.created.Format(time.RFC3339),
		"org.opencontainers.image.version":     want.version,
		"org.opencontainers.image.revision":    want.revision,
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.title":       p.Name,
		"org.opencontainers.image.description": p.Description,
		"org.opencontainers.image.licenses":    License,
	}
	if diff := cmp.Diff(wantLabels, img.Labels); diff != "" {
		t.Errorf("%s labels (-want +got):\n%s", ref, diff)
	}
	if img.Architecture != pl.Arch || img.Os != pl.OS || !img.Created.Equal(want.created) || len(img.Layers) != 1 {
		t.Errorf("%s: architecture %s, os %s, created %s, %d layers; want %s, %s, %s, 1",
			ref, img.Architecture, img.Os, img.Created, len(img.Layers), pl.Arch, pl.OS, want.created)
	}
	entry := "/usr/local/bin/" + p.Name
	if u := fmt.Sprintf("%d:%d", UID, GID); cfg.Config.User != u || UID == 0 {
		t.Errorf("%s user %q, want the non-root %q", ref, cfg.Config.User, u)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{entry}) || !slices.Equal(cfg.Config.Cmd, p.Args) {
		t.Errorf("%s entrypoint %q cmd %q, want [%s] %q", ref, cfg.Config.Entrypoint, cfg.Config.Cmd, entry, p.Args)
	}
	bin := filepath.Join(dist, fmt.Sprintf("%s_%s_%s_%s", p.Name, want.version, pl.OS, pl.Arch))
	checkLayer(t, dir, ref, entry, bin, want.created)
}

// checkLayer opens the image ref of the layout dir and checks its one layer.
func checkLayer(t *testing.T, dir, ref, entry, bin string, epoch time.Time) {
	t.Helper()
	img, sbomLayers := imageByRef(t, dir, ref)
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%s layers: %v, %v", ref, layers, err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	want, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range tarEntries(t, rc) {
		h := e.hdr
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(epoch) {
			t.Errorf("%s %s: owner %d:%d (%q:%q), mtime %s; want 0:0, no names, %s",
				ref, h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime, epoch)
		}
		files["/"+h.Name] = e.body
	}
	if !bytes.Equal(files[entry], want) {
		t.Errorf("%s: %s is not the released binary %s", ref, entry, filepath.Base(bin))
	}
	if !strings.Contains(string(files["/etc/passwd"]), fmt.Sprintf(":%d:%d:", UID, GID)) {
		t.Errorf("%s /etc/passwd has no user %d:%d:\n%s", ref, UID, GID, files["/etc/passwd"])
	}
	sbom, err := os.ReadFile(bin + ".cdx.json")
	if err != nil {
		t.Fatal(err)
	}
	if d := sha256.Sum256(sbom); !slices.Contains(sbomLayers, "sha256:"+hex.EncodeToString(d[:])) {
		t.Errorf("%s: no SBOM referrer holding %s (referrer layers %v)", ref, filepath.Base(bin)+".cdx.json", sbomLayers)
	}
}

// imageByRef returns the image named ref in the layout dir and the layer
// digests of the SBOM artifacts whose subject it is.
func imageByRef(t *testing.T, dir, ref string) (v1.Image, []string) {
	t.Helper()
	ii, im := openLayout(t, dir)
	var img v1.Image
	var err error
	for _, d := range im.Manifests {
		if d.Annotations[refName] == ref {
			if img, err = ii.Image(d.Digest); err != nil {
				t.Fatal(err)
			}
		}
	}
	if img == nil {
		t.Fatalf("no image %s in %s", ref, dir)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var sboms []string
	for _, d := range im.Manifests {
		if d.ArtifactType != SBOMMediaType {
			continue
		}
		if m := readManifest(t, dir, d.Digest); m.Subject != nil && m.Subject.Digest == digest && len(m.Layers) == 1 && m.Layers[0].MediaType == SBOMMediaType {
			sboms = append(sboms, m.Layers[0].Digest.String())
		}
	}
	return img, sboms
}

// module is a line of `go list -m -json all` and of go.sum.
type module struct {
	Path, Version string
	Main          bool
	Sum           string // h1: from go.sum
}

// goListModules returns the build list of the module in root, each with
// its go.sum hash.
func goListModules(t *testing.T, root string) map[string]module {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-json", "all")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m -json all: %v", err)
	}
	mods := map[string]module{}
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var m module
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		mods[m.Path] = m
	}
	f, err := os.Open(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		fs := strings.Fields(sc.Text())
		if len(fs) == 3 && !strings.HasSuffix(fs[1], "/go.mod") {
			if m, ok := mods[fs[0]]; ok && m.Version == fs[1] {
				m.Sum = fs[2]
				mods[fs[0]] = m
			}
		}
	}
	return mods
}

// cdxBOM is the part of a CycloneDX SBOM checked here.
type cdxBOM struct {
	BOMFormat    string `json:"bomFormat"`
	SpecVersion  string `json:"specVersion"`
	SerialNumber string `json:"serialNumber"`
	Metadata     struct {
		Timestamp string `json:"timestamp"`
		Component struct {
			Name, Version string
		} `json:"component"`
		Properties []struct{ Name, Value string } `json:"properties"`
	} `json:"metadata"`
	Components []struct {
		Name, Version string
		Hashes        []struct{ Alg, Content string }
	} `json:"components"`
}

// checkSBOM checks the SBOM beside a binary: its components are exactly the
// modules in the binary's build info plus the standard library, at the
// versions go.mod selects (`go list -m all`) and with their go.sum hashes;
// the main component is the module at the release version, and the binary
// hash is the released binary's.
func checkSBOM(t *testing.T, dist string, p Program, pl Platform, version string, mods map[string]module) {
	t.Helper()
	bin := filepath.Join(dist, fmt.Sprintf("%s_%s_%s_%s", p.Name, version, pl.OS, pl.Arch))
	raw, err := os.ReadFile(bin + ".cdx.json")
	if err != nil {
		t.Fatal(err)
	}
	var bom cdxBOM
	if err := json.Unmarshal(raw, &bom); err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	linked := map[string]string{"std": bi.GoVersion}
	for _, d := range bi.Deps {
		linked[d.Path] = d.Version
	}
	listed := map[string]string{}
	for _, c := range bom.Components {
		listed[c.Name] = c.Version
		if c.Name == "std" {
			continue
		}
		m := mods[c.Name]
		if c.Version != m.Version {
			t.Errorf("%s: SBOM lists %s %s, go.mod selects %q", filepath.Base(bin), c.Name, c.Version, m.Version)
		}
		if h := h1Hex(m.Sum); len(c.Hashes) != 1 || c.Hashes[0].Alg != "SHA-256" || c.Hashes[0].Content != h || h == "" {
			t.Errorf("%s: %s hashes %v, want SHA-256 %s (go.sum %s)", filepath.Base(bin), c.Name, c.Hashes, h, m.Sum)
		}
	}
	if diff := cmp.Diff(linked, listed); diff != "" {
		t.Errorf("%s: SBOM components vs build info (-binary +SBOM):\n%s", filepath.Base(bin), diff)
	}
	sum := sha256.Sum256(mustRead(t, bin))
	props := map[string]string{}
	for _, pr := range bom.Metadata.Properties {
		props[pr.Name] = pr.Value
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.6" || bom.Metadata.Component.Name != "github.com/llmslo/slo" ||
		bom.Metadata.Component.Version != version || props["cdx:gomod:binary:hash:SHA-256"] != hex.EncodeToString(sum[:]) ||
		props["cdx:gomod:build:env:GOARCH"] != pl.Arch || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") {
		t.Errorf("%s: SBOM header %s %s serial %s, main %s@%s, properties %v", filepath.Base(bin), bom.BOMFormat,
			bom.SpecVersion, bom.SerialNumber, bom.Metadata.Component.Name, bom.Metadata.Component.Version, props)
	}
	t.Logf("%s.cdx.json: %d components = build info, versions = go list -m all, hashes = go.sum: %v",
		filepath.Base(bin), len(bom.Components), slices.Sorted(maps.Keys(listed)))
}

// h1Hex returns the SHA-256 of a go.sum h1: hash in hex, "" if it is not one.
func h1Hex(sum string) string {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sum, "h1:"))
	if err != nil || !strings.HasPrefix(sum, "h1:") {
		return ""
	}
	return hex.EncodeToString(b)
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
