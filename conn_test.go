package streamhttp

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// serve runs ServeConn on server and returns a channel with its result;
// the test waits for it when it ends.
func serve(t *testing.T, server net.Conn, handler stream.Flow[*Request, *Response], s ServerSettings) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- ServeConn(context.Background(), server, handler, s)
		close(finished)
	}()
	t.Cleanup(func() {
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("ServeConn did not return")
		}
	})
	return done
}

// dialPipe serves handler on one end of a net.Pipe and returns the other.
func dialPipe(t *testing.T, handler stream.Flow[*Request, *Response], s ServerSettings) (net.Conn, <-chan error) {
	t.Helper()
	client, server := net.Pipe()
	done := serve(t, server, handler, s)
	t.Cleanup(func() { client.Close() })
	return client, done
}

// dialTCP serves handler on an accepted loopback TCP connection and returns
// the client's end.
func dialTCP(t *testing.T, handler stream.Flow[*Request, *Response], s ServerSettings) (net.Conn, <-chan error) {
	t.Helper()
	client, server := tcpPair(t)
	done := serve(t, server, handler, s)
	t.Cleanup(func() { client.Close() })
	return client, done
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	return client, server
}

// readResponse reads one response (head and Content-Length body) and
// returns it normalized; io.EOF when the connection ended first.
func readResponse(br *bufio.Reader) (string, error) {
	var head strings.Builder
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if head.Len() == 0 && line == "" {
				return "", err
			}
			return normalize([]byte(head.String() + line)), fmt.Errorf("in a head: %w", err)
		}
		head.WriteString(line)
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(value))
		}
		if line == "\r\n" {
			break
		}
	}
	body := make([]byte, length)
	_, err := io.ReadFull(br, body)
	return normalize([]byte(head.String() + string(body))), err
}

// expectResponse reads one response and compares it with want.
func expectResponse(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	got, err := readResponse(br)
	if err != nil {
		t.Fatalf("reading a response: %v (got %q)", err, abbrev(got))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("response (-want +got):\n%s", diff)
	}
}

// expectEOF checks that the server closes the connection with nothing more
// to read.
func expectEOF(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(br)
	if err != nil || len(rest) > 0 {
		t.Fatalf("after the last response: %q, %v; want the end of the connection", abbrev(string(rest)), err)
	}
}

// abbrev shortens s for a failure message.
func abbrev(s string) string {
	if len(s) > 400 {
		return s[:400] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// TestServeConn checks ServeConn over an in-memory pipe, loopback TCP and
// TLS: pipelined requests with and without bodies, a closing request, the
// end of the connection, the request's addresses and TLS state.
func TestServeConn(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			handler := stream.Map(func(r *Request) *Response {
				st, err := toStrict(r)
				if err != nil {
					return httpcore.Text(httpcore.StatusBadRequest, err.Error())
				}
				secure := r.TLS != nil && r.TLS.HandshakeComplete
				return httpcore.Text(httpcore.StatusOK, fmt.Sprintf("%s %s %q tls=%v remote=%v", r.Method, r.Target, st, secure, r.RemoteAddr != nil))
			})
			c, done := tr.dial(t, handler, ServerSettings{})
			go io.WriteString(c, get("/a")+
				"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"+
				"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
				"GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			secure := tr.name == "tls"
			br := bufio.NewReader(c)
			expectResponse(t, br, text("200 OK", "", fmt.Sprintf(`GET /a "" tls=%v remote=true`, secure)))
			expectResponse(t, br, text("200 OK", "", fmt.Sprintf(`POST /b "hello" tls=%v remote=true`, secure)))
			expectResponse(t, br, text("200 OK", "", fmt.Sprintf(`POST /c "abc" tls=%v remote=true`, secure)))
			expectResponse(t, br, text("200 OK", "Connection: close\r\n", fmt.Sprintf(`GET /d "" tls=%v remote=true`, secure)))
			expectEOF(t, c, br)
			c.Close()
			if err := <-done; err != nil {
				t.Errorf("ServeConn: %v", err)
			}
		})
	}
}

