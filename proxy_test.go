package streamhttp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

func remoteHandler(r *Request) *Response {
	return httpcore.Text(httpcore.StatusOK, r.RemoteAddr.String())
}

const (
	proxyV1 = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"
	getX    = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
)

// proxyV2 is a v2 PROXY header from [2001:db8::1]:1 to [2001:db8::2]:2
// with one TLV; local makes it a LOCAL one.
func proxyV2(local bool) string {
	cmd := byte(0x21)
	if local {
		cmd = 0x20
	}
	b := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), cmd, 0x21, 0, 0)
	b = append(b, netip.MustParseAddr("2001:db8::1").AsSlice()...)
	b = append(b, netip.MustParseAddr("2001:db8::2").AsSlice()...)
	b = append(b, 0, 1, 0, 2, 0x01, 0, 2, 'h', '2')
	binary.BigEndian.PutUint16(b[14:], uint16(len(b)-16))
	return string(b)
}

// sendPieces writes the pieces one by one, each in its own segment.
func sendPieces(t *testing.T, c net.Conn, pieces []string) {
	t.Helper()
	for _, p := range pieces {
		if _, err := io.WriteString(c, p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // a segment each, as a slow client sends them
	}
}

func bytewise(s string) []string { return strings.Split(s, "") }

// TestProxyProtocolRemoteAddr: the header's source is Request.RemoteAddr,
// in one piece with the request, byte by byte, and LOCAL or absent (when
// optional) leaves the connection's own address.
func TestProxyProtocolRemoteAddr(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   ProxyProtocolMode
		pieces []string
		want   string // "": the connection's own address
	}{
		{"v1 with the request", ProxyProtocolRequired, []string{proxyV1 + getX}, "192.0.2.1:56324"},
		{"v2 with the request", ProxyProtocolRequired, []string{proxyV2(false) + getX}, "[2001:db8::1]:1"},
		{"v2 then the request", ProxyProtocolRequired, []string{proxyV2(false), getX}, "[2001:db8::1]:1"},
		{"v1 byte by byte", ProxyProtocolRequired, append(bytewise(proxyV1), getX), "192.0.2.1:56324"},
		{"v2 byte by byte", ProxyProtocolRequired, append(bytewise(proxyV2(false)), getX), "[2001:db8::1]:1"},
		{"v1 byte by byte, optional", ProxyProtocolOptional, append(bytewise(proxyV1), getX), "192.0.2.1:56324"},
		{"v2 byte by byte, optional", ProxyProtocolOptional, append(bytewise(proxyV2(false)), getX), "[2001:db8::1]:1"},
		{"v2 local", ProxyProtocolRequired, []string{proxyV2(true) + getX}, ""},
		{"v1 unknown", ProxyProtocolRequired, []string{"PROXY UNKNOWN\r\n" + getX}, ""},
		{"optional, none", ProxyProtocolOptional, []string{getX}, ""},
		{"optional, none, byte by byte", ProxyProtocolOptional, bytewise(getX), ""},
		{"optional, leading CRLF", ProxyProtocolOptional, []string{"\r\n" + getX}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := serveSync(t, remoteHandler, ServerSettings{ProxyProtocol: ProxyProtocolSettings{Mode: tc.mode}})
			c, r := dialSend(t, b.LocalAddr(), "")
			defer c.Close()
			sendPieces(t, c, tc.pieces)
			want := tc.want
			if want == "" {
				want = c.LocalAddr().String()
			}
			if got := readBody(t, r); got != want {
				t.Errorf("RemoteAddr %q, want %q", got, want)
			}
			// The connection goes on: nothing was read past the header.
			io.WriteString(c, getX)
			if got := readBody(t, r); got != want {
				t.Errorf("second request: RemoteAddr %q, want %q", got, want)
			}
		})
	}
}

// TestProxyProtocolRefused: a malformed, missing or untrusted header
// closes the connection without an answer, with a line in the log; an
// optional header from an untrusted source is not read, so the request
// that follows it is a bad one.
func TestProxyProtocolRefused(t *testing.T) {
	others := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name    string
		pp      ProxyProtocolSettings
		send    string
		wantLog string // "": the connection is answered 400
	}{
		{"malformed v1", ProxyProtocolSettings{Mode: ProxyProtocolRequired}, "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n" + getX, "malformed PROXY protocol header"},
		{"malformed v2", ProxyProtocolSettings{Mode: ProxyProtocolOptional}, "\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x00", "malformed PROXY protocol header"},
		{"missing", ProxyProtocolSettings{Mode: ProxyProtocolRequired}, getX, "no PROXY protocol header"},
		{"too long", ProxyProtocolSettings{Mode: ProxyProtocolRequired, MaxHeaderBytes: 40}, proxyV2(false) + getX, "longer than ProxyProtocol.MaxHeaderBytes"},
		{"untrusted", ProxyProtocolSettings{Mode: ProxyProtocolRequired, TrustedNetworks: others}, proxyV1 + getX, "outside ProxyProtocol.TrustedNetworks"},
		{"untrusted, optional", ProxyProtocolSettings{Mode: ProxyProtocolOptional, TrustedNetworks: others}, proxyV1 + getX, ""},
		{"trusted", ProxyProtocolSettings{Mode: ProxyProtocolRequired, TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, proxyV1 + getX, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs, logger := newLog()
			b := serveSync(t, remoteHandler, ServerSettings{ProxyProtocol: tc.pp, Logger: logger})
			c, r := dialSend(t, b.LocalAddr(), tc.send)
			defer c.Close()
			switch tc.wantLog {
			case "-":
				if got := readBody(t, r); got != "192.0.2.1:56324" {
					t.Errorf("RemoteAddr %q", got)
				}
				return
			case "":
				if got := readRaw(t, r); got.Status != 400 {
					t.Errorf("got %+v, want 400", got)
				}
				return
			}
			if line, err := r.ReadString('\n'); err == nil {
				t.Fatalf("got %q, want the connection closed", line)
			}
			waitStats(t, b, "the connection to end", func(s Stats) bool { return s.OpenConnections == 0 })
			if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, tc.wantLog) ||
				!strings.Contains(l, "remote="+c.LocalAddr().String()) {
				t.Errorf("log %q, want a warning with %q and the remote address", l, tc.wantLog)
			}
		})
	}
}

