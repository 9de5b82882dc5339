package release

import (
	"bytes"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestMakeRelease runs `make release` twice, each time in a fresh copy of
// the tracked files of the repository at a different path, and checks the
// two dist/ trees are byte-identical; then reads every image with skopeo
// and checks every SBOM against the binary's build info and go.mod's
// versions. It builds linux/amd64 only unless SLO_RELEASE_PLATFORMS says
// otherwise (`make release` builds arm64 too). SLO_RELEASE_COLD=1 runs the
// second build with an empty build cache, so that nothing is reused from
// the first.
//
// It runs under CI=true (where skopeo must be installed) or
// SLO_RELEASE_TEST=1; elsewhere it skips: it takes minutes.
func TestMakeRelease(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("SLO_RELEASE_TEST") != "1" {
		t.Skip("builds the release twice; runs under CI=true or SLO_RELEASE_TEST=1")
	}
	for _, tool := range []string{"git", "make", "skopeo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (.ci/run installs it)", tool, err)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	platforms := os.Getenv("SLO_RELEASE_PLATFORMS")
	if platforms == "" {
		platforms = "linux/amd64"
	}
	env := []string{
		"SOURCE_DATE_EPOCH=" + gitOut(t, root, "log", "-1", "--format=%ct"),
		"RELEASE_REVISION=" + gitOut(t, root, "rev-parse", "HEAD"),
		"RELEASE_PLATFORMS=" + platforms,
	}
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a", "slo"), filepath.Join(tmp, "second-copy", "slo")
	copyTracked(t, root, a)
	copyTracked(t, root, b)
	makeRelease(t, a, env)
	if os.Getenv("SLO_RELEASE_COLD") == "1" {
		env = append(env, "GOCACHE="+filepath.Join(tmp, "gocache"))
	}
	makeRelease(t, b, env)
	distA, distB := filepath.Join(a, "dist"), filepath.Join(b, "dist")
	compareTrees(t, distA, distB)
	sums, err := os.ReadFile(filepath.Join(distA, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SHA256SUMS (identical in both builds):\n%s", sums)

	want := releaseFacts{
		version:  readVersion(t, root),
		revision: strings.TrimPrefix(env[1], "RELEASE_REVISION="),
		created:  epochTime(t, strings.TrimPrefix(env[0], "SOURCE_DATE_EPOCH=")),
	}
	pls, err := ParsePlatforms(platforms)
	if err != nil {
		t.Fatal(err)
	}
	mods := goListModules(t, root)
	for _, p := range Programs() {
		t.Run(p.Name, func(t *testing.T) {
			checkIndex(t, distA, p, want.version, pls)
			for _, pl := range pls {
				checkImage(t, distA, p, pl, want)
				checkSBOM(t, distA, p, pl, want.version, mods)
			}
		})
	}
}

// releaseFacts are what every image must carry.
type releaseFacts struct {
	version, revision string
	created           time.Time
}

func readVersion(t *testing.T, root string) string {
	t.Helper()
	v, err := ReadVersion(root)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func epochTime(t *testing.T, s string) time.Time {
	t.Helper()
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("epoch %q: %v", s, err)
	}
	return time.Unix(secs, 0).UTC()
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// copyTracked copies the files of root that git tracks or would track (not
// ignored), as they are in the working tree, to dst: a clean tree without
// build outputs or .git.
func copyTracked(t *testing.T, root, dst string) {
	t.Helper()
	for name := range strings.SplitSeq(strings.TrimRight(gitOut(t, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// makeRelease runs `make release` in dir with env added, without the
// make variables of an enclosing `make test`.
func makeRelease(t *testing.T, dir string, env []string) {
	t.Helper()
	cmd := exec.Command("make", "release")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" && k != "GOFLAGS" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make release in %s: %v\n%s", dir, err, out)
	}
	t.Logf("make release in %s: %.1f s", dir, time.Since(start).Seconds())
}

// compareTrees fails unless a and b hold the same files with the same bytes.
func compareTrees(t *testing.T, a, b string) {
	t.Helper()
	fa, fb := readTree(t, a), readTree(t, b)
	if diff := cmp.Diff(slices.Sorted(maps.Keys(fa)), slices.Sorted(maps.Keys(fb))); diff != "" {
		t.Fatalf("dist file lists differ (-first +second):\n%s", diff)
	}
	for name, x := range fa {
		if !bytes.Equal(x, fb[name]) {
			t.Errorf("dist/%s differs between the two builds", name)
		}
	}
	t.Logf("dist: %d files, byte-identical in both builds", len(fa))
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
