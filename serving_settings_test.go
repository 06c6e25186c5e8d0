package streamhttp

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
)

// bodyLength reads the whole request body and answers its length.
func bodyLength(r *Request) *Response {
	s, err := entity.ToStrict(r.Context(), r.Entity, 1<<20)
	if err != nil {
		return httpcore.Text(httpcore.StatusBadRequest, err.Error())
	}
	return httpcore.Text(httpcore.StatusOK, strings.Repeat("x", len(s.Data)))
}

func serveSync(t *testing.T, f func(*Request) *Response, s ServerSettings) *ServerBinding {
	t.Helper()
	s.DisableSignals = true
	b, err := BindAndHandleSync(context.Background(), "127.0.0.1:0", f, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	return b
}

// TestMinRequestBodyRate: a body that trickles slower than the minimum
// rate gets 408 and the connection closes; a prompt one is served.
func TestMinRequestBodyRate(t *testing.T) {
	b := serveSync(t, bodyLength, ServerSettings{MinRequestBodyRate: 1000, RequestBodyGrace: 200 * time.Millisecond})
	c, r := dialSend(t, b.LocalAddr(), "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n0123456789")
	defer c.Close()
	start := time.Now()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 408 || !resp.Close {
		t.Errorf("got %s close=%v, want 408 with close", resp.Status, resp.Close)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("the slow body was cut after %v", waited)
	}
	if rest, _ := io.ReadAll(r); len(rest) > 0 {
		t.Errorf("after the 408: %q, want the connection's end", rest)
	}

	c2, r2 := dialSend(t, b.LocalAddr(), "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"+strings.Repeat("a", 5000))
	defer c2.Close()
	resp, err = http.ReadResponse(r2, nil)
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != 5000 {
		t.Fatalf("a prompt body: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestDisableKeepAlive: every response closes its connection.
func TestDisableKeepAlive(t *testing.T) {
	b := serveSync(t, hello, ServerSettings{DisableKeepAlive: true})
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if !resp.Close {
		t.Error("the response does not close the connection")
	}
	if _, err := http.ReadResponse(r, nil); err == nil {
		t.Error("a second request was answered")
	}
}

// TestTLS serves HTTPS: ALPN picks http/1.1, the request carries the TLS
// state, and a client that never completes its handshake is cut off by
// TLSHandshakeTimeout.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	tlsInfo := func(r *Request) *Response {
		if r.TLS == nil {
			return httpcore.Text(httpcore.StatusOK, "plain")
		}
		return httpcore.Text(httpcore.StatusOK, r.TLS.NegotiatedProtocol)
	}
	b := serveSync(t, tlsInfo, ServerSettings{
		TLSConfig:           &tls.Config{Certificates: []tls.Certificate{cert}},
		TLSHandshakeTimeout: 300 * time.Millisecond,
	})
	// A client offering h2 gets it (the server's preference); one offering
	// only http/1.1 gets that.
	for _, proto := range []string{"h2", "http/1.1"} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{proto}}, Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP1(true)
		tr.Protocols.SetHTTP2(proto == "h2")
		client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
		for range 2 {
			resp, err := client.Get("https://" + b.LocalAddr().String() + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != proto || resp.TLS == nil || resp.TLS.NegotiatedProtocol != proto {
				t.Errorf("got %q over %+v, want %s", body, resp.TLS, proto)
			}
		}
		client.CloseIdleConnections()
	}

	// A client that connects and says nothing.
	c, err := net.Dial("tcp", b.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := bufio.NewReader(c).ReadByte(); err == nil {
		t.Error("the silent client got bytes")
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("the silent client was cut after %v, want about 300ms", waited)
	}
}