// TestProxyProtocolHeadTimeout: a header that does not complete within
// HeadTimeout closes the connection, and so does a client that says
// nothing.
func TestProxyProtocolHeadTimeout(t *testing.T) {
	for _, send := range []string{"PROXY TCP4 1.2.3.4", "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x01", "", "\r\n"} {
		for _, mode := range []ProxyProtocolMode{ProxyProtocolOptional, ProxyProtocolRequired} {
			b := serveSync(t, remoteHandler, ServerSettings{ProxyProtocol: ProxyProtocolSettings{Mode: mode}, HeadTimeout: 200 * time.Millisecond})
			c, r := dialSend(t, b.LocalAddr(), send)
			start := time.Now()
			if _, err := r.ReadByte(); err == nil {
				t.Fatalf("%q: bytes, want the connection closed", send)
			}
			if waited := time.Since(start); waited > 3*time.Second {
				t.Errorf("%q, mode %d: closed after %v, want about 200ms", send, mode, waited)
			}
			c.Close()
		}
	}
}

// TestProxyProtocolParked: a connection behind the balancer parks like
// any other, and keeps its client's address when it wakes.
func TestProxyProtocolParked(t *testing.T) {
	b := serveSync(t, remoteHandler, ServerSettings{ParkIdleAfter: 20 * time.Millisecond,
		ProxyProtocol: ProxyProtocolSettings{Mode: ProxyProtocolRequired}})
	c, r := dialSend(t, b.LocalAddr(), proxyV1+getX)
	defer c.Close()
	for i := range 3 {
		if got := readBody(t, r); got != "192.0.2.1:56324" {
			t.Fatalf("request %d: RemoteAddr %q", i, got)
		}
		waitStats(t, b, "the connection to park", func(s Stats) bool { return s.ParkedConnections == 1 })
		io.WriteString(c, getX)
	}
}

// TestProxyProtocolTLS: the header comes before the TLS handshake.
func TestProxyProtocolTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	b := serveSync(t, remoteHandler, ServerSettings{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ProxyProtocol: ProxyProtocolSettings{Mode: ProxyProtocolRequired}})
	raw, err := net.Dial("tcp", b.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(raw, proxyV2(false))
	c := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	io.WriteString(c, getX)
	if got := readBody(t, bufio.NewReader(c)); got != "[2001:db8::1]:1" {
		t.Errorf("RemoteAddr %q", got)
	}
}

// TestProxyProtocolIncoming: a Bind source's connection tells the client's
// address and the balancer's once it is served.
func TestProxyProtocolIncoming(t *testing.T) {
	s := ServerSettings{ProxyProtocol: ProxyProtocolSettings{Mode: ProxyProtocolRequired}}
	conns := make(chan *IncomingConnection, 1)
	run, b := startBind(t, s, func(ic *IncomingConnection) {
		ic.HandleWithSyncHandler(remoteHandler)
		conns <- ic
	})
	defer run()
	c, r := dialSend(t, b.LocalAddr(), proxyV1+getX)
	defer c.Close()
	readBody(t, r)
	ic := <-conns
	if got, want := ic.RemoteAddr().String(), "192.0.2.1:56324"; got != want {
		t.Errorf("RemoteAddr %v, want %v", got, want)
	}
	if got, want := ic.ProxiedFrom().String(), c.LocalAddr().String(); got != want {
		t.Errorf("ProxiedFrom %v, want %v", got, want)
	}
	c.Close()
	<-ic.Done()
	if err := ic.Err(); err != nil {
		t.Errorf("Err %v", err)
	}
}

// TestProxyProtocolErr: the refused connection's Err says why.
func TestProxyProtocolErr(t *testing.T) {
	s := ServerSettings{ProxyProtocol: ProxyProtocolSettings{Mode: ProxyProtocolRequired}, Logger: slog.New(slog.DiscardHandler)}
	conns := make(chan *IncomingConnection, 1)
	run, b := startBind(t, s, func(ic *IncomingConnection) {
		ic.HandleWithSyncHandler(remoteHandler)
		conns <- ic
	})
	defer run()
	c, _ := dialSend(t, b.LocalAddr(), getX)
	defer c.Close()
	ic := <-conns
	<-ic.Done()
	if !errors.Is(ic.Err(), ErrProxyHeaderMissing) {
		t.Errorf("Err %v, want ErrProxyHeaderMissing", ic.Err())
	}
	if ic.ProxiedFrom() != nil {
		t.Errorf("ProxiedFrom %v, want nil", ic.ProxiedFrom())
	}
}

// startBind runs a Bind source on a free loopback port, handing each
// connection to handle; stop closes it and waits for its connections.
func startBind(t *testing.T, s ServerSettings, handle func(*IncomingConnection)) (stop func(), b *ServerBinding) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	run := stream.To(Bind("127.0.0.1:0", s), stream.ForEach(handle)).Start(ctx)
	b = run.Materialized()
	if b.Err() != nil {
		cancel()
		t.Fatal(b.Err())
	}
	return func() {
		cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		b.Close(cctx)
		run.Wait()
	}, b
}
