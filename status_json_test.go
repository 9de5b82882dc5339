package slo

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/llmslo/slo/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// statusSchemas compiles schemas.StatusV1 (with the incident schema it
// refers to) and returns its compiler, to compile its parts by pointer.
func statusSchemas(t *testing.T) *jsonschema.Compiler {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, doc := range [][]byte{schemas.StatusV1, schemas.IncidentAttributionV1} {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		id, _ := v.(map[string]any)["$id"].(string)
		if err := c.AddResource(id, v); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

const statusSchemaID = "https://github.com/llmslo/slo/schemas/status_v1.json"

// TestStatusJSON: Status, SignalStatus and BudgetStatus marshal with
// snake_case names (every exported field, nested types included), as the
// $defs of schemas/status_v1.json describe them.
func TestStatusJSON(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var check func(typ reflect.Type, path string)
	seen := map[reflect.Type]bool{}
	check = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Slice || typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() == "time" {
			return
		}
		seen[typ] = true
		for f := range typ.Fields() {
			if !f.IsExported() {
				continue
			}
			name, _, _ := bytes.Cut([]byte(f.Tag.Get("json")), []byte(","))
			if !snake.Match(name) {
				t.Errorf("%s.%s has JSON name %q, want snake_case", path, f.Name, name)
			}
			check(f.Type, path+"."+f.Name)
		}
	}
	for _, v := range []any{Status{}, SignalStatus{}, BudgetStatus{}} {
		check(reflect.TypeOf(v), reflect.TypeOf(v).Name())
	}

	c := statusSchemas(t)
	compile := func(def string) *jsonschema.Schema {
		s, err := c.Compile(statusSchemaID + "#/$defs/" + def)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	h := newHarness(t, WithoutProbes(), WithObjectives(ErrorRate(0.99), TTFT(time.Second, 0.9)))
	stream := h.t.Instrument(openAIStream(0, time.Millisecond, 3, 3))
	serve(stream, "200")
	serve(h.t.Instrument(statusHandler), "500")
	st := h.t.Status()
	st.Signals = []SignalStatus{{Signal: "dns_latency", Path: "floor", State: "off", Reason: "no BPF"}}
	validate(t, compile("TrackerStatus"), st)
	validate(t, compile("SignalStatus"), st.Signals[0])
	budgets := h.t.Budget()
	if len(budgets) != 2 {
		t.Fatalf("%d budgets", len(budgets))
	}
	for _, b := range budgets {
		validate(t, compile("BudgetStatus"), b)
	}
	b, _ := json.Marshal(budgets[0])
	t.Logf("%s", b)
}