// toStrict reads a request body into memory.
func toStrict(r *Request) (string, error) {
	if r.Entity == nil {
		return "", nil
	}
	data, err := stream.RunWith(r.Context(), r.Entity.DataBytes(),
		stream.Fold("", func(acc string, p []byte) string { return acc + string(p) }))
	return data, err
}

// TestServeConnClientCloses checks that a client that goes away ends
// ServeConn without an error, between requests and before any.
func TestServeConnClientCloses(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c, done := tr.dial(t, pathHandler, ServerSettings{})
			br := bufio.NewReader(c)
			io.WriteString(c, get("/a"))
			expectResponse(t, br, ok("/a"))
			c.Close()
			if err := <-done; err != nil {
				t.Errorf("ServeConn: %v", err)
			}
		})
	}
}

// dialTLS serves handler over TLS on loopback TCP, with a certificate made
// for the test, and returns the client's end (which shakes hands on its
// first write or read).
func dialTLS(t *testing.T, handler stream.Flow[*Request, *Response], s ServerSettings) (net.Conn, <-chan error) {
	t.Helper()
	cert, pool := selfSigned(t)
	raw, server := tcpPair(t)
	client := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	done := serve(t, tls.Server(server, &tls.Config{Certificates: []tls.Certificate{cert}}), handler, s)
	t.Cleanup(func() { client.Close() })
	return client, done
}

// selfSigned makes a certificate for localhost and 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestIdleTimeout checks that ServeConn closes a connection on which
// nothing happens for IdleTimeout, and only such a one: a request that the
// handler takes longer than IdleTimeout to answer is answered.
func TestIdleTimeout(t *testing.T) {
	const idle = 100 * time.Millisecond
	slow := func(r *Request) *Response {
		if r.URI.Path == "/slow" {
			time.Sleep(3 * idle)
		}
		return respond(r)
	}
	handlers := []struct {
		name    string
		handler stream.Flow[*Request, *Response]
	}{
		{"sync", stream.Map(slow)},
		{"async", stream.MapAsync(4, func(_ context.Context, r *Request) (*Response, error) { return slow(r), nil })},
	}
	for _, tr := range transports {
		for _, h := range handlers {
			t.Run(tr.name+"/"+h.name+" idle connection", func(t *testing.T) {
				c, done := tr.dial(t, h.handler, ServerSettings{IdleTimeout: idle})
				br := bufio.NewReader(c)
				io.WriteString(c, get("/a"))
				expectResponse(t, br, ok("/a"))
				start := time.Now()
				expectEOF(t, c, br)
				if d := time.Since(start); d < idle/2 {
					t.Errorf("closed after %v, before the idle timeout", d)
				}
				c.Close()
				if err := <-done; err != nil {
					t.Errorf("ServeConn: %v", err)
				}
			})
			t.Run(tr.name+"/"+h.name+" request in progress", func(t *testing.T) {
				c, done := tr.dial(t, h.handler, ServerSettings{IdleTimeout: idle, PipeliningLimit: 4})
				br := bufio.NewReader(c)
				io.WriteString(c, get("/slow"))
				expectResponse(t, br, ok("/slow"))
				io.WriteString(c, get("/after"))
				expectResponse(t, br, ok("/after"))
				c.Close()
				if err := <-done; err != nil {
					t.Errorf("ServeConn: %v", err)
				}
			})
		}
	}
}

// TestLinger checks that a closing response reaches the client in full
// even when the client has sent more than the server reads: the server
// reads and discards the rest (for up to LingerTimeout) instead of
// resetting the connection and destroying the response in flight.
func TestLinger(t *testing.T) {
	big := strings.Repeat("x", 256<<10)
	handler := stream.Map(func(r *Request) *Response { return httpcore.Text(httpcore.StatusOK, big) })
	for range 5 {
		c, done := dialTCP(t, handler, ServerSettings{MaxDrainBytes: 1024})
		// A large body the handler never reads: its response closes.
		body := strings.Repeat("b", 4<<20)
		wrote := make(chan error, 1)
		go func() {
			_, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n"+body)
			wrote <- err
		}()
		// Let the server answer and close while the upload goes on.
		time.Sleep(20 * time.Millisecond)
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		expectResponse(t, br, text("200 OK", "Connection: close\r\n", big))
		expectEOF(t, c, br)
		<-wrote
		c.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeConn: %v", err)
		}
	}
}

