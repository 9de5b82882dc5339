package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
)

// Injector is a fault that can be started and stopped.
//
// Inject starts the fault. On success it returns undo, which stops the fault
// and removes everything Inject created; undo is idempotent and safe for
// concurrent use. On failure (or panic) Inject removes what it had already set
// up and returns a nil undo.
type Injector interface {
	Inject(ctx context.Context) (undo func() error, err error)
}

// InjectorFunc adapts a function to [Injector].
type InjectorFunc func(ctx context.Context) (undo func() error, err error)

// Inject calls f(ctx).
func (f InjectorFunc) Inject(ctx context.Context) (func() error, error) { return f(ctx) }

// Plan is a set of faults injected together. The zero value injects nothing.
type Plan struct {
	// Faults are injected in order and undone in reverse order.
	Faults []Injector
}

// Inject injects every fault of p in order. If one fails, the ones already
// injected are undone and the error is returned. The returned undo undoes all
// of them in reverse order and joins their errors.
func (p Plan) Inject(ctx context.Context) (undo func() error, err error) {
	var u undoer
	defer u.onFailure(&err)
	for i, f := range p.Faults {
		if f == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("plan fault %d: %w", i, err)
		}
		fu, err := f.Inject(ctx)
		if err != nil {
			return nil, fmt.Errorf("plan fault %d (%T): %w", i, f, err)
		}
		if fu != nil {
			u.push(fmt.Sprintf("undo fault %d", i), fu)
		}
	}
	return u.undo, nil
}

// ErrPrivilege is returned (wrapped) by injectors that lack the privilege they
// need. errors.Is(err, ErrPrivilege) and errors.Is(err, os.ErrPermission)
// both hold for such errors.
var ErrPrivilege error = privilegeError{}

type privilegeError struct{}

func (privilegeError) Error() string { return "insufficient privilege" }

// Is makes ErrPrivilege match os.ErrPermission.
func (privilegeError) Is(target error) bool { return target == os.ErrPermission }

// undoer is a stack of cleanup steps. undo runs the remaining steps in reverse
// order; a step that succeeds is dropped, a step that fails stays for the next
// call. It is safe for concurrent use.
type undoer struct {
	mu    sync.Mutex
	steps []undoStep
}

type undoStep struct {
	name string
	fn   func() error
}

func (u *undoer) push(name string, fn func() error) {
	u.mu.Lock()
	u.steps = append(u.steps, undoStep{name, fn})
	u.mu.Unlock()
}

func (u *undoer) undo() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	var errs []error
	var failed []undoStep
	for i := len(u.steps) - 1; i >= 0; i-- {
		s := u.steps[i]
		if err := safeCall(s.fn); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			failed = append(failed, s)
		}
	}
	// failed is in reverse order; keep the original order for the next call.
	u.steps = u.steps[:0]
	for i := len(failed) - 1; i >= 0; i-- {
		u.steps = append(u.steps, failed[i])
	}
	return errors.Join(errs...)
}

// onFailure undoes everything when *errp is non-nil or the function is
// panicking (the panic continues after cleanup). Use as
// `defer u.onFailure(&err)` with a named error result.
func (u *undoer) onFailure(errp *error) {
	if r := recover(); r != nil {
		_ = u.undo()
		panic(r)
	}
	if *errp != nil {
		if uerr := u.undo(); uerr != nil {
			*errp = errors.Join(*errp, fmt.Errorf("cleanup after failure: %w", uerr))
		}
	}
}

// safeCall runs fn, turning a panic into an error.
func safeCall(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}

// randomSuffix returns n random bytes in hex.
func randomSuffix(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux (crypto/rand panics internally otherwise)
	return hex.EncodeToString(b)
}

// stepHook is called by injectors after each setup step; tests use it to fail
// or panic halfway. nil means no hook.
type stepHook func(step string) error

func (h stepHook) at(step string) error {
	if h == nil {
		return nil
	}
	return h(step)
}
