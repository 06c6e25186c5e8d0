package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// v2 builds a version 2 header: the signature, verCmd, famProto, the
// length of body, and body.
func v2(verCmd, famProto byte, body ...[]byte) []byte {
	rest := bytes.Join(body, nil)
	b := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), verCmd, famProto, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(rest)))
	return append(b, rest...)
}

func ip(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

func port(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }

func tcp(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

func udp(s string) net.Addr { return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

func unixPad(s string) []byte { return append([]byte(s), make([]byte, 108-len(s))...) }

// valid holds wire headers and what Parse makes of them.
var valid = []struct {
	name string
	wire []byte
	want *Header
}{
	{"v1 tcp4", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"),
		&Header{Version: 1, Command: Proxy, Network: "tcp4", Source: tcp("192.0.2.1:56324"), Destination: tcp("198.51.100.7:443")}},
	{"v1 tcp6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n"),
		&Header{Version: 1, Command: Proxy, Network: "tcp6", Source: tcp("[2001:db8::1]:0"), Destination: tcp("[2001:db8::2]:65535")}},
	{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), &Header{Version: 1, Command: Proxy}},
	{"v1 unknown with addresses", []byte("PROXY UNKNOWN ffff:f...f:ffff 1 2\r\n"), &Header{Version: 1, Command: Proxy}},
	{"v1 longest", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
		&Header{Version: 1, Command: Proxy, Network: "tcp6", Source: tcp("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), Destination: tcp("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}},
	{"v2 tcp4", v2(0x21, 0x11, ip("192.0.2.1"), ip("198.51.100.7"), port(56324), port(443)),
		&Header{Version: 2, Command: Proxy, Network: "tcp4", Source: tcp("192.0.2.1:56324"), Destination: tcp("198.51.100.7:443")}},
	{"v2 tcp6 with TLVs", v2(0x21, 0x21, ip("2001:db8::1"), ip("2001:db8::2"), port(1), port(2), []byte{0x04, 0, 2, 0, 0}, []byte{0x01, 0, 2, 'h', '2'}),
		&Header{Version: 2, Command: Proxy, Network: "tcp6", Source: tcp("[2001:db8::1]:1"), Destination: tcp("[2001:db8::2]:2"),
			TLVs: []TLV{{Type: 0x04, Value: []byte{0, 0}}, {Type: 0x01, Value: []byte("h2")}}}},
	{"v2 udp4", v2(0x21, 0x12, ip("192.0.2.1"), ip("192.0.2.2"), port(53), port(5353)),
		&Header{Version: 2, Command: Proxy, Network: "udp4", Source: udp("192.0.2.1:53"), Destination: udp("192.0.2.2:5353")}},
	{"v2 udp6", v2(0x21, 0x22, ip("::1"), ip("::2"), port(53), port(5353)),
		&Header{Version: 2, Command: Proxy, Network: "udp6", Source: udp("[::1]:53"), Destination: udp("[::2]:5353")}},
	{"v2 unix stream", v2(0x21, 0x31, unixPad("/run/a.sock"), unixPad("/run/b.sock")),
		&Header{Version: 2, Command: Proxy, Network: "unix", Source: &net.UnixAddr{Net: "unix", Name: "/run/a.sock"}, Destination: &net.UnixAddr{Net: "unix", Name: "/run/b.sock"}}},
	{"v2 unix dgram", v2(0x21, 0x32, unixPad("a"), unixPad("")),
		&Header{Version: 2, Command: Proxy, Network: "unixgram", Source: &net.UnixAddr{Net: "unixgram", Name: "a"}, Destination: &net.UnixAddr{Net: "unixgram", Name: ""}}},
	{"v2 local, empty", v2(0x20, 0x00), &Header{Version: 2, Command: Local}},
	{"v2 local ignores its block", v2(0x20, 0x11, []byte{1, 2, 3}), &Header{Version: 2, Command: Local}},
	{"v2 proxy unspec", v2(0x21, 0x00, []byte{0x04, 0, 0}), &Header{Version: 2, Command: Proxy, TLVs: []TLV{{Type: 0x04, Value: []byte{}}}}},
}

func TestParseValid(t *testing.T) {
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			// Bytes after the header are not the header's.
			in := append(append([]byte(nil), tc.wire...), "GET / HTTP/1.1\r\n"...)
			h, n, err := Parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(tc.wire) {
				t.Errorf("n = %d, want %d", n, len(tc.wire))
			}
			if d := cmp.Diff(tc.want, h); d != "" {
				t.Errorf("header (-want +got):\n%s", d)
			}
		})
	}
}

