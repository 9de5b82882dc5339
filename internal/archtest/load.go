package archtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
)

// Platform is a GOOS/GOARCH pair the graph is read for.
type Platform struct {
	GOOS, GOARCH string
}

// Platforms are the pairs [Load] reads by default: the ones the module is
// built for (Linux on amd64 and arm64) and the ones it must still build on.
var Platforms = []Platform{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "arm64"}, {"windows", "amd64"}}

// Load returns the packages of the module in dir (`go list ./...`), their
// imports merged over platforms ([Platforms] when none are given). A
// non-empty overlay is passed to go list as -overlay, which lets a test add
// files without touching the tree.
func Load(ctx context.Context, dir, overlay string, platforms ...Platform) ([]Package, error) {
	if len(platforms) == 0 {
		platforms = Platforms
	}
	byPath := map[string]*Package{}
	var order []string
	for _, pl := range platforms {
		pkgs, err := list(ctx, dir, overlay, pl)
		if err != nil {
			return nil, err
		}
		for _, p := range pkgs {
			q, ok := byPath[p.Path]
			if !ok {
				q = &Package{Path: p.Path}
				byPath[p.Path] = q
				order = append(order, p.Path)
			}
			q.Imports = union(q.Imports, p.Imports)
			q.TestImports = union(q.TestImports, p.TestImports)
			if q.Error == "" && p.Error != "" {
				q.Error = pl.GOOS + "/" + pl.GOARCH + ": " + p.Error
			}
		}
	}
	out := make([]Package, 0, len(order))
	for _, path := range order {
		out = append(out, *byPath[path])
	}
	return out, nil
}

// listed is the part of `go list -json` output Load reads.
type listed struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// list runs go list for one platform.
func list(ctx context.Context, dir, overlay string, pl Platform) ([]Package, error) {
	args := []string{"list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Error"}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./...")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+pl.GOOS, "GOARCH="+pl.GOARCH, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list (%s/%s): %w: %s", pl.GOOS, pl.GOARCH, err, stderr.Bytes())
	}
	var out []Package
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var l listed
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("go list (%s/%s) output: %w", pl.GOOS, pl.GOARCH, err)
		}
		p := Package{Path: l.ImportPath, Imports: l.Imports, TestImports: union(l.TestImports, l.XTestImports)}
		if l.Error != nil {
			p.Error = l.Error.Err
		}
		out = append(out, p)
	}
}

// union returns the sorted union of a and b without duplicates.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
