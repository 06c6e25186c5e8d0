// Command idleconns measures what an idle keep-alive connection costs a
// server in memory, for the load benchmark (scripts/bench.sh). It reads
// the server's resident set size (VmRSS in /proc/PID/status), opens -n
// connections to it, sends one GET on each and reads the answer, leaves
// them all open and idle, waits -settle, reads VmRSS again and prints
//
//	idle conns=N ok=M failed=F rss_before_kib=B rss_after_kib=A kib_per_conn=K
//
// (K = (A-B)/M). It exits non-zero when no connection succeeded or the
// server died. Everything it does is bounded by -timeout.
//
// With -h2 each connection speaks HTTP/2 with prior knowledge (RFC 9113
// §3.3): the client preface and an empty SETTINGS, one GET on stream 1,
// the answer read to its END_STREAM (the server's SETTINGS acknowledged),
// then nothing more.
//
// The process needs a file descriptor per connection: Go raises the soft
// RLIMIT_NOFILE to the hard one at start, so raise the hard limit first
// (ulimit -n) when -n is near it.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server address (loopback only)")
	pid := flag.Int("pid", 0, "the server's process id, for /proc/PID/status")
	n := flag.Int("n", 10000, "connections to open")
	dialers := flag.Int("dialers", 64, "connections opened at once")
	path := flag.String("path", "/plaintext", "the path of the one GET sent on each connection")
	flag.BoolVar(&proxyHeader, "proxy-header", false, "start each connection with a PROXY protocol v1 header, as a load balancer does")
	flag.BoolVar(&useH2, "h2", false, "speak HTTP/2 with prior knowledge (cleartext) instead of HTTP/1.1")
	settle := flag.Duration("settle", time.Second, "how long the connections stay idle before the second reading")
	timeout := flag.Duration("timeout", 2*time.Minute, "bound on the whole measurement")
	flag.Parse()
	if err := run(*addr, *pid, *n, *dialers, *path, *settle, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
}

func run(addr string, pid, n, dialers int, path string, settle, timeout time.Duration) error {
	if pid <= 0 {
		return errors.New("-pid is required")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", addr)
	}
	if n < 1 || dialers < 1 {
		return errors.New("-n and -dialers must be at least 1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	before, err := vmRSS(pid)
	if err != nil {
		return err
	}

	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range min(dialers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := open(ctx, addr, path)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	ok := 0
	for _, c := range conns {
		if c != nil {
			ok++
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("opened %d of %d connections before the timeout", ok, n)
	}

	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	after, err := vmRSS(pid)
	if err != nil {
		return err
	}
	perConn := 0.0
	if ok > 0 {
		perConn = float64(after-before) / float64(ok)
	}
	fmt.Printf("idle conns=%d ok=%d failed=%d rss_before_kib=%d rss_after_kib=%d kib_per_conn=%.2f\n",
		n, ok, failed.Load(), before, after, perConn)
	if ok == 0 {
		return fmt.Errorf("no connection succeeded: %v", firstErr.Load())
	}
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "idleconns: %d connections failed, the first with: %v\n", f, firstErr.Load())
	}
	return nil
}

// proxyHeader and useH2 are the -proxy-header and -h2 flags.
var proxyHeader, useH2 bool

// open dials addr, sends one GET for path and reads the whole answer,
// leaving the connection open. The deadline is cleared again so that the
// connection can stay idle.
func open(ctx context.Context, addr, path string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	if useH2 {
		req = h2Request(addr, path)
	}
	if proxyHeader {
		l, r := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
		req = fmt.Sprintf("PROXY TCP4 %s %s %d %d\r\n", l.IP, r.IP, l.Port, r.Port) + req
	}
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	if useH2 {
		if err := h2Answer(c); err != nil {
			c.Close()
			return nil, err
		}
		c.SetDeadline(time.Time{})
		return c, nil
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	if err == nil && resp.Close {
		err = errors.New("the server closed the connection after the first response")
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// vmRSS returns the resident set size of process pid in KiB.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("the server is gone: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "1234 kB"
			if len(f) == 2 && f[1] == "kB" {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS line in /proc/%d/status", pid)
}
