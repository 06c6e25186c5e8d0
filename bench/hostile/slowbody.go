package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// slowBodyConns is how many slow-body connections slowhttptest opens.
const slowBodyConns = 50

// slowBodyRow runs slowhttptest's slow-body attack (-B: POST /echo with a
// Content-Length of 100 kB, 2 random bytes a second per connection) and
// returns the second at which the server had cut half of the connections,
// from slowhttptest's CSV statistics.
func (c *config) slowBodyRow(t target) string {
	if c.slowhttptest == "" {
		return "skipped: no slowhttptest"
	}
	s, errCell := c.start(t)
	if s == nil {
		return errCell
	}
	defer s.kill()
	limit := int(c.slowBodyLimit.Seconds())
	prefix := filepath.Join(c.logDir, fmt.Sprintf("slowbody-%s-%d", s.name, time.Now().UnixNano()))
	ctx, cancel := context.WithTimeout(context.Background(), c.slowBodyLimit+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.slowhttptest, "-B", "-c", strconv.Itoa(slowBodyConns), "-r", strconv.Itoa(slowBodyConns),
		"-i", "1", "-s", "100000", "-x", "2", "-l", strconv.Itoa(limit), "-p", "3", "-g", "-o", prefix,
		"-u", "http://"+t.addr+"/echo", "-t", "POST")
	if out, err := cmd.CombinedOutput(); err != nil && ctx.Err() != nil {
		progress("%s: slowhttptest: %v\n%s", t.name, err, out)
		return "error: slowhttptest"
	}
	cut, peak, err := cutSecond(prefix+".csv", limit)
	switch {
	case err != nil:
		progress("%s: slowhttptest statistics: %v", t.name, err)
		return "error: statistics"
	case peak == 0:
		return "error: no connection"
	case cut < 0:
		return fmt.Sprintf("not cut in %d s", limit)
	}
	return fmt.Sprintf("%d s", cut)
}

// cutSecond reads slowhttptest's CSV (Seconds,Closed,Pending,Connected,...)
// of a run of limit seconds and returns the first second at which at most
// half of the peak of connected connections was left, or the last second
// of a run that ended early (slowhttptest stops when the server has closed
// every connection; its last line may be from just before), -1 when the
// connections stayed; and the peak.
func cutSecond(path string, limit int) (cut, peak int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return 0, 0, err
	}
	last := -1
	for i, r := range recs {
		if i == 0 || len(r) < 4 {
			continue // the header
		}
		sec, err1 := strconv.Atoi(r[0])
		connected, err2 := strconv.Atoi(r[3])
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("hostile: bad statistics line %q", r)
		}
		peak = max(peak, connected)
		if peak > 0 && connected*2 <= peak {
			return sec, peak, nil
		}
		last = sec
	}
	if peak > 0 && last >= 0 && last < limit-1 {
		return last, peak, nil // ended early: nothing left open
	}
	return -1, peak, nil
}
