package release

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// writeSums writes out/SHA256SUMS in sha256sum(1) format ("<hex>  <path>",
// sorted by path, `sha256sum -c SHA256SUMS` checks it): every file directly
// in out (the binaries and their SBOMs) and the index.json of each OCI
// layout, which names every manifest, config and layer by digest.
func writeSums(out string) error {
	files, err := filepath.Glob(filepath.Join(out, "*"))
	if err != nil {
		return err
	}
	indexes, err := filepath.Glob(filepath.Join(out, "oci", "*", "index.json"))
	if err != nil {
		return err
	}
	var lines []string
	for _, f := range append(files, indexes...) {
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		sum, err := fileSHA256(f)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(out, f)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s  %s\n", sum, filepath.ToSlash(rel)))
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(strings.Join(lines, "")), 0o644)
}
