// Package pcap reads classic pcap files (the format tcpdump -w writes) and
// reassembles their TCP connections, for replaying captured HTTP traffic
// through the server layer (streamhttp.Replay, package streamhttptest).
// It is test tooling: nothing in the server depends on it.
//
// It is written here
// rather than taken from gopacket on purpose: gopacket brings a large
// dependency tree (and cgo through libpcap for live capture), while all we
// need is to read one well-documented file format, strip the link, IP and
// TCP headers, and put segments in sequence order. Formats: libpcap's
// LINKTYPE list and pcap file format, RFC 791 (IPv4), RFC 8200 (IPv6),
// RFC 9293 (TCP).
package pcap

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
)

// TCPStream is one TCP connection of a capture: the bytes each side sent,
// in order, with retransmissions and reordering undone.
type TCPStream struct {
	Client, Server netip.AddrPort
	ClientToServer []byte
	ServerToClient []byte
}

// ErrNotPcap is the failure of ReadStreams on input that is not a
// classic pcap file (a pcapng file among others: convert it with
// "editcap -F pcap", or capture with tcpdump -w, which writes pcap).
var ErrNotPcap = errors.New("pcap: not a pcap file (classic libpcap format expected)")

// Error is a capture ReadStreams cannot turn into streams: a
// malformed or truncated packet, an unsupported link type, or bytes of a
// stream missing from the capture. Packet is the packet's number in the
// file, from 1, or 0 when the error is not about one packet.
type Error struct {
	Packet int
	Reason string
}

// Error returns the reason, with the packet number when there is one.
func (e *Error) Error() string {
	if e.Packet == 0 {
		return "pcap: pcap: " + e.Reason
	}
	return fmt.Sprintf("pcap: pcap packet %d: %s", e.Packet, e.Reason)
}

// Link types (LINKTYPE_* of libpcap) that ReadStreams reads.
const (
	pcapLinkNull     = 0   // BSD loopback: 4-byte address family in the capturing host's order
	pcapLinkEthernet = 1   // Ethernet II, with 802.1Q/802.1ad tags
	pcapLinkRaw      = 101 // raw IPv4 or IPv6
	pcapLinkLoop     = 108 // OpenBSD loopback: address family in network order
	pcapLinkSLL      = 113 // Linux cooked capture v1 (tcpdump -i any, older)
	pcapLinkIPv4     = 228
	pcapLinkIPv6     = 229
	pcapLinkSLL2     = 276 // Linux cooked capture v2 (tcpdump -i any)
)

// pcapMaxRecord bounds the size of one packet record, so that a corrupt
// length does not allocate gigabytes. libpcap itself writes at most 256 KiB.
const pcapMaxRecord = 16 << 20

// ReadStreams reads a classic pcap capture (microsecond or nanosecond
// timestamps, either byte order) and returns its TCP connections in the
// order of their first packet. Link types: Ethernet, Linux cooked (SLL and
// SLL2), BSD and OpenBSD loopback, raw IP; IPv4 and IPv6; packets of any
// other protocol are skipped.
//
// serverPort picks the traffic and names the sides: a connection is read
// when one of its ports is serverPort, and that end is the server. With
// serverPort 0 every TCP connection is read, and the server is the end
// that received the SYN, or when the handshake is not in the capture, the
// end with the lower port.
//
// Each direction is reassembled by sequence number from the SYN on (from
// its first segment when the SYN is not captured): duplicates and
// retransmissions, also with other boundaries, are dropped; out-of-order
// segments are put in place; data after a FIN is ignored. Bytes that are
// missing (a segment lost by the capture, one cut short by the snapshot
// length, or ones announced by a FIN but never seen) fail with a
// *Error: a stream with a hole would replay as a different
// conversation. A new SYN on the addresses of a closed connection starts a
// new one.
func ReadStreams(r io.Reader, serverPort uint16) ([]TCPStream, error) {
	br := bufio.NewReader(r)
	var fh [24]byte
	if _, err := io.ReadFull(br, fh[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, ErrNotPcap
		}
		return nil, err
	}
	var order binary.ByteOrder
	switch magic := binary.LittleEndian.Uint32(fh[:]); magic {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return nil, ErrNotPcap
	}
	if major := order.Uint16(fh[4:]); major != 2 {
		return nil, &Error{Reason: fmt.Sprintf("pcap version %d is not supported (2 is)", major)}
	}
	link := order.Uint32(fh[20:]) & 0x0fffffff // the upper bits say whether frames carry an FCS
	switch link {
	case pcapLinkNull, pcapLinkEthernet, pcapLinkRaw, pcapLinkLoop, pcapLinkSLL, pcapLinkIPv4, pcapLinkIPv6, pcapLinkSLL2:
	default:
		return nil, &Error{Reason: fmt.Sprintf("link type %d is not supported (Ethernet, Linux cooked, loopback and raw IP are)", link)}
	}

	a := pcapAssembler{serverPort: serverPort, conns: map[pcapConnKey]*pcapConn{}}
	var rh [16]byte
	var buf []byte
	for n := 1; ; n++ {
		if _, err := io.ReadFull(br, rh[:]); err != nil {
			if err == io.EOF {
				break
			}
			if err == io.ErrUnexpectedEOF {
				return nil, &Error{Packet: n, Reason: "the file ends inside a record header"}
			}
			return nil, err
		}
		incl, orig := order.Uint32(rh[8:]), order.Uint32(rh[12:])
		if incl > pcapMaxRecord {
			return nil, &Error{Packet: n, Reason: fmt.Sprintf("record of %d bytes: the file is corrupt", incl)}
		}
		buf = slices.Grow(buf[:0], int(incl))[:incl]
		if _, err := io.ReadFull(br, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, &Error{Packet: n, Reason: "the file ends inside a packet"}
			}
			return nil, err
		}
		if err := a.packet(n, link, buf, incl < orig); err != nil {
			return nil, err
		}
	}
	return a.streams()
}

