package attribution

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Confusion counts verdicts against the truth: Counts[truth][predicted].
// The zero value is empty and ready to use.
type Confusion struct {
	Counts [numDomains][numDomains]int
}

// Add records one prediction.
func (c *Confusion) Add(truth, predicted Domain) {
	if truth < numDomains && predicted < numDomains {
		c.Counts[truth][predicted]++
	}
}

// ClassScore is the precision, recall and F1 of one domain.
type ClassScore struct {
	Precision, Recall, F1 float64
	Support               int // samples whose truth is the domain
}

// Score returns the scores of domain d. Precision counts every prediction of
// d; recall counts an abstention (Unknown) on a d-sample as a miss.
func (c *Confusion) Score(d Domain) ClassScore {
	var tp, fp, fn int
	for t := Domain(0); t < numDomains; t++ {
		for p := Domain(0); p < numDomains; p++ {
			n := c.Counts[t][p]
			switch {
			case t == d && p == d:
				tp += n
			case p == d:
				fp += n
			case t == d:
				fn += n
			}
		}
	}
	s := ClassScore{Support: tp + fn}
	if tp+fp > 0 {
		s.Precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		s.Recall = float64(tp) / float64(tp+fn)
	}
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s
}

// MacroF1 is the mean F1 over the fault domains (not Unknown) with support.
func (c *Confusion) MacroF1() float64 { return c.macroF1(1) }

// MacroF1WithUnknown is the mean F1 over every domain with support,
// Unknown included: abstaining on a request that no fault explains counts
// as a hit, and abstaining on (or naming a domain for) one that a fault
// explains as a miss, as for any other class.
func (c *Confusion) MacroF1WithUnknown() float64 { return c.macroF1(0) }

// macroF1 is the mean F1 over the domains from first on with support.
func (c *Confusion) macroF1(first Domain) float64 {
	var sum float64
	var n int
	for d := first; d < numDomains; d++ {
		s := c.Score(d)
		if s.Support == 0 {
			continue
		}
		sum += s.F1
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// AbstainRate is the share of fault samples (truth not Unknown) that were
// answered Unknown.
func (c *Confusion) AbstainRate() float64 {
	var abstain, total int
	for t := Domain(1); t < numDomains; t++ {
		for p := Domain(0); p < numDomains; p++ {
			total += c.Counts[t][p]
		}
		abstain += c.Counts[t][Unknown]
	}
	if total == 0 {
		return 0
	}
	return float64(abstain) / float64(total)
}

// Total returns the number of samples.
func (c *Confusion) Total() int {
	n := 0
	for t := range c.Counts {
		for p := range c.Counts[t] {
			n += c.Counts[t][p]
		}
	}
	return n
}

// WriteTable writes the confusion matrix (rows: truth; columns: predicted)
// of the domains that occur, as aligned text.
func (c *Confusion) WriteTable(w io.Writer) error {
	var used []Domain
	for d := Domain(0); d < numDomains; d++ {
		any := false
		for o := Domain(0); o < numDomains; o++ {
			if c.Counts[d][o] > 0 || c.Counts[o][d] > 0 {
				any = true
			}
		}
		if any {
			used = append(used, d)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "truth \\ predicted\t")
	for _, d := range used {
		fmt.Fprintf(tw, "%s\t", d)
	}
	fmt.Fprintln(tw)
	for _, t := range used {
		fmt.Fprintf(tw, "%s\t", t)
		for _, p := range used {
			fmt.Fprintf(tw, "%d\t", c.Counts[t][p])
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