// countingConn counts the writes on a connection.
type countingConn struct {
	net.Conn
	writes atomic.Int32
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestFlushPolicy checks that pipelined requests that arrive together get
// their responses in one write, at every pipelining limit. (An asynchronous
// handler's responses leave as they are ready: see TestFlushPolicyAsync.)
func TestFlushPolicy(t *testing.T) {
	for _, limit := range []int{1, 16} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			cc := &countingConn{Conn: server}
			done := serve(t, cc, pathHandler, ServerSettings{PipeliningLimit: limit})
			var in strings.Builder
			for i := range 16 {
				in.WriteString(get(fmt.Sprintf("/%d", i)))
			}
			go io.WriteString(client, in.String())
			br := bufio.NewReader(client)
			for i := range 16 {
				expectResponse(t, br, ok(fmt.Sprintf("/%d", i)))
			}
			if n := cc.writes.Load(); n != 1 {
				t.Errorf("16 responses in %d writes, want 1", n)
			}
			client.Close()
			if err := <-done; err != nil {
				t.Errorf("ServeConn: %v", err)
			}
		})
	}
}

// TestFlushPolicyAsync: a concurrent handler's answers are not written one
// by one: before the writer waits for the handler it lets the handler's
// goroutines run, and what is ready then leaves together. The connection
// never holds a ready response back to wait for more, so the exact count
// depends on scheduling; one write per response is what this rules out.
func TestFlushPolicyAsync(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	cc := &countingConn{Conn: server}
	f := func(_ context.Context, r *Request) (*Response, error) { return respond(r), nil }
	done := serve(t, cc, AsyncHandler(f, 16, 16), ServerSettings{PipeliningLimit: 16})
	var in strings.Builder
	for i := range 16 {
		in.WriteString(get(fmt.Sprintf("/%d", i)))
	}
	go io.WriteString(client, in.String())
	br := bufio.NewReader(client)
	for i := range 16 {
		expectResponse(t, br, ok(fmt.Sprintf("/%d", i)))
	}
	if n := cc.writes.Load(); n > 8 {
		t.Errorf("16 responses in %d writes, want them batched", n)
	}
	client.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeConn: %v", err)
	}
}

// TestPanicIsolation checks that a panicking handler on one connection
// gets its client a 500, closes that connection and logs the panic with its
// stack, while another connection served at the same time goes on.
func TestPanicIsolation(t *testing.T) {
	logs, log := newLog()
	handler := stream.Map(func(r *Request) *Response {
		if r.URI.Path == "/panic" {
			panic("handler bug")
		}
		return respond(r)
	})
	s := ServerSettings{Logger: log}
	c1, done1 := dialPipe(t, handler, s)
	c2, done2 := dialPipe(t, handler, s)
	br1, br2 := bufio.NewReader(c1), bufio.NewReader(c2)
	go io.WriteString(c2, get("/a"))
	expectResponse(t, br2, ok("/a"))
	go io.WriteString(c1, get("/a")+get("/panic")+get("/after"))
	expectResponse(t, br1, ok("/a"))
	expectResponse(t, br1, internalError500)
	expectEOF(t, c1, br1)
	go io.WriteString(c2, get("/b"))
	expectResponse(t, br2, ok("/b"))
	c1.Close()
	c2.Close()
	for _, done := range []<-chan error{done1, done2} {
		if err := <-done; err != nil {
			t.Errorf("ServeConn: %v", err)
		}
	}
	for _, want := range []string{"level=ERROR", "handler panicked", "handler bug", "conn_test.go", "goroutine"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}
