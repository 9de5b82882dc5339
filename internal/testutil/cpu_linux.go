package testutil

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"time"
)

// PidCPU returns the CPU time (user + system, all threads) process pid has
// used, from /proc/pid/stat (clock ticks, USER_HZ = 100).
func PidCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// After the parenthesised comm: state is field 3; utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("testutil: malformed /proc/pid/stat")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, errors.New("testutil: short /proc/pid/stat")
	}
	u, _ := strconv.ParseUint(string(f[11]), 10, 64)
	s, _ := strconv.ParseUint(string(f[12]), 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}
