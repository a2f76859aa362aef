package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestQUICResetKeyPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := quicResetKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := quicResetKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if *first != *again {
		t.Fatal("the stateless reset key changed across restarts")
	}
	if fi, err := os.Stat(filepath.Join(dir, "quic-reset.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	os.WriteFile(filepath.Join(dir, "quic-reset.key"), []byte("short"), 0o600)
	if _, err := quicResetKey(dir); err == nil || !strings.Contains(err.Error(), "want 32 bytes, found 5") {
		t.Fatalf("corrupt key accepted: %v", err)
	}
}
