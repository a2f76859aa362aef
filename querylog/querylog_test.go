package querylog

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	dnstap "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"

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
	for range 200 {
		l.Log(replayed)
	}
	l.Close()
	rotated, _ := filepath.Glob(file + ".*")
	if len(rotated) != 2 {
		t.Fatalf("rotated files %v: want 2 kept", rotated)
	}
	// A record that would take a file past max_size starts the next one,
	// however the writer batched them.
	for _, f := range append(rotated, file) {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := lines(t, f); n == 0 || st.Size() > 2000 {
			t.Errorf("%s holds %d records, %d bytes: want 1 or more and at most 2000 bytes", f, n, st.Size())
		}
	}
}

// TestDnstapFileRotation: every file a dnstap file sink rotates is a whole
// Frame Streams stream (START, frames, STOP) that golang-dnstap reads.
func TestDnstapFileRotation(t *testing.T) {
	_, replayed := benchRecords(t)
	file := filepath.Join(t.TempDir(), "tap.fstrm")
	l, err := New(Config{Masker: NewMasker(None, nil),
		Sinks: []SinkConfig{{Dnstap: "file://" + file, Queue: 64, Rotation: Rotation{MaxSize: 3000}}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const sent = 100
	for range sent / 10 {
		for range 10 {
			l.Log(replayed)
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.Close()
	files, _ := filepath.Glob(file + "*")
	if len(files) < 3 {
		t.Fatalf("files %v: want the stream rotated at 3000 bytes", files)
	}
	frames := dnstapFrames(t, files)
	if frames != 2*sent {
		t.Fatalf("%d frames in %d files, want %d (a query and a response for each record)", frames, len(files), 2*sent)
	}
}

// dnstapFrames reads every file as one dnstap stream, as a collector would,
// and counts the frames.
func dnstapFrames(t *testing.T, files []string) int {
	t.Helper()
	frames := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := dnstap.NewReader(fh, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		buf := make([]byte, 65536)
		for {
			n, err := r.ReadFrame(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: frame %d: %v", f, frames, err)
			}
			var d dnstap.Dnstap
			if err := proto.Unmarshal(buf[:n], &d); err != nil || d.Message == nil {
				t.Fatalf("%s: frame %d: %v", f, frames, err)
			}
			frames++
		}
		fh.Close()
	}
	return frames
}

// TestDnstapFileReload: a reload (and a restart) that reopens a dnstap file
// leaves every record readable: the file holding the earlier stream is
// rotated aside, so no reader stops at an old STOP frame.
func TestDnstapFileReload(t *testing.T) {
	_, replayed := benchRecords(t)
	file := filepath.Join(t.TempDir(), "tap.fstrm")
	cfg := Config{Masker: NewMasker(None, nil), Sinks: []SinkConfig{{Dnstap: "file://" + file, Queue: 64}}}
	l, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const each = 10
	log := func() {
		for range each {
			l.Log(replayed)
		}
		time.Sleep(30 * time.Millisecond) // past the sink's 10 ms flush
	}
	log()
	if err := l.Update(cfg); err != nil { // SIGHUP
		t.Fatal(err)
	}
	log()
	l.Close()
	if l, err = New(cfg, nil, nil); err != nil { // a restart
		t.Fatal(err)
	}
	log()
	l.Close()
	files, _ := filepath.Glob(file + "*")
	if frames := dnstapFrames(t, files); frames != 2*3*each {
		t.Fatalf("%d frames readable in %v, want %d", frames, files, 2*3*each)
	}
}

// TestRecordSize pins README's "about 650 bytes" per queued record: the
// ring is allocated whole when a sink starts (queue × record).
func TestRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(record{}); n < 550 || n > 750 {
		t.Errorf("a queued record takes %d bytes; README says about 650", n)
	}
}
