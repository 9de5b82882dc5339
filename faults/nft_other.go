//go:build !linux

package faults

import (
	"context"
	"errors"
	"fmt"
)

// Inject returns an error matching errors.ErrUnsupported: nftables exists
// only on Linux.
func (p PacketLoss) Inject(ctx context.Context) (undo func() error, err error) {
	return nil, fmt.Errorf("faults: packet loss: %w", errors.ErrUnsupported)
}

// Inject returns an error matching errors.ErrUnsupported: nftables exists
// only on Linux.
func (p Partition) Inject(ctx context.Context) (undo func() error, err error) {
	return nil, fmt.Errorf("faults: partition: %w", errors.ErrUnsupported)
}

// Inject returns an error matching errors.ErrUnsupported: NFQUEUE exists
// only on Linux.
func (d NetDelay) Inject(ctx context.Context) (undo func() error, err error) {
	return nil, fmt.Errorf("faults: network delay: %w", errors.ErrUnsupported)
}
