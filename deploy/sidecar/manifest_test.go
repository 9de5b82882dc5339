// Package sidecar_test validates the Kubernetes manifests of the
// slo-sidecar (pod.yaml, daemonset.yaml) against the rules the sidecar
// needs: a schema subset of apps/v1 workloads plus its security contract.
package sidecar_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// obj is a YAML mapping.
type obj = map[string]any

// docs decodes every YAML document of file.
func docs(t *testing.T, file string) []obj {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var out []obj
	for {
		var d obj
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
}

// validator collects errors with their field paths.
type validator struct{ errs []string }

func (v *validator) errf(p, format string, args ...any) {
	v.errs = append(v.errs, p+": "+fmt.Sprintf(format, args...))
}

func (v *validator) m(x any, p string) obj {
	o, ok := x.(obj)
	if !ok {
		v.errf(p, "want a mapping, got %T", x)
		return obj{}
	}
	return o
}

func (v *validator) list(x any, p string) []any {
	if x == nil {
		return nil
	}
	l, ok := x.([]any)
	if !ok {
		v.errf(p, "want a list, got %T", x)
	}
	return l
}

func (v *validator) str(x any, p string) string {
	s, ok := x.(string)
	if !ok || s == "" {
		v.errf(p, "want a non-empty string, got %v", x)
	}
	return s
}

// schema is the subset of the apps/v1 workload schema checked for each
// field: required keys and their types.
func (v *validator) workload(d obj) (kind string, pod obj) {
	if d["apiVersion"] != "apps/v1" {
		v.errf("apiVersion", "%v, want apps/v1", d["apiVersion"])
	}
	kind, _ = d["kind"].(string)
	if kind != "Deployment" && kind != "DaemonSet" {
		v.errf("kind", "%q, want Deployment or DaemonSet", kind)
	}
	meta := v.m(d["metadata"], "metadata")
	v.str(meta["name"], "metadata.name")
	spec := v.m(d["spec"], "spec")
	sel := v.m(v.m(spec["selector"], "spec.selector")["matchLabels"], "spec.selector.matchLabels")
	tmpl := v.m(spec["template"], "spec.template")
	labels := v.m(v.m(tmpl["metadata"], "spec.template.metadata")["labels"], "spec.template.metadata.labels")
	for k, val := range sel {
		if labels[k] != val {
			v.errf("spec.selector", "label %s=%v does not select the template", k, val)
		}
	}
	pod = v.m(tmpl["spec"], "spec.template.spec")
	vols := map[string]obj{}
	for i, x := range v.list(pod["volumes"], "volumes") {
		vol := v.m(x, fmt.Sprintf("volumes[%d]", i))
		vols[v.str(vol["name"], fmt.Sprintf("volumes[%d].name", i))] = vol
	}
	cs := v.list(pod["containers"], "containers")
	if len(cs) == 0 {
		v.errf("containers", "none")
	}
	for i, x := range cs {
		p := fmt.Sprintf("containers[%d]", i)
		c := v.m(x, p)
		v.str(c["name"], p+".name")
		v.str(c["image"], p+".image")
		sc, _ := c["securityContext"].(obj)
		if sc == nil {
			v.errf(p, "no securityContext")
		} else if sc["privileged"] == true {
			v.errf(p+".securityContext.privileged", "must not be true")
		}
		for j, y := range v.list(c["volumeMounts"], p+".volumeMounts") {
			vm := v.m(y, fmt.Sprintf("%s.volumeMounts[%d]", p, j))
			if _, ok := vols[vm["name"].(string)]; !ok {
				v.errf(p, "mounts undefined volume %v", vm["name"])
			}
			if mp, _ := vm["mountPath"].(string); !path.IsAbs(mp) {
				v.errf(p, "mountPath %q not absolute", mp)
			}
		}
	}
	return kind, pod
}

func container(pod obj, name string) obj {
	for _, x := range pod["containers"].([]any) {
		if c := x.(obj); c["name"] == name {
			return c
		}
	}
	return nil
}

func mountOf(c obj, vol string) obj {
	for _, x := range c["volumeMounts"].([]any) {
		if m := x.(obj); m["name"] == vol {
			return m
		}
	}
	return nil
}

func volume(pod obj, name string) obj {
	for _, x := range pod["volumes"].([]any) {
		if v := x.(obj); v["name"] == name {
			return v
		}
	}
	return nil
}

func strs(x any) []string {
	var out []string
	l, _ := x.([]any)
	for _, y := range l {
		s, _ := y.(string)
		out = append(out, s)
	}
	return out
}

func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "-"+name+"="); ok {
			return v
		}
	}
	return ""
}

