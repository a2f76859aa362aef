package querylog

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Rotation bounds a log file: it is renamed aside when it reaches MaxSize
// bytes or a UTC day ends, and of the renamed files only the newest Keep,
// none older than MaxAge, are kept.
type Rotation struct {
	MaxSize int64         // 0: no size limit
	Keep    int           // 0: keep every file
	MaxAge  time.Duration // 0: no age limit
}

// rotator is an append-only file that rotates itself.
type rotator struct {
	path string
	rot  Rotation
	f    *os.File
	size int64
	day  int64 // UTC day the file was opened on
}

// open opens (or creates) the file for appending.
func (r *rotator) open(now time.Time) error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size, r.day = f, st.Size(), now.UTC().Unix()/86400
	return nil
}

// due reports whether n more bytes written at now must go to a new file.
func (r *rotator) due(now time.Time, n int) bool {
	return r.size > 0 && (r.over(n) || now.UTC().Unix()/86400 != r.day)
}

// over reports whether n more bytes would take the file past MaxSize.
func (r *rotator) over(n int) bool {
	return r.rot.MaxSize > 0 && r.size+int64(n) > r.rot.MaxSize
}

// rotate renames the current file aside, prunes old ones and opens a new one.
func (r *rotator) rotate(now time.Time) error {
	r.close()
	aside := r.path + "." + now.UTC().Format("20060102T150405.000000000")
	if err := os.Rename(r.path, aside); err != nil && !os.IsNotExist(err) {
		return err
	}
	r.prune(now)
	return r.open(now)
}

// prune removes rotated files beyond Keep or older than MaxAge.
func (r *rotator) prune(now time.Time) {
	old, _ := filepath.Glob(r.path + ".*")
	slices.Sort(old) // the suffix is a timestamp: oldest first
	old = slices.DeleteFunc(old, func(p string) bool { return !isRotated(p, r.path) })
	for i, p := range old {
		st, err := os.Stat(p)
		if r.rot.Keep > 0 && i < len(old)-r.rot.Keep || r.rot.MaxAge > 0 && err == nil && now.Sub(st.ModTime()) > r.rot.MaxAge {
			os.Remove(p)
		}
	}
}

// isRotated reports whether p is a file rotate renamed base to.
func isRotated(p, base string) bool {
	_, err := time.Parse("20060102T150405.000000000", strings.TrimPrefix(p, base+"."))
	return err == nil
}

// write appends b, which it counts whatever happens to it.
func (r *rotator) write(b []byte) (int, error) {
	n, err := r.f.Write(b)
	r.size += int64(n)
	return n, err
}

// cut truncates the file back to size bytes, after a failed write, so that
// no half record stays in it.
func (r *rotator) cut(size int64) {
	if r.f.Truncate(size) == nil {
		r.size = size
	}
}

func (r *rotator) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

func (r *rotator) String() string { return fmt.Sprintf("file %s", r.path) }
