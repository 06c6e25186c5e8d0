package pcap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/streamhttptest/pcap"
)

// pcapFile writes a classic pcap file in memory, for tests of the reader.
type pcapFile struct {
	buf     bytes.Buffer
	link    uint32
	order   binary.ByteOrder
	snaplen int // 0: no limit
	vlan    bool
}

func newPcap(link uint32, order binary.ByteOrder, nano bool) *pcapFile {
	w := &pcapFile{link: link, order: order}
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	var h [24]byte
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], 262144)
	order.PutUint32(h[20:], link)
	w.buf.Write(h[:])
	return w
}

// record appends one packet record; the snapshot length cuts it.
func (w *pcapFile) record(frame []byte) {
	incl := len(frame)
	if w.snaplen > 0 && incl > w.snaplen {
		incl = w.snaplen
	}
	var h [16]byte
	w.order.PutUint32(h[8:], uint32(incl))
	w.order.PutUint32(h[12:], uint32(len(frame)))
	w.buf.Write(h[:])
	w.buf.Write(frame[:incl])
}

// TCP flags.
const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
)

// tcp appends a TCP segment from one end to the other, framed for the
// file's link type. Checksums are left zero: the reader does not check them.
func (w *pcapFile) tcp(from, to netip.AddrPort, seq uint32, flags byte, payload string) {
	seg := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(seg[0:], from.Port())
	binary.BigEndian.PutUint16(seg[2:], to.Port())
	binary.BigEndian.PutUint32(seg[4:], seq)
	seg[12] = 5 << 4
	seg[13] = flags
	seg = append(seg, payload...)
	w.ip(from.Addr(), to.Addr(), 6, seg)
}

// ip appends an IP packet carrying payload with protocol proto.
func (w *pcapFile) ip(src, dst netip.Addr, proto byte, payload []byte) {
	var p []byte
	if src.Is4() {
		p = make([]byte, 20, 20+len(payload))
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(20+len(payload)))
		p[6] = 0x40 // don't fragment
		p[8] = 64
		p[9] = proto
		s, d := src.As4(), dst.As4()
		copy(p[12:], s[:])
		copy(p[16:], d[:])
	} else {
		// With a hop-by-hop options header, which the reader must skip.
		p = make([]byte, 48, 48+len(payload))
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(8+len(payload)))
		p[6] = 0 // hop-by-hop
		p[7] = 64
		s, d := src.As16(), dst.As16()
		copy(p[8:], s[:])
		copy(p[24:], d[:])
		p[40] = proto
		p[42] = 1 // PadN
		p[43] = 4
	}
	p = append(p, payload...)
	w.frame(src.Is4(), p)
}

func (w *pcapFile) frame(v4 bool, p []byte) {
	etherType := uint16(0x86dd)
	family := uint32(10)
	if v4 {
		etherType, family = 0x0800, 2
	}
	var hdr []byte
	switch w.link {
	case 1: // Ethernet
		hdr = make([]byte, 14)
		binary.BigEndian.PutUint16(hdr[12:], etherType)
		if w.vlan {
			binary.BigEndian.PutUint16(hdr[12:], 0x8100)
			hdr = binary.BigEndian.AppendUint16(hdr, 42)
			hdr = binary.BigEndian.AppendUint16(hdr, etherType)
		}
	case 113: // SLL
		hdr = make([]byte, 16)
		binary.BigEndian.PutUint16(hdr[14:], etherType)
	case 276: // SLL2
		hdr = make([]byte, 20)
		binary.BigEndian.PutUint16(hdr[0:], etherType)
	case 0: // NULL, in the writing host's order
		hdr = make([]byte, 4)
		w.order.PutUint32(hdr, family)
	case 108: // LOOP, in network order
		hdr = binary.BigEndian.AppendUint32(nil, family)
	}
	frame := append(hdr, p...)
	if w.link == 1 && len(frame) < 60 {
		frame = append(frame, make([]byte, 60-len(frame))...) // Ethernet padding
	}
	w.record(frame)
}

