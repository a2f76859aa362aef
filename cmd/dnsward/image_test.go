package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/frontendtest"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// imageUser is the image's non-root user (deploy/container/Containerfile).
const imageUser = 65532

// podmanRun are the flags the container runs with: the host network (the
// test's unbound and clients are on loopback), runc (crun refuses this
// sandbox's cgroup layout) and ulimits within the sandbox's (podman's
// defaults exceed them), a read-only root, the image's non-root user and
// no capability but NET_BIND_SERVICE.
var podmanRun = []string{"--runtime", "runc", "run", "--network", "host",
	"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--read-only",
	"--user", fmt.Sprintf("%d:%d", imageUser, imageUser), "--cap-drop=all", "--cap-add=NET_BIND_SERVICE"}

// TestContainerImage builds the image with `make image`, runs it with podman
// on a mounted configuration that forwards to unbound, asks it over UDP, DoT
// and DoH from the host, and stops it with `podman stop` while a query waits
// on a slow upstream: the query is answered and the container exits 0.
func TestContainerImage(t *testing.T) {
	podman := dnstest.NeedBinary(t, "podman", "podman")
	kdig := dnstest.NeedBinary(t, "kdig", "knot-dnsutils")
	image := fmt.Sprintf("localhost/dnsward-test:%d", time.Now().UnixNano())
	if out, err := exec.Command("make", "-C", "../..", "image", "IMAGE="+image, "VERSION=imagetest").CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(podman, "rmi", "-f", image).Run() })
	inspect, err := exec.Command(podman, "image", "inspect", "--format", "{{.Config.Entrypoint}} {{.Config.Cmd}} {{.Config.User}}", image).CombinedOutput()
	if want := "[/usr/local/bin/dnsward] [serve] 65532:65532\n"; err != nil || string(inspect) != want {
		t.Fatalf("image config %q (%v), want %q", inspect, err, want)
	}

	// unbound answers www.example. itself and forwards slow.example.net. to
	// an authority that takes 2 s, waiting 5 s before any retry.
	slow := dnstest.StartAuthority(t, []string{"slow.example.net. 300 IN A 127.0.0.77"},
		func(string) time.Duration { return 2 * time.Second })
	unbound := dnstest.StartUnbound(t, nil, fmt.Sprintf(`  do-not-query-localhost: no
  infra-cache-min-rtt: 5000
  local-data: "www.example. 300 IN A 127.0.0.30"
forward-zone:
  name: "slow.example.net."
  forward-addr: %s`, strings.Replace(slow.Addr, ":", "@", 1)))

	dir := t.TempDir()
	data := filepath.Join(dir, "data") // the image's data volume
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, imageUser, imageUser); err != nil {
		t.Fatal(err)
	}
	dnsAddr, dotPort, dohPort, metrics := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t)), dnstest.FreePort(t), dnstest.FreePort(t), fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	config := filepath.Join(dir, "dnsward.yaml")
	writeFile(t, config, fmt.Sprintf(`listen:
  dns: [%q]
  dot: ["127.0.0.1:%d"]
  doh: ["127.0.0.1:%d"]
  metrics: %q
upstreams: [udp://%s]
upstream_timeout: 8s
`, dnsAddr, dotPort, dohPort, metrics, unbound))

	name := strings.NewReplacer("localhost/", "", ":", "-").Replace(image)
	args := slices.Concat(podmanRun, []string{"--name", name, "-v", config + ":/etc/dnsward/dnsward.yaml:ro", "-v", data + ":/var/lib/dnsward",
		image, "serve", "--config", "/etc/dnsward/dnsward.yaml"})
	ctr := exec.Command(podman, args...)
	var out frontendtest.Logs
	ctr.Stdout, ctr.Stderr = &out, &out
	if err := ctr.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- ctr.Wait() }()
	t.Cleanup(func() {
		exec.Command(podman, "rm", "-f", name).Run()
		if t.Failed() {
			t.Logf("container output:\n%s", out.String())
		}
	})
	waitAnswer(t, dnsAddr, exited)

	if resp := askA(t, dnsAddr, "www.example."); len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "127.0.0.30" {
		t.Fatalf("UDP: %v", resp)
	}
	ca := filepath.Join(data, "self_signed", "ca.pem") // written by the container into its volume
	for _, tc := range []struct{ name, port, mode string }{
		{"DoT", fmt.Sprint(dotPort), "+tls"},
		{"DoH", fmt.Sprint(dohPort), "+https=/dns-query"},
	} {
		kout, err := exec.Command(kdig, "@127.0.0.1", "-p", tc.port, tc.mode, "+tls-ca="+ca, "+tls-hostname=localhost",
			"+timeout=5", "www.example.", "A").CombinedOutput()
		if err != nil || !strings.Contains(string(kout), "status: NOERROR") || !strings.Contains(string(kout), "127.0.0.30") {
			t.Fatalf("kdig %s: %v\n%s", tc.name, err, kout)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + metrics + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", path, resp.Status)
		}
	}

	// podman stop (SIGTERM) while a query waits on the slow upstream.
	answered := make(chan *dns.Msg, 1)
	go func() {
		q := new(dns.Msg)
		q.SetQuestion("slow.example.net.", dns.TypeA)
		resp, _, _ := (&dns.Client{Timeout: 10 * time.Second}).Exchange(q, dnsAddr)
		answered <- resp
	}()
	for deadline := time.Now().Add(5 * time.Second); slow.Queries.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slow query never reached the authority")
		}
	}
	stopped := time.Now()
	if sout, err := exec.Command(podman, "stop", "-t", "15", name).CombinedOutput(); err != nil {
		t.Fatalf("podman stop: %v\n%s", err, sout)
	}
	select {
	case resp := <-answered:
		if resp == nil || len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "127.0.0.77" {
			t.Fatalf("the query in flight at podman stop got %v", resp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the query in flight at podman stop was not answered")
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("container exited with %v after podman stop, want 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("podman run still running after podman stop returned")
	}
	if !strings.Contains(out.String(), "draining in-flight queries") {
		t.Fatal("the container did not log its drain")
	}
	t.Logf("podman stop drained the slow query in %v", time.Since(stopped).Round(time.Millisecond))
}

// waitAnswer polls addr over UDP for up to 30 s while the container starts.
func waitAnswer(t *testing.T, addr string, exited <-chan error) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, _, err := c.Exchange(q, addr); err == nil {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("the container exited (%v) before answering", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the container did not answer within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
