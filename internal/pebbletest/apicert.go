package pebbletest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dnsward/dnsward/internal/testpki"
)

// writeAPICert creates a throw-away CA and a leaf for 127.0.0.1 and localhost
// for pebble's own HTTPS API, and returns the leaf, key and CA file paths.
func writeAPICert(t testing.TB, dir string) (certFile, keyFile, caFile string) {
	t.Helper()
	ca := testpki.NewCA("pebbletest API root")
	certPEM, keyPEM := testpki.PEM(ca.Issue(testpki.Leaf{Names: []string{"127.0.0.1", "localhost"}}))
	certFile, keyFile, caFile = filepath.Join(dir, "api.pem"), filepath.Join(dir, "api.key"), filepath.Join(dir, "api-ca.pem")
	for path, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM, caFile: ca.RootPEM()} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, caFile
}
