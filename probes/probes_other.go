//go:build !linux

package probes

import "context"

// Start returns [ErrNotSupported]: kernel probes, cgroup and PSI pollers
// exist on Linux only.
func Start(ctx context.Context, cfg Config) (*Set, error) {
	return nil, ErrNotSupported
}
