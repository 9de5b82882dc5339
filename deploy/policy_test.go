package deploy_test

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/llmslo/slo/deploy/internal/release"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/probes/sidecar"
)

// socketEnv is the environment variable through which a client finds the
// sidecar's socket.
const socketEnv = "SLO_SIDECAR_SOCKET"

// podTemplate is the pod of a workload.
type podTemplate struct {
	where  string // file#doc Kind/name
	file   string
	kind   string
	spec   *corev1.PodSpec
	labels map[string]string
}

// problems collects policy violations with where they are.
type problems struct{ errs []error }

func (p *problems) add(where, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
}

// policy checks the decoded objects against what the project requires of
// its manifests:
//
//   - every workload's selector selects its pod template, every volume
//     mount names a volume of the pod, every Service selects a pod and
//     targets one of its ports;
//   - every container runs an image the release writes (repository, name
//     and the VERSION tag: [release.Program.Image]), with
//     allowPrivilegeEscalation false, a read-only root filesystem, the
//     RuntimeDefault seccomp profile, capabilities ALL dropped, CPU and
//     memory requests and a memory limit, and liveness and readiness probes;
//   - the sidecar adds exactly the capabilities of [sidecar.Capabilities],
//     is not privileged, mounts BTF and the cgroup hierarchy read-only;
//     every other container adds none and runs as a non-root user;
//   - each client of a sidecar finds its socket through SLO_SIDECAR_SOCKET,
//     mounts the very volume the sidecar serves it in (the pod's shared
//     volume, or the same host directory for the node-wide DaemonSet), and
//     runs in the socket's group.
func policy(objs []object) error {
	var p problems
	version, err := release.ReadVersion("..")
	if err != nil {
		return err
	}
	var pods []podTemplate
	var services []object
	for _, o := range objs {
		where := fmt.Sprintf("%s %s", o, o.obj.GetObjectKind().GroupVersionKind().Kind)
		switch x := o.obj.(type) {
		case *appsv1.Deployment:
			pods = append(pods, workload(&p, o.file, where+"/"+x.Name, "Deployment", x.Spec.Selector, &x.Spec.Template))
		case *appsv1.DaemonSet:
			pods = append(pods, workload(&p, o.file, where+"/"+x.Name, "DaemonSet", x.Spec.Selector, &x.Spec.Template))
		case *corev1.Service:
			services = append(services, o)
		default:
			p.add(where, "no policy for this kind here: add one before shipping it")
		}
	}
	for _, pd := range pods {
		for i := range pd.spec.Containers {
			checkContainer(&p, pd, &pd.spec.Containers[i], version)
		}
	}
	checkSockets(&p, pods)
	for _, s := range services {
		checkService(&p, s, pods)
	}
	return errors.Join(p.errs...)
}

// workload checks what every workload needs and returns its pod template.
func workload(p *problems, file, where, kind string, sel *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec) podTemplate {
	s, err := metav1.LabelSelectorAsSelector(sel)
	switch {
	case err != nil:
		p.add(where, "selector: %v", err)
	case sel == nil || s.Empty() || !s.Matches(labels.Set(tmpl.Labels)):
		p.add(where, "selector %v does not select the pod template's labels %v", sel, tmpl.Labels)
	}
	vols := map[string]bool{}
	for _, v := range tmpl.Spec.Volumes {
		vols[v.Name] = true
	}
	for _, c := range tmpl.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if !vols[m.Name] {
				p.add(where, "container %s mounts undefined volume %q", c.Name, m.Name)
			}
			if !path.IsAbs(m.MountPath) {
				p.add(where, "container %s mountPath %q is not absolute", c.Name, m.MountPath)
			}
		}
	}
	return podTemplate{where: where, file: file, kind: kind, spec: &tmpl.Spec, labels: tmpl.Labels}
}

// isSidecar reports whether c is the slo-sidecar (by name or image).
func isSidecar(c *corev1.Container) bool {
	return c.Name == "slo-sidecar" || strings.HasPrefix(c.Image, release.Repository+"/slo-sidecar:")
}

