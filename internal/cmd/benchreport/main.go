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

// options are the parsed command line.
type options struct {
	key, base             string
	gate, quiet, markdown bool
	failInconclusive      bool
	gateOnly              string
	thresholds            benchstat.Gate
	compare               benchstat.Options
	files                 []string
}

// parseFlags parses the command line; a non-negative code means exit with
// it (after -h, or on a usage error already reported on stderr).
func parseFlags(args []string, stderr io.Writer) (options, int) {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := benchstat.DefaultThresholds()
	var o options
	fs.StringVar(&o.key, "key", "", "compare variants of sub-benchmark `key` (e.g. impl) within one run")
	fs.StringVar(&o.base, "base", "", "base variant with -key (default: first seen), else the base `file`")
	fs.BoolVar(&o.gate, "gate", false, "apply the overhead gate and exit 1 if it fails")
	var (
		maxOverhead = fs.Float64("max-overhead", d.MaxOverhead, "gate: tolerated relative slowdown of the median; negative never fails")
		maxCV       = fs.Float64("max-cv", d.MaxCV, "gate: largest coefficient of variation for a conclusive verdict; negative disables")
		minSamples  = fs.Int("min-samples", d.MinSamples, "gate: smallest sample size for a conclusive verdict")
		alpha       = fs.Float64("alpha", d.Alpha, "significance level of the Mann-Whitney U test")
		units       = fs.String("units", strings.Join(d.Units, ","), "gate: comma-separated units to gate")
		strict      = fs.Bool("strict", false, "gate: pass only when the CI upper bound is within -max-overhead")
		seed        = fs.Uint64("seed", 1, "bootstrap seed")
		resamples   = fs.Int("resamples", 10000, "bootstrap resamples")
		quantile    = fs.Float64("quantile", 0.5, "quantile compared by the bootstrap interval (0.5 = median)")
		format      = fs.String("format", "text", "output `format`: text or markdown")
	)
	fs.StringVar(&o.gateOnly, "gate-only", "", "gate: comma-separated test `labels` to gate (e.g. slo); default all")
	fs.BoolVar(&o.failInconclusive, "fail-inconclusive", false, "gate: exit 1 also when the verdict is inconclusive")
	fs.BoolVar(&o.quiet, "q", false, "with -gate, print only the gate table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0
		}
		return o, 2
	}
	if *format != "text" && *format != "markdown" {
		fmt.Fprintf(stderr, "benchreport: unknown -format %q (text or markdown)\n", *format)
		return o, 2
	}
	o.markdown = *format == "markdown"
	o.compare = benchstat.Options{
		Alpha:     *alpha,
		Bootstrap: benchstat.BootstrapOptions{Seed: *seed, Resamples: *resamples, Quantile: *quantile},
	}
	o.thresholds = benchstat.Gate{
		MaxOverhead: *maxOverhead, MaxCV: *maxCV, MinSamples: *minSamples, Alpha: *alpha,
		Units: strings.Split(*units, ","), Strict: *strict,
	}
	if o.gateOnly != "" {
		o.thresholds.Labels = strings.Split(o.gateOnly, ",")
	}
	o.files = fs.Args()
	return o, -1
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, code := parseFlags(args, stderr)
	if code >= 0 {
		return code
	}
	rep, err := o.report(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "benchreport: %v\n", err)
		return 2
	}
	if len(rep.Comparisons) == 0 {
		_ = rep.WriteText(stderr)
		fmt.Fprintln(stderr, "benchreport: nothing to compare")
		return 2
	}
	if !o.gate || !o.quiet {
		write := rep.WriteText
		if o.markdown {
			write = rep.WriteMarkdown
		}
		if err := write(stdout); err != nil {
			fmt.Fprintf(stderr, "benchreport: %v\n", err)
			return 2
		}
	}
	if !o.gate {
		return 0
	}
	return o.checkGate(rep, stdout, stderr)
}

// report reads the results and compares them: the variants of -key within
// the files, or the base file with the others.
func (o options) report(stdin io.Reader) (benchstat.Report, error) {
	files := o.files
	if o.key != "" {
		if len(files) == 0 {
			files = []string{"-"}
		}
		res, err := parse(files, stdin)
		if err != nil {
			return benchstat.Report{}, err
		}
		return benchstat.CompareKey(res, o.key, o.base, o.compare), nil
	}
	baseFile := o.base
	if baseFile == "" {
		if len(files) != 2 {
			return benchstat.Report{}, errors.New("need -key, or -base FILE, or exactly two files (base, test)")
		}
		baseFile, files = files[0], files[1:]
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	bres, err := parse([]string{baseFile}, stdin)
	if err != nil {
		return benchstat.Report{}, err
	}
	tres, err := parse(files, stdin)
	if err != nil {
		return benchstat.Report{}, err
	}
	return benchstat.Compare(bres, tres, baseFile, strings.Join(files, "+"), o.compare), nil
}

// checkGate prints the gate verdicts of rep and returns the exit code.
func (o options) checkGate(rep benchstat.Report, stdout, stderr io.Writer) int {
	gr := o.thresholds.CheckReport(rep)
	if !o.quiet {
		fmt.Fprintln(stdout)
	}
	write := gr.WriteText
	if o.markdown {
		write = gr.WriteMarkdown
	}
	if err := write(stdout); err != nil {
		fmt.Fprintf(stderr, "benchreport: %v\n", err)
		return 2
	}
	switch v := gr.Verdict(); {
	case v == benchstat.Fail:
		return 1
	case v == benchstat.Inconclusive && o.failInconclusive:
		return 1
	}
	return 0
}
