package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// MaxV1Length is the longest a version 1 header may be, CRLF included.
const MaxV1Length = 107

// V2FixedLength is the length of a version 2 header's fixed part: the
// signature, the version and command, the family and protocol, and the
// length of the rest.
const V2FixedLength = 16

var (
	v1Signature = []byte("PROXY ")
	v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// ErrNeedMore says that the bytes are a strict prefix of a header.
var ErrNeedMore = errors.New("proxyproto: need more bytes")

// ErrNotProxy says that the bytes start with neither signature.
var ErrNotProxy = errors.New("proxyproto: no PROXY protocol signature")

// HeaderError is a header that starts with a signature but is not valid.
type HeaderError struct {
	Version int    // 1 or 2
	Reason  string // what is wrong
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("proxyproto: malformed v%d header: %s", e.Version, e.Reason)
}

func v1Error(reason string) error { return &HeaderError{Version: 1, Reason: reason} }
func v2Error(reason string) error { return &HeaderError{Version: 2, Reason: reason} }

// Command is what a version 2 header asks of the receiver.
type Command uint8

const (
	// Local is a connection the balancer made on its own behalf (a health
	// check): the receiver uses the connection's own addresses.
	Local Command = 0
	// Proxy is a connection relayed for a client: the header carries the
	// client connection's addresses. Every version 1 header is Proxy.
	Proxy Command = 1
)

// TLV is a type-length-value record of a version 2 header.
type TLV struct {
	Type  uint8
	Value []byte // aliases the bytes given to Parse
}

// Header is a parsed PROXY protocol header.
type Header struct {
	Version int // 1 or 2
	Command Command
	// Network is "tcp4", "tcp6", "udp4", "udp6", "unix" or "unixgram"; ""
	// when the header carries no addresses (v1 UNKNOWN, v2 LOCAL or the
	// UNSPEC family).
	Network string
	// Source is the client's address, Destination the address it
	// connected to (on the balancer): *net.TCPAddr, *net.UDPAddr or
	// *net.UnixAddr; nil when Network is "".
	Source, Destination net.Addr
	// TLVs are the version 2 records that follow the addresses.
	TLVs []TLV
}

// Parse parses the header at the start of b and returns it with its length
// in bytes; see the package documentation for its errors. With ErrNeedMore,
// n is the header's full length when that is known already, else 0.
func Parse(b []byte) (h *Header, n int, err error) {
	switch {
	case len(b) == 0:
		return nil, 0, ErrNeedMore
	case b[0] == v1Signature[0]:
		if !hasPrefix(b, v1Signature) {
			return nil, 0, ErrNotProxy
		}
		if len(b) < len(v1Signature) {
			return nil, 0, ErrNeedMore
		}
		return parseV1(b)
	case b[0] == v2Signature[0]:
		if !hasPrefix(b, v2Signature) {
			return nil, 0, ErrNotProxy
		}
		return parseV2(b)
	}
	return nil, 0, ErrNotProxy
}

// hasPrefix reports whether b and sig agree over the shorter of the two.
func hasPrefix(b, sig []byte) bool {
	m := min(len(b), len(sig))
	return bytes.Equal(b[:m], sig[:m])
}

func parseV1(b []byte) (*Header, int, error) {
	line := b[:min(len(b), MaxV1Length)]
	end := bytes.IndexByte(line, '\n')
	if end < 0 {
		if len(b) >= MaxV1Length {
			return nil, 0, v1Error("no CRLF within 107 bytes")
		}
		if i := bytes.IndexByte(line[:len(line)-1], '\r'); i >= 0 {
			return nil, 0, v1Error("CR not followed by LF")
		}
		return nil, 0, ErrNeedMore
	}
	if end == 0 || line[end-1] != '\r' {
		return nil, 0, v1Error("LF without CR")
	}
	n := end + 1
	fields := line[len(v1Signature) : end-1]
	if bytes.IndexByte(fields, '\r') >= 0 {
		return nil, 0, v1Error("CR inside the line")
	}
	h := &Header{Version: 1, Command: Proxy}
	proto, rest, _ := bytes.Cut(fields, []byte{' '})
	switch string(proto) {
	case "UNKNOWN":
		return h, n, nil // anything may follow; no addresses
	case "TCP4", "TCP6":
	default:
		return nil, 0, v1Error(fmt.Sprintf("unknown protocol %q", proto))
	}
	parts := bytes.Split(rest, []byte{' '})
	if len(parts) != 4 {
		return nil, 0, v1Error("want 4 fields after the protocol, single-spaced")
	}
	src, err1 := v1Addr(parts[0], proto[3] == '4')
	dst, err2 := v1Addr(parts[1], proto[3] == '4')
	sport, err3 := v1Port(parts[2])
	dport, err4 := v1Port(parts[3])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, 0, err
	}
	h.Network = "tcp" + string(proto[3])
	h.Source = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, sport))
	h.Destination = net.TCPAddrFromAddrPort(netip.AddrPortFrom(dst, dport))
	return h, n, nil
}