// checkContainer checks one container's image, security context,
// resources and probes.
func checkContainer(p *problems, pd podTemplate, c *corev1.Container, version string) {
	where := pd.where + " container " + c.Name
	checkImage(p, where, c, version)
	sc := c.SecurityContext
	if sc == nil {
		p.add(where, "no securityContext")
		return
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		p.add(where, "securityContext.allowPrivilegeEscalation must be false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		p.add(where, "securityContext.readOnlyRootFilesystem must be true")
	}
	if sc.Privileged != nil && *sc.Privileged {
		p.add(where, "securityContext.privileged must not be true")
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && pd.spec.SecurityContext != nil {
		seccomp = pd.spec.SecurityContext.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		p.add(where, "seccompProfile %v, want RuntimeDefault", seccomp)
	}
	var add []corev1.Capability
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		p.add(where, "securityContext.capabilities.drop must be [ALL]")
	}
	if sc.Capabilities != nil {
		add = sc.Capabilities.Add
	}
	if isSidecar(c) {
		checkSidecarCaps(p, where, add)
		checkSidecarMounts(p, pd, where, c)
	} else {
		checkUnprivileged(p, pd, where, sc, add)
	}
	checkResources(p, where, c.Resources)
	checkProbes(p, where, c)
}

// checkImage: the container runs an image the release writes.
func checkImage(p *problems, where string, c *corev1.Container, version string) {
	var images []string
	for _, prog := range release.Programs() {
		images = append(images, prog.Image(version))
	}
	if isSidecar(c) {
		prog, _ := release.Lookup("slo-sidecar")
		images = []string{prog.Image(version)}
	}
	if !slices.Contains(images, c.Image) {
		p.add(where, "image %q is not one the release writes: %v", c.Image, images)
	}
}

// checkSidecarCaps: the sidecar adds exactly [sidecar.Capabilities].
func checkSidecarCaps(p *problems, where string, add []corev1.Capability) {
	allowed := sidecar.Capabilities()
	seen := map[string]bool{}
	for _, c := range add {
		switch {
		case seen[string(c)]:
			p.add(where, "capabilities.add lists %s twice", c)
		case !slices.Contains(allowed, string(c)):
			p.add(where, "capabilities.add has %s beyond the sidecar's own list %v (probes/sidecar.Capabilities)", c, allowed)
		}
		seen[string(c)] = true
	}
	for _, c := range allowed {
		if !seen[c] {
			p.add(where, "capabilities.add lacks %s, which the sidecar needs (probes/sidecar.Capabilities)", c)
		}
	}
}

// checkUnprivileged: a container other than the sidecar adds no capability
// and runs as a non-root user (container or pod level).
func checkUnprivileged(p *problems, pd podTemplate, where string, sc *corev1.SecurityContext, add []corev1.Capability) {
	if len(add) > 0 {
		p.add(where, "capabilities.add %v: only the sidecar adds capabilities", add)
	}
	nonRoot, uid := sc.RunAsNonRoot, sc.RunAsUser
	if psc := pd.spec.SecurityContext; psc != nil {
		if nonRoot == nil {
			nonRoot = psc.RunAsNonRoot
		}
		if uid == nil {
			uid = psc.RunAsUser
		}
	}
	if nonRoot == nil || !*nonRoot {
		p.add(where, "runAsNonRoot must be true")
	}
	if uid == nil || *uid == 0 {
		p.add(where, "runAsUser must be a non-zero numeric user, got %v", uid)
	}
}

// checkResources: CPU and memory requests, a memory limit.
func checkResources(p *problems, where string, r corev1.ResourceRequirements) {
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := r.Requests[res]; !ok || q.IsZero() {
			p.add(where, "resources.requests has no %s", res)
		}
	}
	if q, ok := r.Limits[corev1.ResourceMemory]; !ok || q.IsZero() {
		p.add(where, "resources.limits has no memory")
	}
}

