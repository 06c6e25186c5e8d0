package streamhttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

func TestSmokeServeConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	handler := stream.Map(func(r *Request) *Response {
		if r.Entity != nil && r.Entity.ContentLength() != 0 {
			st, err := entity.ToStrict(r.Context(), r.Entity, 1<<20)
			if err != nil {
				return httpcore.Text(400, err.Error())
			}
			return httpcore.Text(200, fmt.Sprintf("%s %s body=%q", r.Method, r.Target, st.Data))
		}
		return httpcore.Text(200, "Hello, World!")
	})
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		done <- ServeConn(context.Background(), c, handler, ServerSettings{LingerTimeout: 100 * time.Millisecond})
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	req := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
		"GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	io.WriteString(c, req)
	out, _ := io.ReadAll(bufio.NewReader(c))
	t.Logf("%s", out)
	if n := strings.Count(string(out), "HTTP/1.1 200 OK"); n != 4 {
		t.Errorf("got %d responses", n)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeConn: %v", err)
	}
}