var (
	client4 = netip.MustParseAddrPort("127.0.0.1:50000")
	server4 = netip.MustParseAddrPort("127.0.0.1:8080")
	client6 = netip.MustParseAddrPort("[::1]:50001")
	server6 = netip.MustParseAddrPort("[::1]:8080")
)

// conversation writes a whole connection: handshake, the client's request
// in the given pieces, the server's answer, and both FINs.
func conversation(w *pcapFile, c, s netip.AddrPort, cisn, sisn uint32, request []string, response string) {
	w.tcp(c, s, cisn, syn, "")
	w.tcp(s, c, sisn, syn|ack, "")
	seq := cisn + 1
	for _, p := range request {
		w.tcp(c, s, seq, ack|psh, p)
		seq += uint32(len(p))
	}
	w.tcp(s, c, sisn+1, ack|psh, response)
	w.tcp(c, s, seq, fin|ack, "")
	w.tcp(s, c, sisn+1+uint32(len(response)), fin|ack, "")
}

func TestReadStreams(t *testing.T) {
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
	one := func(c, s netip.AddrPort) []pcap.TCPStream {
		return []pcap.TCPStream{{Client: c, Server: s, ClientToServer: []byte(req), ServerToClient: []byte(resp)}}
	}
	le, be := binary.ByteOrder(binary.LittleEndian), binary.ByteOrder(binary.BigEndian)
	tests := []struct {
		name  string
		link  uint32
		order binary.ByteOrder
		nano  bool
		vlan  bool
		port  uint16
		write func(w *pcapFile)
		want  []pcap.TCPStream
	}{
		{name: "ethernet IPv4", link: 1, port: 8080,
			write: func(w *pcapFile) { conversation(w, client4, server4, 1000, 5000, []string{req}, resp) },
			want:  one(client4, server4)},
		{name: "ethernet VLAN big-endian nanoseconds", link: 1, order: be, nano: true, vlan: true, port: 8080,
			write: func(w *pcapFile) { conversation(w, client4, server4, 1000, 5000, []string{req}, resp) },
			want:  one(client4, server4)},
		{name: "SLL2 IPv6 with extension header", link: 276, port: 8080,
			write: func(w *pcapFile) { conversation(w, client6, server6, 7, 9, []string{req[:5], req[5:]}, resp) },
			want:  one(client6, server6)},
		{name: "SLL", link: 113, port: 8080,
			write: func(w *pcapFile) { conversation(w, client4, server4, 1, 2, []string{req}, resp) },
			want:  one(client4, server4)},
		{name: "NULL little-endian IPv6", link: 0, port: 8080,
			write: func(w *pcapFile) { conversation(w, client6, server6, 1, 2, []string{req}, resp) },
			want:  one(client6, server6)},
		{name: "NULL big-endian", link: 0, order: be, port: 8080,
			write: func(w *pcapFile) { conversation(w, client4, server4, 1, 2, []string{req}, resp) },
			want:  one(client4, server4)},
		{name: "LOOP", link: 108, port: 8080,
			write: func(w *pcapFile) { conversation(w, client4, server4, 1, 2, []string{req}, resp) },
			want:  one(client4, server4)},
		{name: "raw IP", link: 101, port: 8080,
			write: func(w *pcapFile) { conversation(w, client6, server6, 1, 2, []string{req}, resp) },
			want:  one(client6, server6)},
		{name: "sequence numbers wrap around", link: 1, port: 8080,
			write: func(w *pcapFile) {
				conversation(w, client4, server4, 0xfffffff0, 0xffffffff, []string{req[:10], req[10:]}, resp)
			},
			want: one(client4, server4)},
		{name: "out of order", link: 1, port: 8080,
			write: func(w *pcapFile) {
				w.tcp(client4, server4, 100, syn, "")
				w.tcp(server4, client4, 200, syn|ack, "")
				w.tcp(client4, server4, 101+20, ack, req[20:])
				w.tcp(client4, server4, 101+10, ack, req[10:20])
				w.tcp(client4, server4, 101, ack, req[:10])
				w.tcp(server4, client4, 201, ack, resp)
			},
			want: one(client4, server4)},
		{name: "duplicates and retransmissions with other boundaries", link: 1, port: 8080,
			write: func(w *pcapFile) {
				w.tcp(client4, server4, 100, syn, "")
				w.tcp(client4, server4, 100, syn, "") // a retransmitted SYN
				w.tcp(server4, client4, 200, syn|ack, "")
				w.tcp(client4, server4, 101, ack, req[:10])
				w.tcp(client4, server4, 101, ack, req[:10])
				w.tcp(client4, server4, 101+5, ack, req[5:20])
				w.tcp(client4, server4, 101+20, ack, req[20:])
				w.tcp(client4, server4, 101+12, ack, req[12:])
				w.tcp(server4, client4, 201, ack, resp)
				w.tcp(server4, client4, 201, ack, resp[:4])
				w.tcp(client4, server4, 101+uint32(len(req))-1, ack, "x") // a keep-alive probe
			},
			want: one(client4, server4)},
		{name: "SYN carries data", link: 1, port: 8080,
			write: func(w *pcapFile) {
				w.tcp(client4, server4, 100, syn, req[:4])
				w.tcp(server4, client4, 200, syn|ack, "")
				w.tcp(client4, server4, 105, ack, req[4:])
				w.tcp(server4, client4, 201, ack, resp)
			},
			want: one(client4, server4)},
		{name: "data after FIN and after RST is ignored", link: 1, port: 8080,
			write: func(w *pcapFile) {
				conversation(w, client4, server4, 1, 2, []string{req}, resp)
				w.tcp(client4, server4, 2+uint32(len(req)), ack, "late")
				w.tcp(server4, client4, 3+uint32(len(resp)), rst, "diagnostic")
				w.tcp(server4, client4, 3+uint32(len(resp)), ack, "after reset")
			},
			want: one(client4, server4)},
		{name: "the data of a RST is not the stream's", link: 1, port: 8080,
			write: func(w *pcapFile) {
				w.tcp(client4, server4, 1, syn, "")
				w.tcp(server4, client4, 2, syn|ack, "")
				w.tcp(client4, server4, 2, ack, req)
				w.tcp(server4, client4, 3, ack, resp)
				w.tcp(server4, client4, 3+uint32(len(resp)), rst|ack, "connection reset: diagnostic text")
			},
			want: one(client4, server4)},
		{name: "capture starts in the middle", link: 1, port: 8080,
			write: func(w *pcapFile) {
				w.tcp(client4, server4, 77, ack, req[:8])
				w.tcp(server4, client4, 99, ack, "ue\r\n\r\n") // the end of an earlier response
				w.tcp(client4, server4, 85, ack, req[8:])
			},
			want: []pcap.TCPStream{{Client: client4, Server: server4, ClientToServer: []byte(req), ServerToClient: []byte("ue\r\n\r\n")}}},
		{name: "port 0: the SYN's receiver is the server", link: 1, port: 0,
			write: func(w *pcapFile) {
				c, s := netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:9000")
				conversation(w, c, s, 1, 2, []string{req}, resp)
			},
			want: one(netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:9000"))},
		{name: "port 0 without handshake: the lower port is the server", link: 1, port: 0,
			write: func(w *pcapFile) {
				w.tcp(server4, client4, 5, ack, resp)
				w.tcp(client4, server4, 9, ack, req)
			},
			want: one(client4, server4)},
		{name: "port 0 with only the SYN-ACK", link: 1, port: 0,
			write: func(w *pcapFile) {
				c, s := netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:9000")
				w.tcp(s, c, 1, syn|ack, "")
				w.tcp(c, s, 7, ack, req)
				w.tcp(s, c, 2, ack, resp)
			},
			want: one(netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:9000"))},
		{name: "several connections, other traffic skipped", link: 1, port: 8080,
			write: func(w *pcapFile) {
				other := netip.MustParseAddrPort("127.0.0.1:9999")
				c2 := netip.MustParseAddrPort("127.0.0.1:50002")
				w.tcp(client4, server4, 1, syn, "")
				w.tcp(c2, server4, 50, syn, "")
				w.tcp(client4, other, 1, syn, "") // another port
				w.ip(client4.Addr(), server4.Addr(), 17, []byte("a UDP datagram"))
				w.record(make([]byte, 42)) // Ethernet frame of another type (zero: not IP)
				w.tcp(server4, client4, 2, syn|ack, "")
				w.tcp(server4, c2, 60, syn|ack, "")
				w.tcp(c2, server4, 51, ack, "second")
				w.tcp(client4, server4, 2, ack, req)
				w.tcp(server4, c2, 61, ack, "2")
				w.tcp(server4, client4, 3, ack, resp)
			},
			want: []pcap.TCPStream{
				{Client: client4, Server: server4, ClientToServer: []byte(req), ServerToClient: []byte(resp)},
				{Client: netip.MustParseAddrPort("127.0.0.1:50002"), Server: server4, ClientToServer: []byte("second"), ServerToClient: []byte("2")},
			}},
		{name: "addresses reused after close", link: 1, port: 8080,
			write: func(w *pcapFile) {
				conversation(w, client4, server4, 1, 2, []string{req}, resp)
				conversation(w, client4, server4, 90000, 7, []string{"again"}, "ok")
			},
			want: []pcap.TCPStream{
				{Client: client4, Server: server4, ClientToServer: []byte(req), ServerToClient: []byte(resp)},
				{Client: client4, Server: server4, ClientToServer: []byte("again"), ServerToClient: []byte("ok")},
			}},
		{name: "connection without data", link: 1, port: 8080,
			write: func(w *pcapFile) { conversation(w, client4, server4, 1, 2, nil, "") },
			want:  []pcap.TCPStream{{Client: client4, Server: server4}}},
		{name: "no packets", link: 1, port: 8080, write: func(*pcapFile) {}, want: []pcap.TCPStream{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order := tt.order
			if order == nil {
				order = le
			}
			w := newPcap(tt.link, order, tt.nano)
			w.vlan = tt.vlan
			tt.write(w)
			got, err := pcap.ReadStreams(&w.buf, tt.port)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }), cmp.Comparer(bytesEqual)); diff != "" {
				t.Errorf("streams (-want +got):\n%s", diff)
			}
		})
	}
}

// bytesEqual compares byte slices with nil and empty equal, as text in diffs.
func bytesEqual(a, b []byte) bool { return bytes.Equal(a, b) }

func TestReadStreamsErrors(t *testing.T) {
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	valid := func() *pcapFile {
		w := newPcap(1, binary.LittleEndian, false)
		conversation(w, client4, server4, 1, 2, []string{req}, "HTTP/1.1 204 No Content\r\n\r\n")
		return w
	}
	tests := []struct {
		name   string
		input  func() []byte
		packet int    // the PcapError's packet; -1: ErrNotPcap
		reason string // a part of the reason
	}{
		{"empty", func() []byte { return nil }, -1, ""},
		{"short header", func() []byte { return []byte{0xd4, 0xc3, 0xb2} }, -1, ""},
		{"pcapng", func() []byte { return append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, make([]byte, 40)...) }, -1, ""},
		{"text", func() []byte { return []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n") }, -1, ""},
		{"version", func() []byte {
			b := valid().buf.Bytes()
			b[4] = 3
			return b
		}, 0, "version 3"},
		{"link type", func() []byte { return newPcap(105, binary.LittleEndian, false).buf.Bytes() }, 0, "link type 105"},
		{"file cut in a record header", func() []byte {
			b := valid().buf.Bytes()
			return append(b, 1, 2, 3)
		}, 7, "ends inside a record header"},
		{"file cut in a packet", func() []byte {
			b := valid().buf.Bytes()
			return b[:len(b)-3]
		}, 6, "ends inside a packet"},
		{"corrupt record length", func() []byte {
			b := valid().buf.Bytes()
			binary.LittleEndian.PutUint32(b[24+8:], 1<<30)
			return b
		}, 1, "corrupt"},
		{"gap", func() []byte {
			w := newPcap(1, binary.LittleEndian, false)
			w.tcp(client4, server4, 1, syn, "")
			w.tcp(client4, server4, 2, ack, req[:5])
			w.tcp(client4, server4, 2+7, ack, req[7:])
			return w.buf.Bytes()
		}, 3, "bytes 5 to 7 of the stream from 127.0.0.1:50000 to 127.0.0.1:8080 are missing"},
		{"missing before FIN", func() []byte {
			w := newPcap(1, binary.LittleEndian, false)
			w.tcp(client4, server4, 1, syn, "")
			w.tcp(client4, server4, 2, ack, req[:5])
			w.tcp(client4, server4, 2+9, fin|ack, "")
			return w.buf.Bytes()
		}, 0, "bytes 5 to 9 of the stream from 127.0.0.1:50000 to 127.0.0.1:8080 (before its FIN) are missing"},
		{"snapshot length", func() []byte {
			w := newPcap(1, binary.LittleEndian, false)
			w.snaplen = 68
			w.tcp(client4, server4, 1, ack, req)
			return w.buf.Bytes()
		}, 1, "snapshot length"},
		{"IPv4 fragment", func() []byte {
			w := newPcap(101, binary.LittleEndian, false)
			p := make([]byte, 40)
			p[0], p[3], p[6], p[9] = 0x45, 40, 0x20, 6 // more fragments
			w.record(p)
			return w.buf.Bytes()
		}, 1, "fragmented IPv4"},
		{"IPv6 fragment", func() []byte {
			w := newPcap(101, binary.LittleEndian, false)
			p := make([]byte, 48)
			p[0], p[5], p[6] = 0x60, 8, 44
			w.record(p)
			return w.buf.Bytes()
		}, 1, "fragmented IPv6"},
		{"TCP header truncated", func() []byte {
			w := newPcap(101, binary.LittleEndian, false)
			p := make([]byte, 30)
			p[0], p[3], p[9] = 0x45, 30, 6
			w.record(p)
			return w.buf.Bytes()
		}, 1, "TCP header truncated"},
		{"TCP data offset", func() []byte {
			w := newPcap(101, binary.LittleEndian, false)
			p := make([]byte, 40)
			p[0], p[3], p[9], p[32] = 0x45, 40, 6, 15<<4
			w.record(p)
			return w.buf.Bytes()
		}, 1, "data offset"},
		{"IPv4 lengths", func() []byte {
			w := newPcap(101, binary.LittleEndian, false)
			p := make([]byte, 40)
			p[0], p[3], p[9] = 0x42, 40, 6
			w.record(p)
			return w.buf.Bytes()
		}, 1, "IPv4 header lengths"},
		{"Ethernet header truncated", func() []byte {
			w := newPcap(1, binary.LittleEndian, false)
			w.record(make([]byte, 10))
			return w.buf.Bytes()
		}, 1, "link-layer header truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pcap.ReadStreams(bytes.NewReader(tt.input()), 8080)
			if tt.packet < 0 {
				if !errors.Is(err, pcap.ErrNotPcap) {
					t.Errorf("error %v, want ErrNotPcap", err)
				}
				return
			}
			var pe *pcap.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *PcapError", err)
			}
			if pe.Packet != tt.packet || !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("error %+v, want packet %d and a reason with %q", pe, tt.packet, tt.reason)
			}
		})
	}
}