// checkProbes: liveness and readiness probes, on ports the container has.
func checkProbes(p *problems, where string, c *corev1.Container) {
	for _, x := range []struct {
		name string
		pr   *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}} {
		name, pr := x.name, x.pr
		if pr == nil {
			p.add(where, "no %s", name)
			continue
		}
		if hg := pr.HTTPGet; hg != nil && !hasPort(c, hg.Port) {
			p.add(where, "%s port %s is not a port of the container", name, hg.Port.String())
		}
	}
}

func hasPort(c *corev1.Container, port intstr.IntOrString) bool {
	for _, cp := range c.Ports {
		if (port.Type == intstr.String && cp.Name == port.StrVal) || (port.Type == intstr.Int && cp.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

// checkSidecarMounts: BTF and the host's cgroup hierarchy, read-only, from
// the host; the socket mode, when given, 0660.
func checkSidecarMounts(p *problems, pd podTemplate, where string, c *corev1.Container) {
	for _, dir := range []string{"/sys/kernel/btf", "/sys/fs/cgroup"} {
		m := mountAt(c, dir)
		v := volumeOf(pd.spec, m)
		if m == nil || !m.ReadOnly || v == nil || v.HostPath == nil || v.HostPath.Path != dir {
			p.add(where, "needs the host's %s mounted read-only at %s", dir, dir)
		}
	}
	if m, ok := flagValue(c.Args, "mode"); ok && m != "0660" {
		p.add(where, "-mode %s, want 0660: the socket is for the sidecar's group only", m)
	}
}

func mountAt(c *corev1.Container, dir string) *corev1.VolumeMount {
	for i, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) == dir {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func volumeOf(spec *corev1.PodSpec, m *corev1.VolumeMount) *corev1.Volume {
	if m == nil {
		return nil
	}
	for i, v := range spec.Volumes {
		if v.Name == m.Name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// flagValue returns the value of -name=value or -name value in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		a = "-" + strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, "-"+name+"="); ok {
			return v, true
		}
		if a == "-"+name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// checkService: the selector selects a pod of the same file and each
// target port is one of its container ports.
func checkService(p *problems, o object, pods []podTemplate) {
	s := o.obj.(*corev1.Service)
	where := fmt.Sprintf("%s Service/%s", o, s.Name)
	sel := labels.SelectorFromSet(s.Spec.Selector)
	for _, pd := range pods {
		if pd.file != o.file || len(s.Spec.Selector) == 0 || !sel.Matches(labels.Set(pd.labels)) {
			continue
		}
		for _, sp := range s.Spec.Ports {
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(sp.Port)
			}
			found := false
			for i := range pd.spec.Containers {
				found = found || hasPort(&pd.spec.Containers[i], target)
			}
			if !found {
				p.add(where, "port %s targets %s, which no container of %s has", sp.Name, target.String(), pd.where)
			}
		}
		return
	}
	p.add(where, "selector %v selects no pod template in %s", s.Spec.Selector, o.file)
}

// server is a sidecar container and the socket it serves.
type server struct {
	pod    podTemplate
	socket string
	volume *corev1.Volume // holding the socket's directory
	group  *int64         // the socket file's group: the sidecar's runAsGroup
}

// checkSockets checks the wiring between each sidecar and its clients.
func checkSockets(p *problems, pods []podTemplate) {
	var servers []server
	for _, pd := range pods {
		for i := range pd.spec.Containers {
			if c := &pd.spec.Containers[i]; isSidecar(c) {
				servers = append(servers, sidecarServer(p, pd, c))
			}
		}
	}
	for _, pd := range pods {
		for i := range pd.spec.Containers {
			if c := &pd.spec.Containers[i]; !isSidecar(c) {
				checkClient(p, pd, c, servers)
			}
		}
	}
}

// sidecarServer checks a sidecar's socket placement for its pod kind.
func sidecarServer(p *problems, pd podTemplate, c *corev1.Container) server {
	where := pd.where + " container " + c.Name
	s := server{pod: pd, socket: probes.DefaultSidecarSocket}
	if v, ok := flagValue(c.Args, "socket"); ok {
		s.socket = v
	}
	m := mountAt(c, path.Dir(s.socket))
	if s.volume = volumeOf(pd.spec, m); s.volume == nil {
		p.add(where, "-socket %s is not in a volume mounted at %s", s.socket, path.Dir(s.socket))
	}
	if c.SecurityContext != nil {
		s.group = c.SecurityContext.RunAsGroup
	}
	if g, ok := flagValue(c.Args, "group"); ok {
		gid, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			p.add(where, "-group %q: give the numeric gid, which the clients' runAsGroup or fsGroup must match", g)
		}
		s.group = &gid
	}
	if s.group == nil {
		p.add(where, "the socket's group is root's (no runAsGroup, no -group): no unprivileged client can open it")
	}
	switch pd.kind {
	case "DaemonSet": // one sidecar per node, clients in other pods
		if !pd.spec.HostPID {
			p.add(where, "a node-wide sidecar needs hostPID: true to see its clients' pids")
		}
		if s.volume != nil && s.volume.HostPath == nil {
			p.add(where, "the socket volume %s must be a hostPath: clients in other pods mount it", s.volume.Name)
		}
	default: // in the client's pod
		if pd.spec.ShareProcessNamespace == nil || !*pd.spec.ShareProcessNamespace {
			p.add(where, "shareProcessNamespace must be true: the sidecar resolves the client's pid")
		}
		if s.volume != nil && s.volume.EmptyDir == nil {
			p.add(where, "the socket volume %s must be an emptyDir shared in the pod", s.volume.Name)
		}
	}
	return s
}

// checkClient checks an application container against the sidecar that
// serves it: its own pod's, else the node-wide one of the same file.
func checkClient(p *problems, pd podTemplate, c *corev1.Container, servers []server) {
	where := pd.where + " container " + c.Name
	env, uses := "", false
	for _, e := range c.Env {
		if e.Name == socketEnv {
			env, uses = e.Value, true
		}
	}
	var s *server
	for i := range servers {
		if servers[i].pod.spec == pd.spec {
			s = &servers[i]
		}
	}
	for i := range servers {
		if s == nil && uses && servers[i].pod.kind == "DaemonSet" && servers[i].pod.file == pd.file {
			s = &servers[i]
		}
	}
	switch {
	case s == nil && uses:
		p.add(where, "%s is set but no sidecar in %s serves it", socketEnv, pd.file)
		return
	case s == nil:
		return // not a client
	case env != s.socket:
		p.add(where, "%s=%q, want the sidecar's socket %q", socketEnv, env, s.socket)
	}
	v := volumeOf(pd.spec, mountAt(c, path.Dir(s.socket)))
	switch {
	case v == nil || s.volume == nil:
		p.add(where, "does not mount the sidecar's socket directory %s", path.Dir(s.socket))
	case s.pod.spec == pd.spec && v.Name != s.volume.Name:
		p.add(where, "mounts volume %s at %s, the sidecar serves in volume %s", v.Name, path.Dir(s.socket), s.volume.Name)
	case s.pod.spec != pd.spec && (v.HostPath == nil || s.volume.HostPath == nil || v.HostPath.Path != s.volume.HostPath.Path):
		p.add(where, "must mount the sidecar's host directory %v at %s", s.volume.HostPath, path.Dir(s.socket))
	}
	checkGroup(p, pd, where, c, s.group)
}

// checkGroup: the client can open the 0660 socket of group gid.
func checkGroup(p *problems, pd podTemplate, where string, c *corev1.Container, gid *int64) {
	if gid == nil {
		return // reported with the sidecar
	}
	if c.SecurityContext != nil && c.SecurityContext.RunAsGroup != nil && *c.SecurityContext.RunAsGroup == *gid {
		return
	}
	if psc := pd.spec.SecurityContext; psc != nil {
		if (psc.FSGroup != nil && *psc.FSGroup == *gid) || slices.Contains(psc.SupplementalGroups, *gid) ||
			(psc.RunAsGroup != nil && *psc.RunAsGroup == *gid) {
			return
		}
	}
	p.add(where, "cannot open the sidecar's 0660 socket: not in its group %d", *gid)
}
