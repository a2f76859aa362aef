package doh

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestCurlOversizedPOST: curl posting a body over MaxBody over HTTP/2 sees
// the 413 every time. The answer comes while curl is still sending, which
// ends its side with RST_STREAM(NO_ERROR) (RFC 9113 §8.1); curl 7.88 lost
// the status when that reset came with the answer.
func TestCurlOversizedPOST(t *testing.T) { forEachEngine(t, testCurlOversizedPOST) }

func testCurlOversizedPOST(t *testing.T, engine string) {
	env := startServer(t, onEngine(engine))
	port := strconv.Itoa(int(env.srv.TLSAddrs()[0].Port()))
	body := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(body, make([]byte, 3*MaxMessageSize), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		out, err := runErr(t, "curl", "--http2", "--silent", "--max-time", "10", "--cacert", env.pki.CAFile,
			"--resolve", "dns.test:"+port+":127.0.0.1", "--output", "/dev/null", "--write-out", "%{http_version} %{http_code}",
			"-H", "content-type: application/dns-message", "--data-binary", "@"+body, "https://dns.test:"+port+"/dns-query")
		if out != "2 413" {
			t.Fatalf("try %d: curl reported %q (%v), want HTTP/2 413", i+1, out, err)
		}
	}
}
