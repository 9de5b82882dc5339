package faults

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recorder is an injector that logs inject/undo calls.
type recorder struct {
	name    string
	log     *[]string
	failInj bool
	failUnd int // undo fails this many times
}

func (r *recorder) Inject(context.Context) (func() error, error) {
	if r.failInj {
		*r.log = append(*r.log, "fail "+r.name)
		return nil, errors.New("inject " + r.name)
	}
	*r.log = append(*r.log, "inject "+r.name)
	return func() error {
		if r.failUnd > 0 {
			r.failUnd--
			*r.log = append(*r.log, "undo-fail "+r.name)
			return errors.New("undo " + r.name)
		}
		*r.log = append(*r.log, "undo "+r.name)
		return nil
	}, nil
}

func TestPlanZero(t *testing.T) {
	undo, err := Plan{}.Inject(t.Context())
	if err != nil || undo == nil {
		t.Fatalf("zero plan: %v", err)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
}

func TestPlanOrderAndRollback(t *testing.T) {
	var log []string
	a, b, c := &recorder{name: "a", log: &log}, &recorder{name: "b", log: &log, failUnd: 1}, &recorder{name: "c", log: &log}
	undo, err := Plan{Faults: []Injector{a, nil, b, c}}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := undo(); err == nil {
		t.Fatal("undo error from b lost")
	}
	if err := undo(); err != nil { // retries only b
		t.Fatal(err)
	}
	if err := undo(); err != nil { // nothing left
		t.Fatal(err)
	}
	want := []string{"inject a", "inject b", "inject c", "undo c", "undo-fail b", "undo a", "undo b"}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}

	log = nil
	d := &recorder{name: "d", log: &log, failInj: true}
	a = &recorder{name: "a", log: &log}
	if _, err := (Plan{Faults: []Injector{a, d}}).Inject(t.Context()); err == nil {
		t.Fatal("no error")
	}
	if want := []string{"inject a", "fail d", "undo a"}; !slices.Equal(log, want) {
		t.Errorf("rollback log = %v, want %v", log, want)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := (Plan{Faults: []Injector{a}}).Inject(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled ctx: %v", err)
	}
}

func TestPlanRollbackOnPanic(t *testing.T) {
	var log []string
	a := &recorder{name: "a", log: &log}
	p := InjectorFunc(func(context.Context) (func() error, error) { panic("boom") })
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v", r)
			}
		}()
		_, _ = Plan{Faults: []Injector{a, p}}.Inject(t.Context())
	}()
	if want := []string{"inject a", "undo a"}; !slices.Equal(log, want) {
		t.Errorf("log = %v, want %v", log, want)
	}
}

func TestErrPrivilege(t *testing.T) {
	err := errors.Join(errors.New("x"), ErrPrivilege)
	if !errors.Is(err, os.ErrPermission) || !errors.Is(err, ErrPrivilege) {
		t.Error("ErrPrivilege does not match os.ErrPermission")
	}
	if errors.Is(errors.New("y"), ErrPrivilege) {
		t.Error("unrelated error matches")
	}
}
