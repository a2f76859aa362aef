package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/dnsward/dnsward/gateway/config"
)

// drainSeconds is `dnsward serve`'s bound on the SIGTERM drain
// (cmd/dnsward's drainTimeout).
const drainSeconds = 10

// image is what the overlays' images: entries make of the manifests' "dnsward".
const image = "registry.example/dnsward:latest"

// rendered is one overlay's objects, decoded.
type rendered struct {
	configMaps  []corev1.ConfigMap
	services    map[string]corev1.Service
	pdbs        []policyv1.PodDisruptionBudget
	monitors    []monitoringv1.ServiceMonitor
	deployments []appsv1.Deployment
	daemonSets  []appsv1.DaemonSet
}

// render runs kustomize on dir and decodes every object strictly into its
// Kubernetes API type: an unknown kind, an unknown field or a field of the
// wrong type fails the test.
func render(t *testing.T, dir string) *rendered {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	r := &rendered{services: map[string]corev1.Service{}}
	for _, res := range m.Resources() {
		data, err := res.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var obj any
		switch gvk := res.GetGvk(); gvk.ApiVersion() + " " + gvk.Kind {
		case "v1 ConfigMap":
			r.configMaps = append(r.configMaps, corev1.ConfigMap{})
			obj = &r.configMaps[len(r.configMaps)-1]
		case "v1 Service":
			obj = new(corev1.Service)
		case "policy/v1 PodDisruptionBudget":
			r.pdbs = append(r.pdbs, policyv1.PodDisruptionBudget{})
			obj = &r.pdbs[len(r.pdbs)-1]
		case "monitoring.coreos.com/v1 ServiceMonitor":
			r.monitors = append(r.monitors, monitoringv1.ServiceMonitor{})
			obj = &r.monitors[len(r.monitors)-1]
		case "apps/v1 Deployment":
			r.deployments = append(r.deployments, appsv1.Deployment{})
			obj = &r.deployments[len(r.deployments)-1]
		case "apps/v1 DaemonSet":
			r.daemonSets = append(r.daemonSets, appsv1.DaemonSet{})
			obj = &r.daemonSets[len(r.daemonSets)-1]
		default:
			t.Fatalf("%s: unexpected object %s %s", dir, gvk, res.GetName())
		}
		strict, err := sigsjson.UnmarshalStrict(data, obj, sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
		if err != nil || len(strict) > 0 {
			t.Fatalf("%s: %s %s does not decode strictly: %v %v", dir, res.GetKind(), res.GetName(), err, strict)
		}
		if svc, ok := obj.(*corev1.Service); ok {
			r.services[svc.Name] = *svc
		}
	}
	return r
}

// publicPorts are the ports the dnsward Service must publish.
var publicPorts = []string{"53/UDP", "53/TCP", "443/TCP", "443/UDP", "853/TCP", "853/UDP"}

// TestKubernetesOverlays renders each overlay and checks that its parts fit
// together: the workload mounts the generated ConfigMap, whose dnsward.yaml
// is valid for dnsward and listens on the container's ports; the Services,
// the PodDisruptionBudget and the ServiceMonitor select the pods and name
// ports that exist; probes hit /readyz and /healthz on the metrics port; the
// grace period covers preStop and the drain; the container is locked down.
func TestKubernetesOverlays(t *testing.T) {
	pods := map[string]corev1.PodTemplateSpec{}
	for _, tc := range []struct {
		overlay     string
		hostNetwork bool
		addCaps     []corev1.Capability
	}{
		{"deployment", false, nil},
		{"xdp", true, []corev1.Capability{"NET_BIND_SERVICE", "BPF", "NET_ADMIN"}},
	} {
		t.Run(tc.overlay, func(t *testing.T) {
			r := render(t, filepath.Join("kubernetes", "overlays", tc.overlay))
			if len(r.deployments)+len(r.daemonSets) != 1 || len(r.configMaps) != 1 || len(r.pdbs) != 1 || len(r.monitors) != 1 || len(r.services) != 2 {
				t.Fatalf("want one workload, ConfigMap, PDB, ServiceMonitor and two Services; got %d deployments, %d daemon sets, %d, %d, %d, %d",
					len(r.deployments), len(r.daemonSets), len(r.configMaps), len(r.pdbs), len(r.monitors), len(r.services))
			}
			var pod corev1.PodTemplateSpec
			var selector labels.Selector
			if len(r.deployments) == 1 {
				pod, selector = r.deployments[0].Spec.Template, mustSelector(t, r.deployments[0].Spec.Selector.MatchLabels)
			} else {
				pod, selector = r.daemonSets[0].Spec.Template, mustSelector(t, r.daemonSets[0].Spec.Selector.MatchLabels)
			}
			pods[tc.overlay] = pod
			podLabels := labels.Set(pod.Labels)
			if !selector.Matches(podLabels) {
				t.Errorf("the workload's selector does not match its pods' labels %v", pod.Labels)
			}
			if pod.Spec.HostNetwork != tc.hostNetwork {
				t.Errorf("hostNetwork %v, want %v", pod.Spec.HostNetwork, tc.hostNetwork)
			}
			if len(pod.Spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
			}
			c := pod.Spec.Containers[0]
			if c.Image != image {
				t.Errorf("image %q, want %q", c.Image, image)
			}
			ports := containerPorts(t, c)
			checkConfig(t, r.configMaps[0], pod, c, ports)
			checkProbes(t, pod, c)
			checkSecurity(t, c, tc.addCaps)

			for name, svc := range r.services {
				if !mustSelector(t, svc.Spec.Selector).Matches(podLabels) {
					t.Errorf("Service %s does not select the pods", name)
				}
				for _, p := range svc.Spec.Ports {
					if cp, ok := ports[p.TargetPort.String()]; !ok || cp.Protocol != p.Protocol {
						t.Errorf("Service %s port %s: target %s/%s is no container port", name, p.Name, p.TargetPort.String(), p.Protocol)
					}
				}
			}
			var published []string
			for _, p := range r.services["dnsward"].Spec.Ports {
				published = append(published, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
			}
			if !sameSet(published, publicPorts) {
				t.Errorf("Service dnsward publishes %v, want %v", published, publicPorts)
			}
			if pdb := r.pdbs[0]; !mustSelector(t, pdb.Spec.Selector.MatchLabels).Matches(podLabels) || pdb.Spec.MaxUnavailable == nil {
				t.Errorf("PodDisruptionBudget does not bound the pods: %+v", pdb.Spec)
			}
			checkMonitor(t, r.monitors[0], r.services)
		})
	}
	// The DaemonSet is the Deployment's pod on the host network: the parts
	// that do not depend on the network are the same.
	d, x := pods["deployment"].Spec, pods["xdp"].Spec
	if len(d.Containers) == 1 && len(x.Containers) == 1 {
		dc, xc := d.Containers[0], x.Containers[0]
		for _, part := range []struct {
			name string
			a, b any
		}{
			{"args", dc.Args, xc.Args},
			{"probes", []any{dc.StartupProbe, dc.ReadinessProbe, dc.LivenessProbe}, []any{xc.StartupProbe, xc.ReadinessProbe, xc.LivenessProbe}},
			{"lifecycle", dc.Lifecycle, xc.Lifecycle},
			{"resources", dc.Resources, xc.Resources},
			{"volume mounts", dc.VolumeMounts, xc.VolumeMounts},
			{"grace period", d.TerminationGracePeriodSeconds, x.TerminationGracePeriodSeconds},
		} {
			if !reflect.DeepEqual(part.a, part.b) {
				t.Errorf("the Deployment's and the DaemonSet's %s differ:\n%+v\n%+v", part.name, part.a, part.b)
			}
		}
	}
}

// containerPorts indexes c's ports by name, each name once.
func containerPorts(t *testing.T, c corev1.Container) map[string]corev1.ContainerPort {
	t.Helper()
	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		if _, dup := ports[p.Name]; dup || p.Name == "" {
			t.Errorf("container port %q named twice or not at all", p.Name)
		}
		ports[p.Name] = p
	}
	return ports
}

// checkConfig: the pod mounts the generated ConfigMap where its args read
// dnsward.yaml, which dnsward's own loader accepts, and whose listen
// addresses are the container's ports.
func checkConfig(t *testing.T, cm corev1.ConfigMap, pod corev1.PodTemplateSpec, c corev1.Container, ports map[string]corev1.ContainerPort) {
	t.Helper()
	vol := slices.IndexFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == cm.Name })
	if vol < 0 {
		t.Fatalf("no volume mounts the ConfigMap %s", cm.Name)
	}
	mount := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == pod.Spec.Volumes[vol].Name })
	if mount < 0 || !slices.Equal(c.Args, []string{"serve", "--config", filepath.Join(c.VolumeMounts[mount].MountPath, "dnsward.yaml")}) {
		t.Fatalf("args %v do not read dnsward.yaml from the ConfigMap's mount", c.Args)
	}
	file := filepath.Join(t.TempDir(), "dnsward.yaml")
	if err := os.WriteFile(file, []byte(cm.Data["dnsward.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatalf("the ConfigMap's dnsward.yaml: %v", err)
	}
	for _, l := range []struct {
		port  string
		addrs []string
	}{
		{"dns-udp", cfg.Listen.DNS}, {"dns-tcp", cfg.Listen.DNS},
		{"doh", cfg.Listen.DoH}, {"doh3", cfg.Listen.DoH},
		{"dot", cfg.Listen.DoT}, {"doq", cfg.Listen.DoQ},
		{"metrics", []string{cfg.Listen.Metrics}},
	} {
		if len(l.addrs) != 1 || portOf(t, l.addrs[0]) != ports[l.port].ContainerPort {
			t.Errorf("container port %s (%d) is not where dnsward.yaml listens: %v", l.port, ports[l.port].ContainerPort, l.addrs)
		}
	}
	data := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == cfg.DataDir && !m.ReadOnly })
	if data < 0 {
		t.Errorf("data_dir %s is no writable volume (the root file system is read-only)", cfg.DataDir)
	}
}