// sidecarRules checks the slo-sidecar container and its client app.
func (v *validator) sidecarRules(kind string, pod obj, wantSocketVol string) (socket string) {
	sc := container(pod, "slo-sidecar")
	if sc == nil {
		v.errf(kind, "no slo-sidecar container")
		return ""
	}
	sec := sc["securityContext"].(obj)
	caps, _ := sec["capabilities"].(obj)
	add := strs(caps["add"])
	for _, want := range []string{"BPF", "PERFMON", "SYS_RESOURCE"} {
		if !slices.Contains(add, want) {
			v.errf("slo-sidecar.capabilities.add", "lacks %s", want)
		}
	}
	for _, c := range add {
		if c == "SYS_ADMIN" || c == "ALL" {
			v.errf("slo-sidecar.capabilities.add", "%s is more than the sidecar needs", c)
		}
	}
	if !slices.Contains(strs(caps["drop"]), "ALL") {
		v.errf("slo-sidecar.capabilities.drop", "must drop ALL")
	}
	if sec["allowPrivilegeEscalation"] != false {
		v.errf("slo-sidecar.securityContext", "allowPrivilegeEscalation must be false")
	}
	btf := mountOf(sc, "btf")
	if btf == nil || btf["mountPath"] != "/sys/kernel/btf" || btf["readOnly"] != true {
		v.errf("slo-sidecar", "needs /sys/kernel/btf mounted read-only, got %v", btf)
	}
	if hp, _ := volume(pod, "btf")["hostPath"].(obj); hp == nil || hp["path"] != "/sys/kernel/btf" {
		v.errf("volumes.btf", "want hostPath /sys/kernel/btf")
	}
	if cg := mountOf(sc, "cgroup"); cg == nil || cg["readOnly"] != true {
		v.errf("slo-sidecar", "needs the host cgroup hierarchy mounted read-only")
	}
	args := strs(sc["args"])
	socket = flagValue(args, "socket")
	sm := mountOf(sc, wantSocketVol)
	if socket == "" || sm == nil || path.Dir(socket) != sm["mountPath"] {
		v.errf("slo-sidecar", "-socket %q is not in the %s mount %v", socket, wantSocketVol, sm)
	}
	if m := flagValue(args, "mode"); m != "" && m != "0660" {
		v.errf("slo-sidecar", "-mode %s, want 0660", m)
	}
	for _, p := range []string{"livenessProbe"} {
		pr, _ := sc[p].(obj)
		hg, _ := pr["httpGet"].(obj)
		if hg["path"] != "/healthz" {
			v.errf("slo-sidecar."+p, "want httpGet /healthz")
		}
	}
	return socket
}

// appRules checks an unprivileged client container.
func (v *validator) appRules(pod obj, socket, socketVol string, sidecarGroup any) {
	app := container(pod, "app")
	if app == nil {
		v.errf("app", "missing")
		return
	}
	sec := app["securityContext"].(obj)
	if sec["runAsNonRoot"] != true {
		v.errf("app.securityContext", "runAsNonRoot must be true")
	}
	if caps, _ := sec["capabilities"].(obj); caps == nil || caps["add"] != nil || !slices.Contains(strs(caps["drop"]), "ALL") {
		v.errf("app.securityContext.capabilities", "the app adds no capability and drops ALL: %v", caps)
	}
	var env string
	for _, x := range app["env"].([]any) {
		if e := x.(obj); e["name"] == "SLO_SIDECAR_SOCKET" {
			env, _ = e["value"].(string)
		}
	}
	if env != socket {
		v.errf("app.env.SLO_SIDECAR_SOCKET", "%q, want the sidecar's socket %q", env, socket)
	}
	if m := mountOf(app, socketVol); m == nil || path.Dir(socket) != m["mountPath"] {
		v.errf("app", "does not mount the socket directory")
	}
	if sidecarGroup != nil && sec["runAsGroup"] != sidecarGroup {
		if psc, _ := pod["securityContext"].(obj); psc == nil || psc["fsGroup"] != sidecarGroup {
			v.errf("app", "group %v cannot open the 0660 socket of group %v", sec["runAsGroup"], sidecarGroup)
		}
	}
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(v.errs, "\n"))
}

