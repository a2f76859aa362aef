package filter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkIndicator fails for an indicator a set could not hold or whose
// UUIDs do not parse.
func checkIndicator(t *testing.T, in indicator) {
	t.Helper()
	var b Builder
	if !b.Add(in.Name, ScopeSubtree) {
		t.Fatalf("indicator name %q not accepted by the builder", in.Name)
	}
	if !validUUID(in.Attr) || !validUUID(in.Event) {
		t.Fatalf("indicator %+v with a bad UUID", in)
	}
}

func addRefSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile(refData + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

// FuzzDecodeRestSearch: any restSearch answer decodes without panicking
// into indicators a set can hold.
func FuzzDecodeRestSearch(f *testing.F) {
	addRefSeeds(f, "restsearch.json")
	f.Add(`{"response": []}`)
	f.Add(`{"response": {"Attribute": [{"uuid": "x", "Event": {}}]}}`)
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = decodeRestSearch(strings.NewReader(in), func(c restChange) { checkIndicator(t, c.in) })
	})
}

// FuzzDecodeFeedEvent: any feed event (and manifest) decodes without
// panicking into indicators a set can hold.
func FuzzDecodeFeedEvent(f *testing.F) {
	events, _ := filepath.Glob(refData + "feed/*-*.json")
	for _, e := range events {
		addRefSeeds(f, strings.TrimPrefix(e, refData))
	}
	addRefSeeds(f, "feed/manifest.json")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = decodeFeedEvent(strings.NewReader(in), []string{"tlp:white"}, func(i indicator) { checkIndicator(t, i) })
		_, _ = decodeManifest(strings.NewReader(in))
	})
}
