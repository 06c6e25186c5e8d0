package streamhttp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/httpcore"
)

func TestWriteInterim(t *testing.T) {
	errs := make(chan error, 1)
	_, base := bindAsync(t, func(_ context.Context, r *Request) (*Response, error) {
		errs <- WriteInterim(r, httpcore.Status(103), httpcore.Headers{{Name: "Link", Value: "</a.css>; rel=preload"}, {Name: "Content-Length", Value: "9"}})
		return httpcore.Text(200, "page"), nil
	}, 1, ServerSettings{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	var got []string
	for range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		got = append(got, strconv.Itoa(resp.StatusCode)+" link="+resp.Header.Get("Link")+" cl="+resp.Header.Get("Content-Length")+" "+string(body))
	}
	want := []string{"103 link=</a.css>; rel=preload cl= ", "200 link= cl=4 page"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := <-errs; err != nil {
		t.Error(err)
	}
}

func TestWriteInterimRefused(t *testing.T) {
	r := &Request{Seq: 1}
	if err := WriteInterim(r, httpcore.Status(103), nil); !errors.Is(err, ErrNoConnection) {
		t.Errorf("a request without a connection: %v", err)
	}
	for _, s := range []httpcore.Status{99, 101, 200} {
		if err := WriteInterim(r, s, nil); err == nil || errors.Is(err, ErrNoConnection) {
			t.Errorf("status %d: %v", s, err)
		}
	}
}