// pcapAssembler collects the segments of every connection of a capture.
type pcapAssembler struct {
	serverPort uint16
	conns      map[pcapConnKey]*pcapConn
	order      []*pcapConn // by first packet
}

// pcapConnKey identifies a connection by its two ends, lower end first.
type pcapConnKey struct{ a, b netip.AddrPort }

func pcapKeyOf(x, y netip.AddrPort) pcapConnKey {
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return pcapConnKey{x, y}
}

// pcapConn is one connection being read: half 0 is client to server, half 1
// server to client.
type pcapConn struct {
	client, server netip.AddrPort
	half           [2]pcapHalf
	reset          bool
}

// pcapHalf is one direction of a connection. Sequence numbers are unwrapped
// into 64 bits relative to the first one seen, so streams longer than 4 GiB
// and segments seen out of order both work.
type pcapHalf struct {
	seen   bool
	last   int64 // the highest unwrapped sequence number seen
	syn    bool
	isn    int64
	fin    bool
	finSeq int64
	segs   []pcapSegment
}

type pcapSegment struct {
	seq    int64
	data   []byte
	packet int
}

// unwrap maps a 32-bit sequence number to the 64-bit one nearest to the
// highest seen so far.
func (h *pcapHalf) unwrap(seq uint32) int64 {
	if !h.seen {
		h.seen = true
		h.last = 1<<32 + int64(seq) // room below for segments that precede it
		return h.last
	}
	v := h.last + int64(int32(seq-uint32(h.last)))
	h.last = max(h.last, v)
	return v
}

// TCP flags (RFC 9293 §3.1).
const (
	pcapFIN = 0x01
	pcapSYN = 0x02
	pcapRST = 0x04
	pcapACK = 0x10
)

// packet decodes one captured frame and files its TCP segment.
func (a *pcapAssembler) packet(n int, link uint32, frame []byte, cut bool) error {
	ip, ok, err := pcapLinkPayload(link, frame)
	if err != nil || !ok {
		return pcapPacketError(n, err)
	}
	src, dst, tcp, ok, err := pcapIPPayload(ip)
	if err != nil || !ok {
		if cut && err != nil {
			return &Error{Packet: n, Reason: "packet cut short by the snapshot length: capture with -s 0"}
		}
		return pcapPacketError(n, err)
	}
	if len(tcp) < 20 {
		return &Error{Packet: n, Reason: "TCP header truncated"}
	}
	off := int(tcp[12]>>4) * 4
	if off < 20 || off > len(tcp) {
		return &Error{Packet: n, Reason: "TCP data offset out of range"}
	}
	from := netip.AddrPortFrom(src, binary.BigEndian.Uint16(tcp[0:]))
	to := netip.AddrPortFrom(dst, binary.BigEndian.Uint16(tcp[2:]))
	seq := binary.BigEndian.Uint32(tcp[4:])
	flags := tcp[13]
	payload := tcp[off:]

	if a.serverPort != 0 && from.Port() != a.serverPort && to.Port() != a.serverPort {
		return nil
	}
	key := pcapKeyOf(from, to)
	c := a.conns[key]
	if c != nil && flags&(pcapSYN|pcapACK) == pcapSYN && c.closed() {
		c = nil // the addresses are reused by a new connection
	}
	if c == nil {
		c = a.newConn(from, to, flags)
		a.conns[key] = c
		a.order = append(a.order, c)
	}
	if c.reset {
		return nil
	}
	h := &c.half[1]
	if from == c.client {
		h = &c.half[0]
	}
	s := h.unwrap(seq)
	if flags&pcapSYN != 0 {
		if !h.syn {
			h.syn, h.isn = true, s
		}
		s++ // the SYN takes a sequence number
	}
	if len(payload) > 0 && flags&pcapRST == 0 { // the data of a RST is a diagnostic, not the stream's
		h.segs = append(h.segs, pcapSegment{seq: s, data: slices.Clone(payload), packet: n})
	}
	if flags&pcapFIN != 0 && !h.fin {
		h.fin, h.finSeq = true, s+int64(len(payload))
	}
	if flags&pcapRST != 0 {
		c.reset = true
	}
	return nil
}

