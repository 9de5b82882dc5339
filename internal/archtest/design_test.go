package archtest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// designRows reads the layout table of docs/design.md §2: the rows whose
// first cell is a backticked path, with columns path | kind | owns | may
// import (module) | may import github.com/cilium/ebpf.
func designRows(t *testing.T, doc string) []Row {
	t.Helper()
	_, sec, ok := strings.Cut(doc, "\n## §2 ")
	if !ok {
		t.Fatal("docs/design.md has no §2")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	code := regexp.MustCompile("`([^`]+)`")
	kinds := map[string]Kind{}
	for k := Library; k <= Program; k++ {
		kinds[k.String()] = k
	}
	var rows []Row
	for line := range strings.Lines(sec) {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 5 {
			t.Fatalf("layout row with %d cells, want 5: %s", len(cells), line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		kind, ok := kinds[cells[1]]
		if !ok {
			t.Fatalf("unknown kind %q in: %s", cells[1], line)
		}
		r := Row{Path: code.FindStringSubmatch(cells[0])[1], Kind: kind, EBPF: cells[4] == "yes"}
		switch cells[3] {
		case "—":
		case "anything":
			r.May = []string{"*"}
		default:
			for _, m := range code.FindAllStringSubmatch(cells[3], -1) {
				r.May = append(r.May, m[1])
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// TestLayoutMatchesDesign keeps the table in docs/design.md §2 and [Layout]
// equal: the same rows, kinds, allowed imports and cilium/ebpf permissions.
func TestLayoutMatchesDesign(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(moduleDir(t), "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := designRows(t, string(b))
	if len(doc) == 0 {
		t.Fatal("no layout rows found in docs/design.md §2")
	}
	byPath := func(rows []Row) map[string]Row {
		m := map[string]Row{}
		for _, r := range rows {
			slices.Sort(r.May)
			m[r.Path] = r
		}
		return m
	}
	inDoc, inCode := byPath(doc), byPath(Layout())
	for p, d := range inDoc {
		c, ok := inCode[p]
		switch {
		case !ok:
			t.Errorf("docs/design.md §2 has row %q; Layout does not", p)
		case d.Kind != c.Kind || d.EBPF != c.EBPF || !slices.Equal(d.May, c.May):
			t.Errorf("row %q differs:\n design.md: %v %v ebpf=%v\n Layout:    %v %v ebpf=%v", p, d.Kind, d.May, d.EBPF, c.Kind, c.May, c.EBPF)
		}
	}
	for p := range inCode {
		if _, ok := inDoc[p]; !ok {
			t.Errorf("Layout has row %q; docs/design.md §2 does not", p)
		}
	}
}
