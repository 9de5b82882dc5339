//go:build linux

package faults

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const procCgroupV1 = `12:cpu,cpuacct:/kubepods/pod1
9:name=systemd:/
4:memory:/process_api/4e47
0::/user.slice/session-1.scope
`

func TestParseProcCgroup(t *testing.T) {
	for _, tc := range []struct {
		in     string
		v2     bool
		ctl    string
		want   string
		wantOK bool
	}{
		{procCgroupV1, false, "cpu", "/kubepods/pod1", true},
		{procCgroupV1, false, "cpuacct", "/kubepods/pod1", true},
		{procCgroupV1, false, "memory", "/process_api/4e47", true},
		{procCgroupV1, false, "pids", "", false},
		{procCgroupV1, true, "cpu", "/user.slice/session-1.scope", true},
		{"0::/\n", true, "memory", "/", true},
		{"", true, "cpu", "", false},
		{"garbage\n1:cpu\n2:cpu:relative\n", false, "cpu", "", false},
		{"3:cpu:/a:b\n", false, "cpu", "/a:b", true},
	} {
		got, ok := parseProcCgroup([]byte(tc.in), tc.v2, tc.ctl)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("parse(%q, v2=%v, %s) = %q, %v; want %q, %v", tc.in, tc.v2, tc.ctl, got, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzParseProcCgroup(f *testing.F) {
	f.Add([]byte(procCgroupV1), false, "cpu")
	f.Add([]byte("0::/\n"), true, "")
	f.Fuzz(func(t *testing.T, b []byte, v2 bool, ctl string) {
		p, ok := parseProcCgroup(b, v2, ctl)
		if ok && !strings.HasPrefix(p, "/") {
			t.Fatalf("path %q not absolute", p)
		}
		if !ok && p != "" {
			t.Fatalf("path %q without ok", p)
		}
	})
}

func TestReadKV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cpu.stat")
	if err := os.WriteFile(p, []byte("nr_periods 10\nnr_throttled 6\nthrottled_time 298698537\nbad line here\nx y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := readKV(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"nr_periods": 10, "nr_throttled": 6, "throttled_time": 298698537}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// readKV reads a "key value" per line file (cpu.stat, memory.stat).
func readKV(path string) (map[string]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64)
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			m[f[0]] = v
		}
	}
	return m, nil
}
