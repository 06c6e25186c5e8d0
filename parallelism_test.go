package streamhttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// barrier lets its handler return only once n requests are inside it at
// the same time.
type barrier struct {
	mu      sync.Mutex
	n, in   int
	release chan struct{}
}

func (b *barrier) serve(ctx context.Context, r *Request) (*Response, error) {
	b.mu.Lock()
	b.in++
	if b.in == b.n {
		close(b.release)
	}
	b.mu.Unlock()
	select {
	case <-b.release:
		return respond(r), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestParallelismRaisesPipelining: a parallelism of N means N requests of
// a connection run at once when the PipeliningLimit was left at its
// default, through BindAndHandleAsync and HandleWithAsyncHandler alike.
func TestParallelismRaisesPipelining(t *testing.T) {
	binders := []struct {
		name string
		bind func(t *testing.T, f func(context.Context, *Request) (*Response, error)) string
	}{
		{"BindAndHandleAsync", func(t *testing.T, f func(context.Context, *Request) (*Response, error)) string {
			_, url := bindAsync(t, f, 4, ServerSettings{})
			return strings.TrimPrefix(url, "http://")
		}},
		{"HandleWithAsyncHandler", func(t *testing.T, f func(context.Context, *Request) (*Response, error)) string {
			ctx, cancel := context.WithCancel(context.Background())
			sink := stream.ForEach(func(c *IncomingConnection) { c.HandleWithAsyncHandler(f, 4) })
			run := stream.To(Bind("127.0.0.1:0", ServerSettings{}), sink).Start(ctx)
			b := run.Materialized()
			if b.Err() != nil {
				cancel()
				t.Fatal(b.Err())
			}
			t.Cleanup(func() {
				cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer ccancel()
				b.Close(cctx)
				cancel()
				run.Wait()
			})
			return b.LocalAddr().String()
		}},
	}
	for _, bd := range binders {
		t.Run(bd.name, func(t *testing.T) {
			b := &barrier{n: 4, release: make(chan struct{})}
			addr := bd.bind(t, b.serve)
			pipelineGets(t, addr, 4)
		})
	}
}

// TestPipeliningLimitBoundsParallelism: a PipeliningLimit that was set
// is kept: with a limit of 2 and a parallelism of 4, two requests run at
// once.
func TestPipeliningLimitBoundsParallelism(t *testing.T) {
	b := &barrier{n: 2, release: make(chan struct{})}
	var mu sync.Mutex
	inside, most := 0, 0
	f := func(ctx context.Context, r *Request) (*Response, error) {
		mu.Lock()
		inside++
		most = max(most, inside)
		mu.Unlock()
		defer func() {
			mu.Lock()
			inside--
			mu.Unlock()
		}()
		return b.serve(ctx, r)
	}
	_, url := bindAsync(t, f, 4, ServerSettings{PipeliningLimit: 2})
	pipelineGets(t, strings.TrimPrefix(url, "http://"), 4)
	mu.Lock()
	defer mu.Unlock()
	if most > 2 {
		t.Errorf("%d requests in the handler at once, want at most the PipeliningLimit, 2", most)
	}
}

// pipelineGets sends n pipelined GETs (/0, /1, ...) to addr at once and
// expects their answers in order.
func pipelineGets(t *testing.T, addr string, n int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var in strings.Builder
	for i := range n {
		in.WriteString(get(fmt.Sprintf("/%d", i)))
	}
	io.WriteString(c, in.String())
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for i := range n {
		expectResponse(t, br, ok(fmt.Sprintf("/%d", i)))
	}
}

// TestSharedResponseEveryPath: one shared response answers pipelined
// requests through the inline path (parallelism 1) and the concurrent one
// (ForRequest links a copy there), and is left as it was.
func TestSharedResponseEveryPath(t *testing.T) {
	shared := httpcore.Text(httpcore.StatusOK, "shared").Shared()
	for _, parallelism := range []int{1, 4, 16} {
		t.Run(fmt.Sprint(parallelism), func(t *testing.T) {
			f := func(ctx context.Context, r *Request) (*Response, error) {
				if r.URI.Path == "/3" {
					time.Sleep(5 * time.Millisecond) // answered after the requests behind it
				}
				return shared, nil
			}
			s := quietSettings()
			s.DisableSignals = true
			b, err := BindAndHandleAsync(context.Background(), "127.0.0.1:0", f, parallelism, s)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close(context.Background())
			c, br := dialSend(t, b.LocalAddr(), strings.Repeat(get("/"), 3)+get("/3")+strings.Repeat(get("/"), 12))
			defer c.Close()
			for i := range 16 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || string(body) != "shared" {
					t.Fatalf("response %d: %s %q", i, resp.Status, body)
				}
			}
			if shared.Seq != 0 || len(shared.Header) != 0 || !shared.IsShared() {
				t.Errorf("the shared response changed: %+v", shared)
			}
		})
	}
}