// newConn starts a connection with its first packet, deciding which end
// is the server (see ReadStreams).
func (a *pcapAssembler) newConn(from, to netip.AddrPort, flags byte) *pcapConn {
	client, server := from, to
	switch {
	case a.serverPort != 0 && from.Port() != to.Port():
		if from.Port() == a.serverPort {
			client, server = to, from
		}
	case flags&(pcapSYN|pcapACK) == pcapSYN:
		// from sent the SYN: it is the client.
	case flags&(pcapSYN|pcapACK) == pcapSYN|pcapACK:
		client, server = to, from
	case from.Port() < to.Port():
		client, server = to, from
	}
	return &pcapConn{client: client, server: server}
}

// closed reports whether both directions have ended, or the connection
// was reset: a SYN on its addresses then starts a new connection.
func (c *pcapConn) closed() bool {
	return c.reset || (c.half[0].fin && c.half[1].fin)
}

func pcapPacketError(n int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Packet: n, Reason: err.Error()}
}

var errPcapLinkTruncated = errors.New("link-layer header truncated")

// pcapLinkPayload strips the link-layer header and returns the IP packet;
// ok is false for a frame that carries something else than IPv4 or IPv6.
func pcapLinkPayload(link uint32, f []byte) (ip []byte, ok bool, err error) {
	const (
		etherIPv4 = 0x0800
		etherIPv6 = 0x86dd
	)
	short := errPcapLinkTruncated
	var etherType uint16
	switch link {
	case pcapLinkEthernet:
		if len(f) < 14 {
			return nil, false, short
		}
		etherType, f = binary.BigEndian.Uint16(f[12:]), f[14:]
		for etherType == 0x8100 || etherType == 0x88a8 || etherType == 0x9100 { // VLAN tags
			if len(f) < 4 {
				return nil, false, short
			}
			etherType, f = binary.BigEndian.Uint16(f[2:]), f[4:]
		}
	case pcapLinkSLL:
		if len(f) < 16 {
			return nil, false, short
		}
		etherType, f = binary.BigEndian.Uint16(f[14:]), f[16:]
	case pcapLinkSLL2:
		if len(f) < 20 {
			return nil, false, short
		}
		etherType, f = binary.BigEndian.Uint16(f[0:]), f[20:]
	case pcapLinkNull, pcapLinkLoop:
		if len(f) < 4 {
			return nil, false, short
		}
		family := binary.BigEndian.Uint32(f)
		if link == pcapLinkNull && family > 0xffff {
			family = binary.LittleEndian.Uint32(f) // written in the capturing host's order
		}
		f = f[4:]
		switch family {
		case 2: // AF_INET everywhere
			etherType = etherIPv4
		case 10, 24, 28, 30: // AF_INET6 of Linux, the BSDs, FreeBSD, Darwin
			etherType = etherIPv6
		}
	case pcapLinkRaw, pcapLinkIPv4, pcapLinkIPv6:
		if len(f) == 0 {
			return nil, false, nil
		}
		switch f[0] >> 4 {
		case 4:
			etherType = etherIPv4
		case 6:
			etherType = etherIPv6
		}
	}
	if etherType != etherIPv4 && etherType != etherIPv6 {
		return nil, false, nil
	}
	return f, true, nil
}

