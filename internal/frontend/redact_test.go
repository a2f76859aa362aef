package frontend

import "testing"

func TestRedactAddrs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"read tcp 127.0.0.1:853->192.0.2.7:40000: read: connection reset by peer", "read tcp <addr>-><addr>: read: connection reset by peer"},
		{"write tcp [::1]:853->[2001:db8::7]:5555: broken pipe", "write tcp <addr>-><addr>: broken pipe"},
		{"http: TLS handshake error from [fe80::1%eth0]:1234: EOF", "http: TLS handshake error from <addr>: EOF"},
		{"dial 10.1.2.3 failed", "dial <addr> failed"},
		{"upstream unreachable after 3 tries", "upstream unreachable after 3 tries"},
	} {
		if got := RedactAddrs(tc.in); got != tc.want {
			t.Errorf("RedactAddrs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
