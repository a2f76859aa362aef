package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// filePair serves a certificate chain and key read from files, re-read when
// either file changes or on reload. A bad new pair keeps the old one.
type filePair struct {
	certFile, keyFile string
	name              string // label for logs and metrics

	mu    sync.Mutex // serialises loads
	stamp [2]fileStamp
	cur   atomic.Pointer[tls.Certificate]
}

// fileStamp identifies one version of a file.
type fileStamp struct {
	mod  time.Time
	size int64
}

// openFilePair reads the pair once; errors name the config key.
func openFilePair(certFile, keyFile, name string, r *reporter) (*filePair, error) {
	f := &filePair{certFile: certFile, keyFile: keyFile, name: name}
	if err := f.load(r); err != nil {
		return nil, err
	}
	return f, nil
}

// load reads both files and swaps the pair in when it is valid.
func (f *filePair) load(r *reporter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	stamp, _ := f.stat()
	pair, err := readPair(f.certFile, f.keyFile)
	f.stamp = stamp // a failed pair is retried once either file changes again
	if err != nil {
		return err
	}
	if leafOnly(pair) {
		r.log.Warn("tls.cert_file holds only the leaf certificate; serve the full chain (Android Private DNS rejects a leaf-only chain)",
			"cert_file", f.certFile)
	}
	f.cur.Store(pair)
	r.log.Info("loaded certificate", "cert_file", f.certFile, "names", pair.Leaf.DNSNames, "not_after", pair.Leaf.NotAfter)
	return nil
}

func (f *filePair) stat() ([2]fileStamp, error) {
	var s [2]fileStamp
	var errs []error
	for i, p := range []string{f.certFile, f.keyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return s, errors.Join(errs...)
}

func (f *filePair) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cur.Load(), nil
}

func (f *filePair) leaf(string) *x509.Certificate { return f.cur.Load().Leaf }

// check reloads the pair when either file changed since the last load.
func (f *filePair) check(r *reporter) {
	s, _ := f.stat()
	f.mu.Lock()
	changed := s != f.stamp
	f.mu.Unlock()
	if changed {
		f.reload(r)
	}
}

// reload re-reads the files, keeping the current pair if the new one is bad.
func (f *filePair) reload(r *reporter) error {
	err := f.load(r)
	if err != nil {
		r.fail(f.name, "certificate files not reloaded; keeping the current certificate", err)
	}
	return err
}
