package exampletest

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Pipeline sends requests first to first+n-1, made by raw, to the server at
// addr in batches of batchLen pipelined requests on one connection, and
// reads each answer with check, which reports how it differs from what
// request i should get ("" when it does not). The first difference or
// error is reported with t.Error and ends the connection; Pipeline may run
// in a goroutine of the test's.
func Pipeline(t testing.TB, addr string, first, n, batchLen int, raw func(int) string, check func(*bufio.Reader, int) string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for batch := first; batch < first+n; batch += batchLen {
		var in strings.Builder
		end := min(batch+batchLen, first+n)
		for i := batch; i < end; i++ {
			in.WriteString(raw(i))
		}
		if _, err := io.WriteString(c, in.String()); err != nil {
			t.Error(err)
			return
		}
		for i := batch; i < end; i++ {
			if d := check(br, i); d != "" {
				t.Error(d)
				return
			}
		}
	}
}