// checkProbes: readiness on /readyz, startup and liveness on /healthz, all
// on the metrics port; the grace period covers preStop and the drain.
func checkProbes(t *testing.T, pod corev1.PodTemplateSpec, c corev1.Container) {
	t.Helper()
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"startup", c.StartupProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "metrics" {
			t.Errorf("%s probe %+v, want GET %s on the metrics port", p.name, p.probe, p.path)
		}
	}
	var preStop int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = c.Lifecycle.PreStop.Sleep.Seconds
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g < preStop+drainSeconds+5 {
		t.Errorf("terminationGracePeriodSeconds (%s) does not cover preStop (%d s), the %d s drain and a 5 s margin", gracePeriod(g), preStop, drainSeconds)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", c.Resources)
	}
}

// checkSecurity: read-only root, no privilege escalation, every capability
// dropped but add.
func checkSecurity(t *testing.T, c corev1.Container, add []corev1.Capability) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || !slices.Equal(sc.Capabilities.Add, add) {
		t.Errorf("container securityContext %+v: want a read-only root, no privilege escalation, capabilities ALL dropped and %v added", sc, add)
	}
}

// checkMonitor: the ServiceMonitor selects exactly one Service, which has
// the port it scrapes.
func checkMonitor(t *testing.T, m monitoringv1.ServiceMonitor, services map[string]corev1.Service) {
	t.Helper()
	sel := mustSelector(t, m.Spec.Selector.MatchLabels)
	var matched []corev1.Service
	for _, svc := range services {
		if sel.Matches(labels.Set(svc.Labels)) {
			matched = append(matched, svc)
		}
	}
	if len(matched) != 1 || len(m.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor selects %d Services with %d endpoints, want 1 and 1", len(matched), len(m.Spec.Endpoints))
	}
	ep := m.Spec.Endpoints[0]
	if !slices.ContainsFunc(matched[0].Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) || ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor scrapes port %q path %q; Service %s has no such port", ep.Port, ep.Path, matched[0].Name)
	}
}

func gracePeriod(g *int64) string {
	if g == nil {
		return "unset: 30 s"
	}
	return fmt.Sprintf("%d s", *g)
}

func mustSelector(t *testing.T, m map[string]string) labels.Selector {
	t.Helper()
	if len(m) == 0 {
		t.Fatal("empty selector (it would select everything)")
	}
	return labels.SelectorFromSet(m)
}

func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
