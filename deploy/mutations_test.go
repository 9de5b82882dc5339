package deploy_test

import (
	"testing"
)

// obj is a YAML mapping decoded as JSON values.
type obj = map[string]any

// at walks keys from d, creating mappings that are missing.
func at(d obj, keys ...string) obj {
	for _, k := range keys {
		next, ok := d[k].(obj)
		if !ok {
			next = obj{}
			d[k] = next
		}
		d = next
	}
	return d
}

// podSpec returns the pod spec of a workload document.
func podSpec(d obj) obj { return at(d, "spec", "template", "spec") }

// container returns the container called name of a workload document.
func container(d obj, name string) obj {
	for _, c := range podSpec(d)["containers"].([]any) {
		if c := c.(obj); c["name"] == name {
			return c
		}
	}
	panic("no container " + name) // a broken test table
}

// list returns the list at key of d.
func list(d obj, key string) []any {
	l, _ := d[key].([]any)
	return l
}

func addCap(d obj, name, c string) {
	caps := at(container(d, name), "securityContext", "capabilities")
	caps["add"] = append(list(caps, "add"), c)
}

// mutations are broken variants of the manifests, each with the error
// part that must name it.
var mutations = []struct {
	name   string
	file   string
	doc    int
	change func(d obj)
	want   string
}{
	// Strict decoding into the Kubernetes API types.
	{"unknown field in a securityContext", "sidecar/pod.yaml", 0, func(d obj) {
		at(container(d, "slo-sidecar"), "securityContext")["runAsRoot"] = false
	}, `unknown field "spec.template.spec.containers[1].securityContext.runAsRoot"`},
	{"misspelt pod field", "sidecar/daemonset.yaml", 0, func(d obj) {
		ps := podSpec(d)
		ps["hostPid"] = ps["hostPID"]
		delete(ps, "hostPID")
	}, `unknown field "spec.template.spec.hostPid"`},
	{"unknown field in a Service", "kubernetes/rag-service.yaml", 1, func(d obj) {
		at(d, "spec")["loadBalancerIPs"] = []any{"10.0.0.1"}
	}, `unknown field "spec.loadBalancerIPs"`},
	{"value of the wrong type", "kubernetes/rag-service.yaml", 0, func(d obj) {
		at(d, "spec")["replicas"] = "one"
	}, "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"},
	{"bad quantity", "sidecar/pod.yaml", 0, func(d obj) {
		at(container(d, "app"), "resources", "limits")["memory"] = "1 gigabyte"
	}, "quantities must match"},
	{"unknown kind", "sidecar/pod.yaml", 0, func(d obj) { d["kind"] = "Deploymnet" }, `no kind "Deploymnet"`},

	// Capabilities: exactly the sidecar's own list.
	{"sidecar capability beyond the list", "sidecar/pod.yaml", 0, func(d obj) {
		addCap(d, "slo-sidecar", "SYS_ADMIN")
	}, "capabilities.add has SYS_ADMIN beyond the sidecar's own list"},
	{"node-wide sidecar capability beyond the list", "sidecar/daemonset.yaml", 0, func(d obj) {
		addCap(d, "slo-sidecar", "SYS_PTRACE")
	}, "capabilities.add has SYS_PTRACE beyond the sidecar's own list"},
	{"sidecar capability listed twice", "sidecar/pod.yaml", 0, func(d obj) {
		addCap(d, "slo-sidecar", "BPF")
	}, "capabilities.add lists BPF twice"},
	{"sidecar capability missing", "sidecar/pod.yaml", 0, func(d obj) {
		at(container(d, "slo-sidecar"), "securityContext", "capabilities")["add"] = []any{"BPF", "PERFMON", "SYS_RESOURCE"}
	}, "capabilities.add lacks NET_ADMIN"},
	{"sidecar keeps the default capabilities", "sidecar/pod.yaml", 0, func(d obj) {
		delete(at(container(d, "slo-sidecar"), "securityContext", "capabilities"), "drop")
	}, "capabilities.drop must be [ALL]"},
	{"application adds a capability", "kubernetes/rag-service.yaml", 0, func(d obj) {
		addCap(d, "rag-service", "NET_RAW")
	}, "only the sidecar adds capabilities"},

	// Security context.
	{"privilege escalation", "sidecar/pod.yaml", 0, func(d obj) {
		at(container(d, "slo-sidecar"), "securityContext")["allowPrivilegeEscalation"] = true
	}, "allowPrivilegeEscalation must be false"},
	{"privileged", "sidecar/daemonset.yaml", 0, func(d obj) {
		at(container(d, "slo-sidecar"), "securityContext")["privileged"] = true
	}, "privileged must not be true"},
	{"writable root filesystem", "kubernetes/rag-service.yaml", 0, func(d obj) {
		delete(at(container(d, "rag-service"), "securityContext"), "readOnlyRootFilesystem")
	}, "readOnlyRootFilesystem must be true"},
	{"seccomp unconfined", "sidecar/pod.yaml", 0, func(d obj) {
		at(container(d, "slo-sidecar"), "securityContext", "seccompProfile")["type"] = "Unconfined"
	}, "want RuntimeDefault"},
	{"application as root", "kubernetes/rag-service.yaml", 0, func(d obj) {
		at(container(d, "rag-service"), "securityContext")["runAsUser"] = 0
		at(container(d, "rag-service"), "securityContext")["runAsNonRoot"] = false
	}, "runAsNonRoot must be true"},
	{"btf writable", "sidecar/pod.yaml", 0, func(d obj) {
		for _, m := range list(container(d, "slo-sidecar"), "volumeMounts") {
			if m.(obj)["name"] == "btf" {
				m.(obj)["readOnly"] = false
			}
		}
	}, "needs the host's /sys/kernel/btf mounted read-only"},

	// Resources, probes, images.
	{"no memory limit", "sidecar/daemonset.yaml", 0, func(d obj) {
		delete(at(container(d, "slo-sidecar"), "resources"), "limits")
	}, "resources.limits has no memory"},
	{"no cpu request", "kubernetes/rag-service.yaml", 0, func(d obj) {
		delete(at(container(d, "rag-service"), "resources", "requests"), "cpu")
	}, "resources.requests has no cpu"},
	{"no readiness probe", "sidecar/pod.yaml", 0, func(d obj) {
		delete(container(d, "app"), "readinessProbe")
	}, "no readinessProbe"},
	{"probe on a missing port", "sidecar/daemonset.yaml", 0, func(d obj) {
		at(container(d, "slo-sidecar"), "livenessProbe", "httpGet")["port"] = "metrics"
	}, "livenessProbe port metrics is not a port of the container"},
	{"image not from the release", "sidecar/pod.yaml", 0, func(d obj) {
		container(d, "slo-sidecar")["image"] = "ghcr.io/llmslo/slo-sidecar:latest"
	}, "is not one the release writes"},

	// The socket between the sidecar and its clients.
	{"socket volume not shared", "sidecar/pod.yaml", 0, func(d obj) {
		delete(container(d, "app"), "volumeMounts")
	}, "does not mount the sidecar's socket directory"},
	{"client looks elsewhere", "sidecar/pod.yaml", 0, func(d obj) {
		container(d, "app")["env"] = []any{obj{"name": "SLO_SIDECAR_SOCKET", "value": "/tmp/sidecar.sock"}}
	}, `SLO_SIDECAR_SOCKET="/tmp/sidecar.sock", want the sidecar's socket "/run/llmslo/sidecar.sock"`},
	{"client mounts another host directory", "sidecar/daemonset.yaml", 1, func(d obj) {
		for _, v := range list(podSpec(d), "volumes") {
			if v.(obj)["name"] == "llmslo-socket" {
				at(v.(obj), "hostPath")["path"] = "/var/run/other"
			}
		}
	}, "must mount the sidecar's host directory"},
	{"client outside the socket's group", "sidecar/pod.yaml", 0, func(d obj) {
		delete(podSpec(d), "securityContext")
		at(container(d, "app"), "securityContext")["runAsGroup"] = 20000
	}, "not in its group 10001"},
	{"pod sidecar without the shared pid namespace", "sidecar/pod.yaml", 0, func(d obj) {
		podSpec(d)["shareProcessNamespace"] = false
	}, "shareProcessNamespace must be true"},
	{"node-wide sidecar without host pids", "sidecar/daemonset.yaml", 0, func(d obj) {
		delete(podSpec(d), "hostPID")
	}, "needs hostPID: true"},
	{"selector misses the pods", "kubernetes/rag-service.yaml", 0, func(d obj) {
		at(d, "spec", "selector", "matchLabels")["app.kubernetes.io/name"] = "other"
	}, "does not select the pod template's labels"},
	{"service selects nothing", "kubernetes/rag-service.yaml", 1, func(d obj) {
		at(d, "spec", "selector")["app.kubernetes.io/name"] = "other"
	}, "selects no pod template"},
}

// TestMutateRoundTrip checks that re-encoding a document unchanged keeps
// it valid, so each case of [mutations] fails for its change alone.
func TestMutateRoundTrip(t *testing.T) {
	files := manifestFiles(t)
	for name, data := range files {
		docs, err := splitDocuments(data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range docs {
			files[name] = mutate(t, data, i, func(obj) {})
			if _, err := checkManifests(files); err != nil {
				t.Errorf("%s#%d re-encoded unchanged: %v", name, i, err)
			}
			files[name] = data
		}
	}
}

// TestMutationsCoverEveryFile keeps the table honest: every manifest file
// is broken by some case.
func TestMutationsCoverEveryFile(t *testing.T) {
	covered := map[string]bool{}
	for _, m := range mutations {
		covered[m.file] = true
	}
	for name := range manifestFiles(t) {
		if !covered[name] {
			t.Errorf("no mutation of %s", name)
		}
	}
}
