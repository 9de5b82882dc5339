package slo

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"

	"github.com/llmslo/slo/semconv"
)

// TestObjectiveSetAttr checks the cached objective-set attributes against
// the names they stand for, in the tracker's order, cached or not.
func TestObjectiveSetAttr(t *testing.T) {
	tr, err := New(WithoutProbes(), WithObjectives(TTFT(time.Second, 0.9), TPOT(time.Second, 0.9), ErrorRate(0.99)))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	names := []string{tr.objs[0].name, tr.objs[1].name, tr.objs[2].name}
	for _, tc := range []struct {
		mask uint64
		want []string
	}{
		{0b001, names[:1]},
		{0b101, []string{names[0], names[2]}},
		{0b111, names},
		{0b110, names[1:]},
	} {
		for range 2 { // built, then cached
			got := tr.objectiveSetAttr(semconv.SLOObjective, tc.mask, nil)
			if d := cmp.Diff(semconv.SLOObjective.StringSlice(tc.want), got, cmp.Comparer(kvEqual)); d != "" {
				t.Errorf("mask %03b (-want +got):\n%s", tc.mask, d)
			}
		}
	}
	if got := tr.finishReasonAttr("stop"); !kvEqual(got, semconv.GenAIResponseFinishReasons.StringSlice([]string{"stop"})) {
		t.Errorf("finishReasonAttr = %v", got)
	}
	many := []string{"a", "b"}
	if got := tr.objectiveSetAttr(semconv.SLOBreached, 0, many); !kvEqual(got, semconv.SLOBreached.StringSlice(many)) {
		t.Errorf("by name: %v", got)
	}
}

// TestObjectiveSetAttrMany judges more than 64 objectives: the sets are then
// built by name, and every objective is listed.
func TestObjectiveSetAttrMany(t *testing.T) {
	var objs []Objective
	var want []string
	for i := range 70 {
		o := ErrorRate(0.99).Named(fmt.Sprintf("err%02d", i))
		objs = append(objs, o)
		want = append(want, o.Name())
	}
	h := newHarness(t, WithoutProbes(), WithObjectives(objs...))
	rec := httptest.NewRecorder()
	h.t.Instrument(sse10).ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", nil))
	got := h.lastSpanAttrs(t)[semconv.SLOObjective]
	if d := cmp.Diff(want, got.AsStringSlice()); d != "" {
		t.Errorf("objectives (-want +got):\n%s", d)
	}
}

func kvEqual(a, b attribute.KeyValue) bool { return a.Key == b.Key && a.Value.Emit() == b.Value.Emit() }
