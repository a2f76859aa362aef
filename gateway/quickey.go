package gateway

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/quic-go/quic-go"
)

// quicResetKey returns the QUIC stateless reset key kept in dataDir,
// creating it on first use. It stays the same across restarts so that a
// restarted node can tell clients at once that their old connections are
// gone. It must not be shared between nodes (RFC 9000 §21.11): only
// data_dir/certmagic is meant for a shared volume.
func quicResetKey(dataDir string) (*quic.StatelessResetKey, error) {
	path := filepath.Join(dataDir, "quic-reset.key")
	var key quic.StatelessResetKey
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(b) == len(key):
		copy(key[:], b)
		return &key, nil
	case err == nil:
		return nil, fmt.Errorf("gateway: %s: want %d bytes, found %d", path, len(key), len(b))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("gateway: %w", err)
	}
	rand.Read(key[:])
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if err := os.WriteFile(path, key[:], 0o600); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return &key, nil
}
