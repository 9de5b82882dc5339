package cgroupfs

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		v1cpu, v2 string
	}{
		{"v2 only", "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", "", "/sys/fs/cgroup"},
		{"hybrid",
			"25 1 0:22 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n" +
				"26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n" +
				"27 25 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n" +
				"28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
			"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/unified"},
		{"first of each wins",
			"1 0 0:1 / /a rw - cgroup2 cgroup2 rw\n1 0 0:1 / /b rw - cgroup2 cgroup2 rw\n" +
				"1 0 0:1 / /c rw - cgroup cgroup rw,cpu\n1 0 0:1 / /d rw - cgroup cgroup rw,cpu\n",
			"/c", "/a"},
		{"cpuacct is not cpu", "1 0 0:1 / /e rw - cgroup cgroup rw,cpuacct\n", "", ""},
		{"malformed", "no separator\n1 2 - \n - cgroup2\n1 0 0:1 / /f rw - cgroup\n", "", ""},
		{"empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v1cpu, v2 := parse([]byte(tc.in))
			if v1cpu != tc.v1cpu || v2 != tc.v2 {
				t.Errorf("parse = %q, %q; want %q, %q", v1cpu, v2, tc.v1cpu, tc.v2)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"))
	f.Fuzz(func(t *testing.T, b []byte) { parse(b) })
}
