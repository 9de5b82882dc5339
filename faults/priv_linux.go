//go:build linux

package faults

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// requireCaps returns an error matching ErrPrivilege when the calling thread
// lacks any of caps in its effective set. what names the injector.
func requireCaps(what string, caps ...int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("%s: read capabilities: %w", what, err)
	}
	var missing []string
	for _, c := range caps {
		if data[c/32].Effective&(1<<(uint(c)%32)) == 0 {
			missing = append(missing, capName(c))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s needs %s (run as root): %w", what, strings.Join(missing, "+"), ErrPrivilege)
	}
	return nil
}

func capName(c int) string {
	switch c {
	case unix.CAP_NET_ADMIN:
		return "CAP_NET_ADMIN"
	case unix.CAP_SYS_ADMIN:
		return "CAP_SYS_ADMIN"
	case unix.CAP_DAC_OVERRIDE:
		return "CAP_DAC_OVERRIDE"
	default:
		return fmt.Sprintf("capability %d", c)
	}
}
