package benchstat

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchunit"
)

// WriteText writes the report as an aligned text table (text/tabwriter),
// one row per comparison, followed by its warnings. Columns: benchmark,
// unit, the two labels, each median ± the half-width of its confidence
// interval in percent (as benchstat prints it), the change of the median
// ("~" appended when the U test finds no significant difference), the
// bootstrap interval of the ratio (of medians, or of the quantile set in
// [BootstrapOptions]), the U test p-value and sample sizes, Cliff's delta
// and its label, and each coefficient of variation.
func (r Report) WriteText(w io.Writer) error {
	if err := writeTabbed(w, r.table()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return writeWarnings(w, r.allWarnings())
}

// WriteMarkdown writes the same table as [Report.WriteText] as a
// GitHub-flavoured Markdown table, followed by its warnings as a list.
func (r Report) WriteMarkdown(w io.Writer) error {
	if err := writeMarkdown(w, r.table()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return writeMarkdownWarnings(w, r.allWarnings())
}

func (r Report) table() [][]string {
	ratioHdr := "ratio CI"
	if len(r.Comparisons) > 0 {
		b := r.Comparisons[0].Bootstrap
		if b.Quantile != 0.5 && b.Quantile != 0 {
			ratioHdr = fmt.Sprintf("p%g ratio CI", 100*b.Quantile)
		}
	}
	rows := [][]string{{"benchmark", "unit", "base", "test", "base median", "test median", "change", ratioHdr, "p", "n", "cliff's δ", "CV base", "CV test"}}
	for _, c := range r.Comparisons {
		rows = append(rows, []string{
			displayName(c.Name), c.Unit, c.BaseLabel, c.TestLabel,
			fmtMedian(c.Base, c.Unit), fmtMedian(c.Test, c.Unit),
			fmtChange(c), fmtInterval(c.Bootstrap.RatioLo, c.Bootstrap.RatioHi),
			fmtP(c.UTest.P), fmtN(c.Base.N, c.Test.N),
			fmtCliff(c.CliffsDelta), pct(c.Base.CV), pct(c.Test.CV),
		})
	}
	return rows
}

func (r Report) allWarnings() []error {
	var warns []error
	warns = append(warns, r.Warnings...)
	for _, c := range r.Comparisons {
		for _, e := range c.Warnings {
			warns = append(warns, fmt.Errorf("%s %s %s vs %s: %w", displayName(c.Name), c.Unit, c.TestLabel, c.BaseLabel, e))
		}
	}
	return warns
}

// WriteText writes the gate decisions as an aligned text table: benchmark,
// labels, the overhead of the median with its bootstrap interval, p, n,
// the largest CV, the verdict and its reason; then the overall verdict and
// the warnings.
func (r GateResult) WriteText(w io.Writer) error {
	if err := writeTabbed(w, r.table()); err != nil {
		return fmt.Errorf("write gate table: %w", err)
	}
	if _, err := io.WriteString(w, r.summary()+"\n"); err != nil {
		return fmt.Errorf("write gate table: %w", err)
	}
	return writeWarnings(w, r.Warnings)
}

// WriteMarkdown writes the same table as [GateResult.WriteText] as a
// GitHub-flavoured Markdown table, then the overall verdict and the
// warnings.
func (r GateResult) WriteMarkdown(w io.Writer) error {
	if err := writeMarkdown(w, r.table()); err != nil {
		return fmt.Errorf("write gate table: %w", err)
	}
	if _, err := io.WriteString(w, "\n"+r.summary()+"\n"); err != nil {
		return fmt.Errorf("write gate table: %w", err)
	}
	return writeMarkdownWarnings(w, r.Warnings)
}

func (r GateResult) table() [][]string {
	ciHdr := "95% CI"
	if len(r.Decisions) > 0 {
		if cf := r.Decisions[0].Comparison.Bootstrap.Confidence; cf != 0 && cf != 0.95 {
			ciHdr = fmt.Sprintf("%g%% CI", 100*cf)
		}
	}
	rows := [][]string{{"benchmark", "unit", "base", "test", "overhead", ciHdr, "p", "n", "max CV", "verdict", "reason"}}
	for _, d := range r.Decisions {
		c := d.Comparison
		rows = append(rows, []string{
			displayName(c.Name), c.Unit, c.BaseLabel, c.TestLabel,
			signedPct(d.Overhead), "[" + signedPct(d.OverheadLo) + ", " + signedPct(d.OverheadHi) + "]",
			fmtP(c.UTest.P), fmtN(c.Base.N, c.Test.N), pct(maxNaN(c.Base.CV, c.Test.CV)),
			strings.ToUpper(d.Verdict.String()), d.Reason,
		})
	}
	return rows
}

func (r GateResult) summary() string {
	g := r.Gate.withDefaults()
	strict := ""
	if g.Strict {
		strict = ", strict"
	}
	return fmt.Sprintf("gate: max overhead %s, max CV %s, min samples %d, alpha %v%s: %s",
		pct(g.MaxOverhead), pct(g.MaxCV), g.MinSamples, g.Alpha, strict, strings.ToUpper(r.Verdict().String()))
}

func writeTabbed(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		if _, err := io.WriteString(tw, strings.Join(row, "\t")+"\n"); err != nil {
			return err
		}
	}
	return tw.Flush()
}

func writeMarkdown(w io.Writer, rows [][]string) error {
	var b strings.Builder
	for i, row := range rows {
		b.WriteString("|")
		for _, cell := range row {
			b.WriteString(" ")
			b.WriteString(strings.ReplaceAll(cell, "|", "\\|"))
			b.WriteString(" |")
		}
		b.WriteString("\n")
		if i == 0 {
			b.WriteString("|")
			for range row {
				b.WriteString("---|")
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMarkdownWarnings(w io.Writer, warns []error) error {
	if len(warns) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("\nWarnings:\n\n")
	for _, e := range warns {
		b.WriteString("- ")
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write warnings: %w", err)
	}
	return nil
}

func writeWarnings(w io.Writer, warns []error) error {
	if len(warns) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("warnings:\n")
	for _, e := range warns {
		b.WriteString("  - ")
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write warnings: %w", err)
	}
	return nil
}

// displayName drops a "Benchmark" prefix, as the benchstat command does
// (benchfmt already drops it from parsed names).
func displayName(name string) string {
	if s, ok := strings.CutPrefix(name, "Benchmark"); ok && s != "" {
		return s
	}
	return name
}

// fmtMedian renders "1.493µ ± 3%" like benchstat: the half-width is the
// larger distance from the median to a bound, in percent of the median.
func fmtMedian(s Summary, unit string) string {
	if s.N == 0 {
		return "-"
	}
	return benchunit.Scale(s.Median, benchunit.ClassOf(unit)) + " ± " + ciPct(s)
}

// ciPct is benchmath Summary.PctRangeString.
func ciPct(s Summary) string {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return "∞"
	}
	sign := func(x float64) int {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	}
	if sign(s.Median) != sign(s.Lo) || sign(s.Median) != sign(s.Hi) {
		return "?"
	}
	if s.Median == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.0f%%", 100*math.Max(s.Hi/s.Median-1, 1-s.Lo/s.Median))
}

// fmtChange renders the change of the median, "~" appended when the U
// test finds no significant difference.
func fmtChange(c Comparison) string {
	if math.IsNaN(c.Ratio) {
		return "?"
	}
	s := fmt.Sprintf("%+.2f%%", 100*(c.Ratio-1))
	if !c.Significant() {
		s += " ~"
	}
	return s
}

func fmtInterval(lo, hi float64) string {
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return "-"
	}
	return fmt.Sprintf("[%.3f, %.3f]", lo, hi)
}

func fmtP(p float64) string {
	if math.IsNaN(p) {
		return "-"
	}
	return fmt.Sprintf("%.3f", p)
}

func fmtN(n1, n2 int) string {
	if n1 == n2 {
		return fmt.Sprintf("%d", n1)
	}
	return fmt.Sprintf("%d+%d", n1, n2)
}

func fmtCliff(d float64) string {
	if math.IsNaN(d) {
		return "-"
	}
	return fmt.Sprintf("%+.2f %s", d, EffectOf(d))
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

func signedPct(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", 100*x)
}

func maxNaN(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return math.Max(a, b)
}
