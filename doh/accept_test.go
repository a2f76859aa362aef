package doh

import "testing"

func TestAccepts(t *testing.T) {
	tests := []struct {
		header, media string
		want          bool
	}{
		{"", mediaDNSMessage, true},
		{"*/*", mediaDNSMessage, true},
		{"application/*", mediaDNSMessage, true},
		{"Application/DNS-Message", mediaDNSMessage, true},
		{"text/html, application/dns-message;q=0.1", mediaDNSMessage, true},
		{"text/html", mediaDNSMessage, false},
		{"application/dns-message;q=0", mediaDNSMessage, false},
		{"application/dns-message;q=0, */*", mediaDNSMessage, false},
		{"application/*;q=0, application/dns-message", mediaDNSMessage, true},
		{"*/*;q=0", mediaDNSMessage, false},
		{"application/dns-message;q=bogus", mediaDNSMessage, false},
		{"application/dns-json", mediaDNSJSON, true},
		{"application/json", mediaDNSJSON, false},
		{",,;", mediaDNSMessage, false},
	}
	for _, tt := range tests {
		if got := accepts(tt.header, tt.media); got != tt.want {
			t.Errorf("accepts(%q, %q) = %v, want %v", tt.header, tt.media, got, tt.want)
		}
	}
}
