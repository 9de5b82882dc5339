// Command release builds the shipped programs of github.com/llmslo/slo —
// binaries for each platform, their CycloneDX SBOMs, an OCI image layout per
// program and SHA256SUMS — reproducibly, without a container engine. `make
// release` runs it; docs/release.md describes the output.
//
// Usage (from the deploy module):
//
//	go run ./internal/cmd/release -root .. -out ../dist [-platforms linux/amd64,linux/arm64]
//	    [-programs slo-sidecar,rag-service] [-revision COMMIT] [-epoch SECONDS]
//
// The version is the root's VERSION file. The revision defaults to the
// root's git HEAD (with a -dirty suffix when tracked files differ from it);
// the epoch to $SOURCE_DATE_EPOCH, else the committer time
// of HEAD.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/llmslo/slo/deploy/internal/release"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "release:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "..", "module root of github.com/llmslo/slo")
	out := fs.String("out", "../dist", "output directory (must not exist or be empty)")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch targets")
	programs := fs.String("programs", "", "comma-separated programs (default: all)")
	revision := fs.String("revision", "", "source revision (default: git rev-parse HEAD in -root)")
	epoch := fs.String("epoch", os.Getenv("SOURCE_DATE_EPOCH"), "SOURCE_DATE_EPOCH in seconds (default: $SOURCE_DATE_EPOCH, else the commit time of HEAD)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := release.Config{Log: stderr}
	var err error
	if c.Root, err = filepath.Abs(*root); err != nil {
		return err
	}
	if c.Out, err = filepath.Abs(*out); err != nil {
		return err
	}
	if c.Version, err = release.ReadVersion(c.Root); err != nil {
		return err
	}
	if c.Platforms, err = release.ParsePlatforms(*platforms); err != nil {
		return err
	}
	if c.Programs, err = selectPrograms(*programs); err != nil {
		return err
	}
	if c.Revision = *revision; c.Revision == "" {
		if c.Revision, err = git(c.Root, "rev-parse", "HEAD"); err != nil {
			return fmt.Errorf("revision: %w (pass -revision)", err)
		}
		if st, err := git(c.Root, "status", "--porcelain", "--untracked-files=no"); err != nil || st != "" {
			c.Revision += "-dirty" // tracked files differ from the commit
		}
	}
	if *epoch == "" {
		if *epoch, err = git(c.Root, "log", "-1", "--format=%ct"); err != nil {
			return fmt.Errorf("epoch: %w (pass -epoch or set SOURCE_DATE_EPOCH)", err)
		}
	}
	secs, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil || secs <= 0 {
		return fmt.Errorf("epoch %q: want seconds since 1970", *epoch)
	}
	c.Epoch = time.Unix(secs, 0).UTC()
	return release.Run(ctx, c)
}

// selectPrograms returns the programs named in the comma-separated list,
// all of them when it is empty.
func selectPrograms(list string) ([]release.Program, error) {
	if list == "" {
		return release.Programs(), nil
	}
	var ps []release.Program
	for name := range strings.SplitSeq(list, ",") {
		p, ok := release.Lookup(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("no program %q", name)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// git runs git in dir and returns its trimmed output.
func git(dir string, args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
