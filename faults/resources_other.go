//go:build !linux

package faults

import (
	"context"
	"errors"
	"fmt"
)

// Inject returns an error matching errors.ErrUnsupported (Linux only).
func (c CPUContention) Inject(ctx context.Context) (func() error, error) {
	return nil, fmt.Errorf("faults: cpu contention: %w", errors.ErrUnsupported)
}

// Inject returns an error matching errors.ErrUnsupported (Linux only).
func (c CPUThrottle) Inject(ctx context.Context) (func() error, error) {
	return nil, fmt.Errorf("faults: cpu throttle: %w", errors.ErrUnsupported)
}

// Inject returns an error matching errors.ErrUnsupported (Linux only).
func (m MemoryPressure) Inject(ctx context.Context) (func() error, error) {
	return nil, fmt.Errorf("faults: memory pressure: %w", errors.ErrUnsupported)
}

// CgroupOf returns an error matching errors.ErrUnsupported (Linux only).
func CgroupOf(pid int, controller string) (string, error) {
	return "", fmt.Errorf("faults: cgroups: %w", errors.ErrUnsupported)
}