func TestPodManifest(t *testing.T) {
	ds := docs(t, "pod.yaml")
	if len(ds) != 1 {
		t.Fatalf("%d documents, want 1", len(ds))
	}
	var v validator
	kind, pod := v.workload(ds[0])
	if kind != "Deployment" {
		t.Errorf("kind %s", kind)
	}
	if pod["shareProcessNamespace"] != true {
		v.errf("spec.template.spec.shareProcessNamespace", "must be true: the sidecar resolves the app's pid")
	}
	if ed, _ := volume(pod, "llmslo-socket")["emptyDir"].(obj); ed == nil {
		v.errf("volumes.llmslo-socket", "want a shared emptyDir")
	}
	socket := v.sidecarRules(kind, pod, "llmslo-socket")
	group := container(pod, "slo-sidecar")["securityContext"].(obj)["runAsGroup"]
	v.appRules(pod, socket, "llmslo-socket", group)
	if err := v.err(); err != nil {
		t.Error(err)
	}
}

func TestDaemonSetManifest(t *testing.T) {
	ds := docs(t, "daemonset.yaml")
	if len(ds) != 2 {
		t.Fatalf("%d documents, want 2", len(ds))
	}
	var v validator
	kind, pod := v.workload(ds[0])
	if kind != "DaemonSet" {
		t.Fatalf("first document is a %s", kind)
	}
	if pod["hostPID"] != true {
		v.errf("spec.template.spec.hostPID", "must be true for a node-wide sidecar")
	}
	hp, _ := volume(pod, "llmslo-socket")["hostPath"].(obj)
	if hp == nil {
		v.errf("volumes.llmslo-socket", "want a hostPath")
	}
	socket := v.sidecarRules(kind, pod, "llmslo-socket")
	group := container(pod, "slo-sidecar")["securityContext"].(obj)["runAsGroup"]

	kind2, app := v.workload(ds[1])
	if kind2 != "Deployment" {
		t.Errorf("second document is a %s", kind2)
	}
	ahp, _ := volume(app, "llmslo-socket")["hostPath"].(obj)
	if ahp == nil || hp == nil || ahp["path"] != hp["path"] {
		v.errf("client volumes.llmslo-socket", "must be the sidecar's host directory")
	}
	v.appRules(app, socket, "llmslo-socket", group)
	if err := v.err(); err != nil {
		t.Error(err)
	}
}

// TestValidatorRejects runs the validator on broken variants of pod.yaml.
func TestValidatorRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(pod obj)
		want   string
	}{
		{"privileged", func(pod obj) {
			container(pod, "slo-sidecar")["securityContext"].(obj)["privileged"] = true
		}, "privileged"},
		{"no BPF", func(pod obj) {
			caps := container(pod, "slo-sidecar")["securityContext"].(obj)["capabilities"].(obj)
			caps["add"] = []any{"PERFMON", "SYS_RESOURCE"}
		}, "lacks BPF"},
		{"SYS_ADMIN", func(pod obj) {
			caps := container(pod, "slo-sidecar")["securityContext"].(obj)["capabilities"].(obj)
			caps["add"] = append(caps["add"].([]any), "SYS_ADMIN")
		}, "SYS_ADMIN"},
		{"btf writable", func(pod obj) { mountOf(container(pod, "slo-sidecar"), "btf")["readOnly"] = false }, "btf"},
		{"socket elsewhere", func(pod obj) {
			container(pod, "slo-sidecar")["args"] = []any{"-socket=/tmp/x.sock"}
		}, "-socket"},
		{"app wrong env", func(pod obj) {
			container(pod, "app")["env"] = []any{obj{"name": "SLO_SIDECAR_SOCKET", "value": "/x"}}
		}, "SLO_SIDECAR_SOCKET"},
		{"undefined volume", func(pod obj) {
			c := container(pod, "app")
			c["volumeMounts"] = append(c["volumeMounts"].([]any), obj{"name": "nope", "mountPath": "/nope"})
		}, "undefined volume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := docs(t, "pod.yaml")[0]
			pod := d["spec"].(obj)["template"].(obj)["spec"].(obj)
			tt.mutate(pod)
			var v validator
			kind, pod := v.workload(d)
			socket := v.sidecarRules(kind, pod, "llmslo-socket")
			v.appRules(pod, socket, "llmslo-socket", nil)
			err := v.err()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
