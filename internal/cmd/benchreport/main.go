// Command benchreport compares `go test -bench` results with package
// github.com/llmslo/slo/benchstat and gates the overhead.
//
// Usage:
//
//	benchreport [flags] [files...]
//
// With -key, it compares sub-benchmark variants of one run: every value of
// /key=... against the -base value (e.g. -key impl -base bare compares
// BenchmarkServe/impl=otelhttp with BenchmarkServe/impl=bare). Without
// -key, -base names the base file and the other files are the test side;
// without -base, exactly two files are expected (base, then test). No
// file, or "-", reads standard input.
//
// It prints one table of changes with confidence intervals and, with
// -gate, the gate verdicts (see benchstat.Gate; -gate-only limits the gate
// to some test labels, so impl=otelhttp can be reported without being
// gated). The project's own overhead check is
//
//	go test -run '^$' -bench . -benchmem -count 10 ./... > bench.out
//	go run ./internal/cmd/benchreport -key impl -base bare -gate -gate-only slo bench.out
//
// Exit status: 0 when no gate failed, 1 when a
// gate failed (or was inconclusive with -fail-inconclusive), 2 on usage or
// input errors.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/llmslo/slo/benchstat"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// parse reads the named files ("-" is stdin) into one result set.
func parse(files []string, stdin io.Reader) (*benchstat.Results, error) {
	res := &benchstat.Results{}
	for _, f := range files {
		if f == "-" {
			if err := res.Read(stdin, "<stdin>"); err != nil {
				return nil, err
			}
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			return nil, fmt.Errorf("open bench results: %w", err)
		}
		err = res.Read(fh, f)
		_ = fh.Close() // read-only: a close error loses nothing
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := benchstat.DefaultThresholds()
	var (
		key         = fs.String("key", "", "compare variants of sub-benchmark `key` (e.g. impl) within one run")
		base        = fs.String("base", "", "base variant with -key (default: first seen), else the base `file`")
		gate        = fs.Bool("gate", false, "apply the overhead gate and exit 1 if it fails")
		maxOverhead = fs.Float64("max-overhead", d.MaxOverhead, "gate: tolerated relative slowdown of the median; negative never fails")
		maxCV       = fs.Float64("max-cv", d.MaxCV, "gate: largest coefficient of variation for a conclusive verdict; negative disables")
		minSamples  = fs.Int("min-samples", d.MinSamples, "gate: smallest sample size for a conclusive verdict")
		alpha       = fs.Float64("alpha", d.Alpha, "significance level of the Mann-Whitney U test")
		units       = fs.String("units", strings.Join(d.Units, ","), "gate: comma-separated units to gate")
		strict      = fs.Bool("strict", false, "gate: pass only when the CI upper bound is within -max-overhead")
		gateOnly    = fs.String("gate-only", "", "gate: comma-separated test `labels` to gate (e.g. slo); default all")
		failInconcl = fs.Bool("fail-inconclusive", false, "gate: exit 1 also when the verdict is inconclusive")
		seed        = fs.Uint64("seed", 1, "bootstrap seed")
		resamples   = fs.Int("resamples", 10000, "bootstrap resamples")
		quantile    = fs.Float64("quantile", 0.5, "quantile compared by the bootstrap interval (0.5 = median)")
		quietReport = fs.Bool("q", false, "with -gate, print only the gate table")
		format      = fs.String("format", "text", "output `format`: text or markdown")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *format != "text" && *format != "markdown" {
		fmt.Fprintf(stderr, "benchreport: unknown -format %q (text or markdown)\n", *format)
		return 2
	}
	md := *format == "markdown"
	opts := benchstat.Options{
		Alpha:     *alpha,
		Bootstrap: benchstat.BootstrapOptions{Seed: *seed, Resamples: *resamples, Quantile: *quantile},
	}
	files := fs.Args()
	var rep benchstat.Report
	switch {
	case *key != "":
		if len(files) == 0 {
			files = []string{"-"}
		}
		res, err := parse(files, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "benchreport: %v\n", err)
			return 2
		}
		rep = benchstat.CompareKey(res, *key, *base, opts)
	default:
		baseFile := *base
		if baseFile == "" {
			if len(files) != 2 {
				fmt.Fprintln(stderr, "benchreport: need -key, or -base FILE, or exactly two files (base, test)")
				return 2
			}
			baseFile, files = files[0], files[1:]
		}
		if len(files) == 0 {
			files = []string{"-"}
		}
		bres, err := parse([]string{baseFile}, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "benchreport: %v\n", err)
			return 2
		}
		tres, err := parse(files, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "benchreport: %v\n", err)
			return 2
		}
		rep = benchstat.Compare(bres, tres, baseFile, strings.Join(files, "+"), opts)
	}
	if len(rep.Comparisons) == 0 {
		_ = rep.WriteText(stderr)
		fmt.Fprintln(stderr, "benchreport: nothing to compare")
		return 2
	}
	if !*gate || !*quietReport {
		write := rep.WriteText
		if md {
			write = rep.WriteMarkdown
		}
		if err := write(stdout); err != nil {
			fmt.Fprintf(stderr, "benchreport: %v\n", err)
			return 2
		}
	}
	if !*gate {
		return 0
	}
	g := benchstat.Gate{
		MaxOverhead: *maxOverhead, MaxCV: *maxCV, MinSamples: *minSamples, Alpha: *alpha,
		Units: strings.Split(*units, ","), Strict: *strict,
	}
	if *gateOnly != "" {
		g.Labels = strings.Split(*gateOnly, ",")
	}
	gr := g.CheckReport(rep)
	if !*quietReport {
		fmt.Fprintln(stdout)
	}
	write := gr.WriteText
	if md {
		write = gr.WriteMarkdown
	}
	if err := write(stdout); err != nil {
		fmt.Fprintf(stderr, "benchreport: %v\n", err)
		return 2
	}
	switch v := gr.Verdict(); {
	case v == benchstat.Fail:
		return 1
	case v == benchstat.Inconclusive && *failInconcl:
		return 1
	}
	return 0
}
