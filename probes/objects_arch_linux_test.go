//go:build linux

package probes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// bpfObjects are the stems of the committed objects in internal/bpf, each
// generated as <stem>_x86_bpfel.o (amd64) and <stem>_arm64_bpfel.o.
var bpfObjects = []string{"sched", "net", "dns", "mm", "blk", "bench", "self"}

// recordTypes are the boundary structs of event.h that probes/ decodes.
var recordTypes = []string{"event", "dns_event", "hist", "trace_tag"}

func loadObject(t *testing.T, stem, arch string) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(filepath.Join("..", "internal", "bpf", stem+"_"+arch+"_bpfel.o"))
	if err != nil {
		t.Fatalf("%s %s: %v", stem, arch, err)
	}
	return spec
}

// specShape describes what a collection declares: programs (name, type,
// attach type and target, section), maps (name, type, sizes, entries,
// flags), variables, and the layout of each record type (size, then each
// member's name, offset and size).
func specShape(t *testing.T, spec *ebpf.CollectionSpec) []string {
	t.Helper()
	var out []string
	for name, p := range spec.Programs {
		out = append(out, fmt.Sprintf("prog %s %v %v %q %s", name, p.Type, p.AttachType, p.AttachTo, p.SectionName))
	}
	for name, m := range spec.Maps {
		out = append(out, fmt.Sprintf("map %s %v %d/%d %d %#x", name, m.Type, m.KeySize, m.ValueSize, m.MaxEntries, m.Flags))
	}
	for name, v := range spec.Variables {
		out = append(out, fmt.Sprintf("var %s %d %s", name, v.Size(), v.SectionName))
	}
	for _, name := range recordTypes {
		var st *btf.Struct
		if err := spec.Types.TypeByName(name, &st); err != nil {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "type %s %d:", name, st.Size)
		for _, m := range st.Members {
			sz, err := btf.Sizeof(m.Type)
			if err != nil {
				t.Fatalf("%s.%s: %v", name, m.Name, err)
			}
			fmt.Fprintf(&b, " %s@%d/%d", m.Name, m.Offset.Bytes(), sz)
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}

// TestArm64ObjectsMatchAmd64 checks that every arm64 object declares the
// same programs, maps, variables and record layouts as its amd64
// counterpart, so the probes load and decode them the same way on arm64.
func TestArm64ObjectsMatchAmd64(t *testing.T) {
	for _, stem := range bpfObjects {
		t.Run(stem, func(t *testing.T) {
			amd, arm := specShape(t, loadObject(t, stem, "x86")), specShape(t, loadObject(t, stem, "arm64"))
			if len(amd) == 0 {
				t.Fatal("amd64 object declares nothing")
			}
			if !slices.Equal(amd, arm) {
				t.Errorf("arm64 object differs from amd64:\namd64: %q\narm64: %q", amd, arm)
			}
		})
	}
	// The one architecture-specific read: the syscall part of the sched
	// program finds the call number in each architecture's own register.
	for arch, want := range map[string]string{"x86": "orig_ax", "arm64": "syscallno"} {
		b, err := os.ReadFile(filepath.Join("..", "internal", "bpf", "sched_"+arch+"_bpfel.o"))
		if err != nil {
			t.Fatal(err)
		}
		for _, reg := range []string{"orig_ax", "syscallno"} {
			if got := bytes.Contains(b, []byte(reg)); got != (reg == want) {
				t.Errorf("sched %s object mentions %s: %v", arch, reg, got)
			}
		}
	}
}

// TestArm64ObjectsLoadPrivileged loads the arm64 objects whose programs
// have no architecture-specific part into this kernel: their CO-RE
// relocations resolve against this kernel's BTF and the verifier accepts
// them, as it must on an arm64 kernel with BTF. The sched object's syscall
// part reads arm64 entry registers (pt_regs.syscallno), which an x86-64
// kernel does not have: its load fails on exactly that relocation.
func TestArm64ObjectsLoadPrivileged(t *testing.T) {
	requireBPF(t)
	for _, stem := range bpfObjects {
		t.Run(stem, func(t *testing.T) {
			spec := loadObject(t, stem, "arm64")
			if m := spec.Maps["events"]; m != nil {
				m.MaxEntries = 1 << 16
			}
			coll, err := ebpf.NewCollection(spec)
			if stem == "sched" {
				if err == nil {
					coll.Close()
					t.Fatal("arm64 sched object loaded on an x86-64 kernel: its syscall part reads nothing")
				}
				var ve *ebpf.VerifierError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), "syscallno") {
					t.Logf("load error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("load arm64 %s object: %v", stem, err)
			}
			coll.Close()
		})
	}
}
