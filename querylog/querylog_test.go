package querylog

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dnsward/dnsward/pseudonym"
)

// lines counts the lines of file.
func lines(t *testing.T, file string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

// TestFilters: sample logs about its share of queries, only_blocked only
// the answers a policy changed.
func TestFilters(t *testing.T) {
	_, replayed := benchRecords(t)
	blocked := replayed
	blocked.Policy, blocked.Category = true, "ads"
	tests := []struct {
		name             string
		sample           float64
		onlyBlocked      bool
		wantMin, wantMax int
	}{
		{"everything", 1, false, 2000, 2000},
		{"a tenth", 0.1, false, 120, 290}, // 2000 records: 200 expected, over 5 sigma either side
		{"only blocked", 1, true, 1000, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "q.jsonl")
			l, err := New(Config{Masker: NewMasker(None, nil), Sample: tt.sample, OnlyBlocked: tt.onlyBlocked,
				Sinks: []SinkConfig{{JSON: file, Queue: 4096}}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for range 1000 {
				l.Log(replayed)
				l.Log(blocked)
			}
			l.Close()
			if n := lines(t, file); n < tt.wantMin || n > tt.wantMax {
				t.Fatalf("%d records logged, want %d to %d", n, tt.wantMin, tt.wantMax)
			}
		})
	}
}

// TestRotation: a JSON file is rotated at max_size, and only keep rotated
// files stay.
func TestRotation(t *testing.T) {
	_, replayed := benchRecords(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "q.jsonl")
	l, err := New(Config{Masker: NewMasker(Pseudonym, pseudonym.New(8, nil)),
		Sinks: []SinkConfig{{JSON: file, Queue: 64, Rotation: Rotation{MaxSize: 2000, Keep: 2}}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		for range 10 {
			l.Log(replayed)
		}
		time.Sleep(5 * time.Millisecond) // let the writer flush a batch, so that rotation happens between batches
	}
	l.Close()
	rotated, _ := filepath.Glob(file + ".*")
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	// A file is rotated before a batch that would take it past max_size:
	// one batch (10 records here, 20 if the writer fell behind) may pass it.
	if len(rotated) != 2 || st.Size() > 4000 {
		t.Fatalf("rotated files %v and current size %d: want 2 kept and at most about 2000 bytes", rotated, st.Size())
	}
	for _, f := range append(rotated, file) {
		if n := lines(t, f); n == 0 {
			t.Errorf("%s is empty", f)
		}
	}
}