// pcapIPPayload strips the IPv4 or IPv6 header and returns the TCP segment;
// ok is false for a packet of another protocol.
func pcapIPPayload(p []byte) (src, dst netip.Addr, tcp []byte, ok bool, err error) {
	const protoTCP = 6
	if len(p) == 0 {
		return src, dst, nil, false, errors.New("empty IP packet")
	}
	switch p[0] >> 4 {
	case 4:
		if len(p) < 20 {
			return src, dst, nil, false, errors.New("IPv4 header truncated")
		}
		ihl := int(p[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(p[2:]))
		if total == 0 {
			total = len(p) // segmentation offload: the length is filled in later
		}
		if ihl < 20 || total < ihl {
			return src, dst, nil, false, errors.New("IPv4 header lengths out of range")
		}
		if total > len(p) {
			return src, dst, nil, false, errors.New("IPv4 packet truncated")
		}
		if p[9] != protoTCP {
			return src, dst, nil, false, nil
		}
		if frag := binary.BigEndian.Uint16(p[6:]); frag&0x3fff != 0 {
			return src, dst, nil, false, errors.New("fragmented IPv4 packet (fragments are not reassembled)")
		}
		src = netip.AddrFrom4([4]byte(p[12:16]))
		dst = netip.AddrFrom4([4]byte(p[16:20]))
		return src, dst, p[ihl:total], true, nil
	case 6:
		if len(p) < 40 {
			return src, dst, nil, false, errors.New("IPv6 header truncated")
		}
		plen := int(binary.BigEndian.Uint16(p[4:]))
		if plen == 0 {
			plen = len(p) - 40 // a jumbogram or segmentation offload
		}
		if 40+plen > len(p) {
			return src, dst, nil, false, errors.New("IPv6 packet truncated")
		}
		src = netip.AddrFrom16([16]byte(p[8:24]))
		dst = netip.AddrFrom16([16]byte(p[24:40]))
		next, rest := p[6], p[40:40+plen]
		for {
			switch next {
			case protoTCP:
				return src, dst, rest, true, nil
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 8 || len(rest) < (int(rest[1])+1)*8 {
					return src, dst, nil, false, errors.New("IPv6 extension header truncated")
				}
				next, rest = rest[0], rest[(int(rest[1])+1)*8:]
			case 44:
				return src, dst, nil, false, errors.New("fragmented IPv6 packet (fragments are not reassembled)")
			default:
				return src, dst, nil, false, nil
			}
		}
	}
	return src, dst, nil, false, errors.New("not an IPv4 or IPv6 packet")
}

// streams reassembles every connection.
func (a *pcapAssembler) streams() ([]TCPStream, error) {
	out := make([]TCPStream, 0, len(a.order))
	for _, c := range a.order {
		up, err := c.half[0].assemble(c.client, c.server)
		if err != nil {
			return nil, err
		}
		down, err := c.half[1].assemble(c.server, c.client)
		if err != nil {
			return nil, err
		}
		out = append(out, TCPStream{Client: c.client, Server: c.server, ClientToServer: up, ServerToClient: down})
	}
	return out, nil
}

// assemble puts the segments of one direction in order.
func (h *pcapHalf) assemble(from, to netip.AddrPort) ([]byte, error) {
	if len(h.segs) == 0 {
		return nil, nil
	}
	next := h.isn + 1
	if !h.syn {
		next = slices.MinFunc(h.segs, func(x, y pcapSegment) int { return cmp.Compare(x.seq, y.seq) }).seq
	}
	base := next
	end := int64(-1) // no FIN: everything captured
	if h.fin {
		end = h.finSeq
	}
	slices.SortStableFunc(h.segs, func(x, y pcapSegment) int { return cmp.Compare(x.seq, y.seq) })
	var out []byte
	for _, s := range h.segs {
		lo, hi := s.seq, s.seq+int64(len(s.data))
		if end >= 0 {
			hi = min(hi, end)
		}
		if hi <= next {
			continue // a duplicate, a retransmission, or data after the FIN
		}
		if lo > next {
			return nil, &Error{Packet: s.packet, Reason: fmt.Sprintf(
				"bytes %d to %d of the stream from %v to %v are missing from the capture", next-base, lo-base, from, to)}
		}
		out = append(out, s.data[next-lo:hi-lo]...)
		next = hi
	}
	if end >= 0 && next < end {
		return nil, &Error{Reason: fmt.Sprintf(
			"bytes %d to %d of the stream from %v to %v (before its FIN) are missing from the capture", next-base, end-base, from, to)}
	}
	return out, nil
}
