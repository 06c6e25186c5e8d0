package streamhttp

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

func accessRoutes(r *Request) *Response {
	switch r.URI.Path {
	case "/slow":
		time.Sleep(30 * time.Millisecond)
		return httpcore.Text(httpcore.StatusOK, "slow")
	case "/missing":
		return httpcore.Text(httpcore.StatusNotFound, "no such thing")
	case "/stream":
		return &Response{Status: httpcore.StatusOK, Entity: entity.ChunkedFromData("text/plain", stream.FromSlice([][]byte{[]byte("a"), []byte("b")}))}
	}
	return hello(r)
}

// TestAccessLog: one record per response, with the request's method and
// target, the status and body length sent, the time taken and the
// client's address (the PROXY protocol's source behind a balancer).
func TestAccessLog(t *testing.T) {
	for _, proxied := range []bool{false, true} {
		recs := make(chan AccessRecord, 16)
		s := ServerSettings{AccessLog: func(r AccessRecord) { recs <- r }, TransparentHEAD: true}
		pre := ""
		if proxied {
			s.ProxyProtocol.Mode = ProxyProtocolRequired
			pre = proxyV1
		}
		b := serveSync(t, accessRoutes, s)
		reqs := []string{"GET /?a=1", "HEAD /", "GET /missing", "GET /slow", "GET /stream", "GET /bad target"}
		var wire strings.Builder
		wire.WriteString(pre)
		for _, r := range reqs {
			wire.WriteString(r + " HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		c, r := dialSend(t, b.LocalAddr(), wire.String())
		defer c.Close()
		io.ReadAll(r) // to the close that the bad request brings
		client := c.LocalAddr()
		if proxied {
			client = net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:56324"))
		}
		want := []AccessRecord{
			{Method: "GET", Target: "/?a=1", Status: 200, BodyBytes: 13, Seq: 1},
			{Method: "HEAD", Target: "/", Status: 200, BodyBytes: 0, Seq: 2},
			{Method: "GET", Target: "/missing", Status: 404, BodyBytes: 13, Seq: 3},
			{Method: "GET", Target: "/slow", Status: 200, BodyBytes: 4, Seq: 4},
			{Method: "GET", Target: "/stream", Status: 200, BodyBytes: -1, Seq: 5},
			{Status: 400, BodyBytes: 36, Seq: 6}, // did not parse
		}
		var got []AccessRecord
		for range want {
			select {
			case rec := <-recs:
				if rec.RemoteAddr.String() != client.String() {
					t.Errorf("RemoteAddr %v, want %v", rec.RemoteAddr, client)
				}
				if rec.Target == "/slow" && rec.Duration < 30*time.Millisecond {
					t.Errorf("/slow took %v, want at least 30ms", rec.Duration)
				}
				if (rec.Duration <= 0 && rec.Status != 400) || rec.Duration > 5*time.Second {
					t.Errorf("%s: Duration %v", rec.Target, rec.Duration)
				}
				got = append(got, rec)
			case <-time.After(5 * time.Second):
				t.Fatalf("got %d records, want %d", len(got), len(want))
			}
		}
		if d := cmp.Diff(want, got, cmpopts.IgnoreFields(AccessRecord{}, "Duration", "RemoteAddr")); d != "" {
			t.Errorf("records (-want +got):\n%s", d)
		}
	}
}