// TestParseV2UnspecTrailing: an UNSPEC family's block is all TLVs, and a
// block that is not whole TLVs is an error; two bytes are not one.
func TestParseV2UnspecTrailing(t *testing.T) {
	if _, _, err := Parse(v2(0x21, 0x00, []byte{9, 9})); err == nil {
		t.Fatal("2 stray bytes accepted")
	}
}

// TestParseStrictPrefixes: every strict prefix of a valid header says
// ErrNeedMore, with the full length once a v2 header's fixed part is in.
func TestParseStrictPrefixes(t *testing.T) {
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			for i := range len(tc.wire) {
				h, n, err := Parse(tc.wire[:i])
				if !errors.Is(err, ErrNeedMore) || h != nil {
					t.Fatalf("Parse(%q) = %v, %d, %v; want ErrNeedMore", tc.wire[:i], h, n, err)
				}
				wantN := 0
				if tc.wire[0] == '\r' && i >= V2FixedLength {
					wantN = len(tc.wire)
				}
				if n != wantN {
					t.Fatalf("Parse(%q): n = %d, want %d", tc.wire[:i], n, wantN)
				}
			}
		})
	}
}

func TestParseNotProxy(t *testing.T) {
	for _, in := range []string{
		"GET / HTTP/1.1\r\n",
		"POST / HTTP/1.1\r\n",
		"PROXx",
		"proxy TCP4",
		"\r\n\r\n\x00\r\nQUIX\n",
		"\r\nGET / HTTP/1.1\r\n",
		"\x16\x03\x01", // a TLS ClientHello
	} {
		if h, n, err := Parse([]byte(in)); !errors.Is(err, ErrNotProxy) || h != nil || n != 0 {
			t.Errorf("Parse(%q) = %v, %d, %v; want ErrNotProxy", in, h, n, err)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	long := append([]byte("PROXY UNKNOWN "), bytes.Repeat([]byte{'x'}, 100)...)
	for _, tc := range []struct {
		name    string
		in      []byte
		version int
	}{
		{"v1 no CRLF within 107 bytes", long, 1},
		{"v1 header of 108 bytes", append(long[:MaxV1Length-1], '\r', '\n'), 1},
		{"v1 bare LF", []byte("PROXY UNKNOWN\n"), 1},
		{"v1 CR then x", []byte("PROXY UNKNOWN\rx"), 1},
		{"v1 CR inside", []byte("PROXY TCP4 1.2.3.4\r 1.2.3.4 1 2\r\n"), 1},
		{"v1 unknown protocol", []byte("PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n"), 1},
		{"v1 double space", []byte("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n"), 1},
		{"v1 trailing space", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n"), 1},
		{"v1 three fields", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n"), 1},
		{"v1 v6 address in TCP4", []byte("PROXY TCP4 ::1 1.2.3.4 1 2\r\n"), 1},
		{"v1 v4 address in TCP6", []byte("PROXY TCP6 ::1 1.2.3.4 1 2\r\n"), 1},
		{"v1 mapped v4 in TCP4", []byte("PROXY TCP4 ::ffff:1.2.3.4 1.2.3.4 1 2\r\n"), 1},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), 1},
		{"v1 leading zero in address", []byte("PROXY TCP4 1.2.3.04 1.2.3.4 1 2\r\n"), 1},
		{"v1 leading zero in port", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n"), 1},
		{"v1 port too big", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n"), 1},
		{"v1 signed port", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 +1 2\r\n"), 1},
		{"v1 empty port", []byte("PROXY TCP4 1.2.3.4 1.2.3.4  2\r\n"), 1},
		{"v1 hostname", []byte("PROXY TCP4 localhost 1.2.3.4 1 2\r\n"), 1},
		{"v2 version 1", v2(0x11, 0x11), 2},
		{"v2 version 3", v2(0x31, 0x11), 2},
		{"v2 command 2", v2(0x22, 0x11), 2},
		{"v2 family 4", v2(0x21, 0x41), 2},
		{"v2 protocol 3", v2(0x21, 0x13), 2},
		{"v2 inet without protocol", v2(0x21, 0x10), 2},
		{"v2 protocol without family", v2(0x21, 0x01), 2},
		{"v2 short inet block", v2(0x21, 0x11, make([]byte, 11)), 2},
		{"v2 short inet6 block", v2(0x21, 0x21, make([]byte, 35)), 2},
		{"v2 short unix block", v2(0x21, 0x31, make([]byte, 215)), 2},
		{"v2 stray TLV byte", v2(0x21, 0x11, make([]byte, 12), []byte{1}), 2},
		{"v2 TLV overrun", v2(0x21, 0x11, make([]byte, 12), []byte{1, 0, 3, 'a', 'b'}), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := Parse(tc.in)
			var he *HeaderError
			if !errors.As(err, &he) || h != nil || n != 0 {
				t.Fatalf("Parse(%q) = %v, %d, %v; want a *HeaderError", tc.in, h, n, err)
			}
			if he.Version != tc.version {
				t.Errorf("version %d, want %d (%v)", he.Version, tc.version, err)
			}
		})
	}
}

// TestParseEarlyReject: a v2 header with a bad version or family is
// refused as soon as that byte is in, without waiting for the rest.
func TestParseEarlyReject(t *testing.T) {
	bad := v2(0x21, 0x41)[:14]
	if _, _, err := Parse(bad); err == nil || errors.Is(err, ErrNeedMore) {
		t.Fatalf("Parse(%q) = %v; want a *HeaderError", bad, err)
	}
}

func TestHeaderErrorText(t *testing.T) {
	_, _, err := Parse([]byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 99999\r\n"))
	if got, want := err.Error(), `proxyproto: malformed v1 header: port "99999" out of range`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzParse: Parse never panics, answers exactly one way, never claims
// bytes it was not given, and gives the same answer for the header alone
// and for every strict prefix (ErrNeedMore).
func FuzzParse(f *testing.F) {
	for _, tc := range valid {
		f.Add(tc.wire)
	}
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		switch {
		case err == nil:
			if h == nil || n <= 0 || n > len(b) {
				t.Fatalf("Parse(%q) = %v, %d, nil", b, h, n)
			}
			h2, n2, err2 := Parse(b[:n])
			if err2 != nil || n2 != n || !cmp.Equal(h, h2) {
				t.Fatalf("Parse of the header alone differs: %v, %d, %v", h2, n2, err2)
			}
			for i := range n {
				if _, _, err := Parse(b[:i]); !errors.Is(err, ErrNeedMore) {
					t.Fatalf("strict prefix %q: %v, want ErrNeedMore", b[:i], err)
				}
			}
			if h.Version == 1 && n > MaxV1Length {
				t.Fatalf("v1 header of %d bytes", n)
			}
		case errors.Is(err, ErrNeedMore):
			if h != nil || (n != 0 && n <= len(b)) {
				t.Fatalf("Parse(%q) = %v, %d, ErrNeedMore", b, h, n)
			}
		default:
			if h != nil || n != 0 {
				t.Fatalf("Parse(%q) = %v, %d, %v", b, h, n, err)
			}
		}
	})
}