func v1Addr(s []byte, v4 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(s))
	switch {
	case err != nil:
		return a, v1Error(fmt.Sprintf("bad address %q", s))
	case v4 && !a.Is4(), !v4 && !a.Is6(), a.Zone() != "":
		return a, v1Error(fmt.Sprintf("address %q does not fit the protocol", s))
	}
	return a, nil
}

func v1Port(s []byte) (uint16, error) {
	if len(s) == 0 || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, v1Error(fmt.Sprintf("bad port %q", s))
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, v1Error(fmt.Sprintf("bad port %q", s))
		}
	}
	p, err := strconv.ParseUint(string(s), 10, 16)
	if err != nil {
		return 0, v1Error(fmt.Sprintf("port %q out of range", s))
	}
	return uint16(p), nil
}

// Version 2 address families and transport protocols (the high and low
// nibbles of the 14th byte).
const (
	famUnspec, famInet, famInet6, famUnix = 0, 1, 2, 3
	protoUnspec, protoStream, protoDgram  = 0, 1, 2
)

// addrLen is the length of the address block of each family.
var addrLen = [4]int{famUnspec: 0, famInet: 12, famInet6: 36, famUnix: 216}

func parseV2(b []byte) (*Header, int, error) {
	if len(b) > 12 {
		if v := b[12] >> 4; v != 2 {
			return nil, 0, v2Error(fmt.Sprintf("version %d", v))
		}
		if c := b[12] & 0xf; c > 1 {
			return nil, 0, v2Error(fmt.Sprintf("command %d", c))
		}
	}
	if len(b) > 13 {
		fam, proto := b[13]>>4, b[13]&0xf
		if fam > famUnix || proto > protoDgram || (fam == famUnspec) != (proto == protoUnspec) {
			return nil, 0, v2Error(fmt.Sprintf("family and protocol 0x%02x", b[13]))
		}
	}
	if len(b) < V2FixedLength {
		return nil, 0, ErrNeedMore
	}
	n := V2FixedLength + int(binary.BigEndian.Uint16(b[14:16]))
	if len(b) < n {
		return nil, n, ErrNeedMore
	}
	h := &Header{Version: 2, Command: Command(b[12] & 0xf)}
	if h.Command == Local {
		return h, n, nil // the balancer's own connection: no addresses
	}
	block := b[V2FixedLength:n]
	fam, proto := b[13]>>4, b[13]&0xf
	al := addrLen[fam]
	if len(block) < al {
		return nil, 0, v2Error(fmt.Sprintf("address block of %d bytes, the family needs %d", len(block), al))
	}
	switch fam {
	case famInet, famInet6:
		w := 4
		if fam == famInet6 {
			w = 16
		}
		src, _ := netip.AddrFromSlice(block[:w])
		dst, _ := netip.AddrFromSlice(block[w : 2*w])
		sp := netip.AddrPortFrom(src, binary.BigEndian.Uint16(block[2*w:]))
		dp := netip.AddrPortFrom(dst, binary.BigEndian.Uint16(block[2*w+2:]))
		suffix := "4"
		if fam == famInet6 {
			suffix = "6"
		}
		if proto == protoStream {
			h.Network = "tcp" + suffix
			h.Source, h.Destination = net.TCPAddrFromAddrPort(sp), net.TCPAddrFromAddrPort(dp)
		} else {
			h.Network = "udp" + suffix
			h.Source, h.Destination = net.UDPAddrFromAddrPort(sp), net.UDPAddrFromAddrPort(dp)
		}
	case famUnix:
		h.Network = "unix"
		if proto == protoDgram {
			h.Network = "unixgram"
		}
		h.Source = &net.UnixAddr{Net: h.Network, Name: unixPath(block[:108])}
		h.Destination = &net.UnixAddr{Net: h.Network, Name: unixPath(block[108:216])}
	}
	tlvs, err := parseTLVs(block[al:])
	if err != nil {
		return nil, 0, err
	}
	h.TLVs = tlvs
	return h, n, nil
}

// unixPath is a socket path padded with NUL bytes.
func unixPath(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func parseTLVs(b []byte) ([]TLV, error) {
	var tlvs []TLV
	for len(b) > 0 {
		if len(b) < 3 {
			return nil, v2Error(fmt.Sprintf("%d stray bytes after the TLVs", len(b)))
		}
		l := 3 + int(binary.BigEndian.Uint16(b[1:3]))
		if l > len(b) {
			return nil, v2Error(fmt.Sprintf("TLV 0x%02x of %d bytes overruns the header", b[0], l-3))
		}
		tlvs = append(tlvs, TLV{Type: b[0], Value: b[3:l:l]})
		b = b[l:]
	}
	return tlvs, nil
}
