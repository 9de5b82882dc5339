package release

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestLayerTar(t *testing.T) {
	bin := []byte("\x7fELF not really")
	b, err := layerTar("slo-sidecar", bin, testEpoch)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Name     string
		Type     byte
		Mode     int64
		Uid, Gid int
		Names    string
		ModTime  time.Time
		Body     string
	}
	var got []entry
	for _, e := range tarEntries(t, bytes.NewReader(b)) {
		h := e.hdr
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: atime %v ctime %v, want none", h.Name, h.AccessTime, h.ChangeTime)
		}
		got = append(got, entry{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname + h.Gname, h.ModTime.UTC(), string(e.body)})
	}
	dir := func(name string) entry { return entry{name, tar.TypeDir, 0o755, 0, 0, "", testEpoch, ""} }
	want := []entry{
		dir("etc/"),
		{"etc/group", tar.TypeReg, 0o644, 0, 0, "", testEpoch, "root:x:0:\nllmslo:x:10001:\n"},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0, "", testEpoch,
			"root:x:0:0:root:/root:/sbin/nologin\nllmslo:x:10001:10001:llmslo:/nonexistent:/sbin/nologin\n"},
		dir("usr/"), dir("usr/local/"), dir("usr/local/bin/"),
		{"usr/local/bin/slo-sidecar", tar.TypeReg, 0o755, 0, 0, "", testEpoch, string(bin)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("layer entries (-want +got):\n%s", diff)
	}
	again, _ := layerTar("slo-sidecar", bin, testEpoch)
	if !bytes.Equal(b, again) {
		t.Error("the same input gave two different tars")
	}
}

// tarEntry is a header and body of a tar stream.
type tarEntry struct {
	hdr  *tar.Header
	body []byte
}

// tarEntries reads every entry of the tar stream r.
func tarEntries(t *testing.T, r io.Reader) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{h, body})
	}
}

// openLayout opens the OCI layout dir and reads its index.json.
func openLayout(t *testing.T, dir string) (v1.ImageIndex, *v1.IndexManifest) {
	t.Helper()
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return ii, im
}

// fakeArtifacts writes a stand-in binary and SBOM per platform into dir.
func fakeArtifacts(t *testing.T, dir string, c *Config) []artifact {
	t.Helper()
	prog, _ := Lookup("rag-service")
	var arts []artifact
	for _, pl := range c.Platforms {
		a := artifact{prog: prog, platform: pl, sbom: []byte(`{"bomFormat":"CycloneDX","for":"` + pl.Arch + `"}`)}
		a.bin = filepath.Join(dir, a.base(c.Version))
		if err := os.WriteFile(a.bin, []byte("binary for "+pl.String()), 0o755); err != nil {
			t.Fatal(err)
		}
		arts = append(arts, a)
	}
	return arts
}

func testConfig(epoch time.Time) *Config {
	return &Config{Version: "v1.2.3", Revision: "0123abc", Epoch: epoch,
		Platforms: []Platform{{"linux", "amd64"}, {"linux", "arm64"}}}
}

// layoutFiles writes the layout for c and returns its files by name.
func layoutFiles(t *testing.T, c *Config) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	arts := fakeArtifacts(t, dir, c)
	out := filepath.Join(dir, "oci", "rag-service")
	if err := c.writeLayout(out, arts); err != nil {
		t.Fatal(err)
	}
	return out, readTree(t, out)
}

// TestLayoutReproducible writes the same layout twice, in two
// directories: the bytes are the same. Another epoch changes them.
func TestLayoutReproducible(t *testing.T) {
	_, a := layoutFiles(t, testConfig(testEpoch))
	_, b := layoutFiles(t, testConfig(testEpoch))
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two layouts of the same input differ:\n%s", diff)
	}
	_, c := layoutFiles(t, testConfig(testEpoch.Add(time.Second)))
	if bytes.Equal(a["index.json"], c["index.json"]) {
		t.Error("another SOURCE_DATE_EPOCH gave the same index.json")
	}
}

// TestLayout reads the layout back: the refs, each image's platform,
// config and annotations, the SBOM referrers.
func TestLayout(t *testing.T) {
	c := testConfig(testEpoch)
	dir, _ := layoutFiles(t, c)
	ii, im := openLayout(t, dir)
	refs := map[string]v1.Descriptor{}
	subjects := map[v1.Hash]bool{}
	for _, d := range im.Manifests {
		if r := d.Annotations[refName]; r != "" {
			refs[r] = d
		}
		if d.ArtifactType == SBOMMediaType {
			m := readManifest(t, dir, d.Digest)
			if m.Config.MediaType != "application/vnd.oci.empty.v1+json" || len(m.Layers) != 1 || m.Subject == nil {
				t.Errorf("SBOM referrer %+v", m)
				continue
			}
			subjects[m.Subject.Digest] = true
		}
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for r := range refs {
			yield(r)
		}
	}); !slices.Equal(got, []string{"v1.2.3", "v1.2.3-linux-amd64", "v1.2.3-linux-arm64"}) {
		t.Fatalf("refs %v", got)
	}
	prog, _ := Lookup("rag-service")
	for _, pl := range c.Platforms {
		d := refs[ImageRef(c.Version, &pl)]
		if d.Platform == nil || d.Platform.Architecture != pl.Arch || !subjects[d.Digest] {
			t.Errorf("%s: platform %v, SBOM attached %v", pl, d.Platform, subjects[d.Digest])
		}
		img, err := ii.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		want := v1.Config{
			User: "10001:10001", Entrypoint: []string{"/usr/local/bin/rag-service"}, Cmd: prog.Args,
			Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}, WorkingDir: "/",
			ExposedPorts: map[string]struct{}{"8080/tcp": {}}, Labels: c.annotations(prog),
		}
		if diff := cmp.Diff(want, cf.Config); diff != "" || cf.Architecture != pl.Arch || !cf.Created.Equal(testEpoch) {
			t.Errorf("%s config (-want +got):\n%s\narchitecture %s created %s", pl, diff, cf.Architecture, cf.Created)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Annotations["org.opencontainers.image.revision"] != "0123abc" {
			t.Errorf("%s manifest %s annotations %v", pl, m.MediaType, m.Annotations)
		}
	}
}

func readManifest(t *testing.T, dir string, h v1.Hash) v1.Manifest {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := v1.ParseManifest(f)
	if err != nil {
		t.Fatal(err)
	}
	return *m
}

// TestWriteSums checks the format against sha256sum -c, when installed.
func TestWriteSums(t *testing.T) {
	out := t.TempDir()
	for name, body := range map[string]string{
		"b_v1_linux_amd64": "bin", "a_v1_linux_amd64.cdx.json": "{}",
		"oci/a/index.json": `{"schemaVersion":2}`, "oci/a/blobs/sha256/00": "not listed",
	} {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeSums(out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	want := "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a  a_v1_linux_amd64.cdx.json\n" +
		"51a1f05af85e342e3c849b47d387086476282d5f50dc240c19216d6edfb1eb5a  b_v1_linux_amd64\n"
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) != 4 || strings.Join(lines[:2], "") != want || !strings.HasSuffix(lines[2], "  oci/a/index.json\n") {
		t.Errorf("SHA256SUMS:\n%s\nwant the first two lines\n%s", b, want)
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "-c", "--strict", "SHA256SUMS")
		cmd.Dir = out
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, out)
		}
	}
}
