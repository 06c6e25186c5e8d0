package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// config is the run's flags.
type config struct {
	dur, lorisInterval, redial, exitCap, churn, settle time.Duration
	slowBodyLimit                                      time.Duration
	slowhttptest                                       string
	clients, readers, churnWorkers                     int
	loris                                              []int
	only                                               map[string]bool
	logDir                                             string
}

// target is one server under test.
type target struct {
	name, argv  string
	addr, debug string
}

func main() {
	var c config
	streamhttpCmd := flag.String("streamhttp", "", "command line of the streamhttp server ({addr}, {debug} replaced)")
	nethttpCmd := flag.String("nethttp", "", "command line of the net/http server ({addr}, {debug} replaced)")
	port := flag.Int("port", 18470, "first of four loopback ports used (below 32768)")
	flag.DurationVar(&c.dur, "dur", 5*time.Second, "normal load per measurement (with and without an attack)")
	flag.IntVar(&c.clients, "clients", 8, "normal clients, each sending one request per new connection")
	loris := flag.String("loris", "2000,8000", "slowloris connection counts")
	flag.DurationVar(&c.lorisInterval, "loris-interval", 5*time.Second, "mean time between a slowloris connection's header lines")
	flag.DurationVar(&c.redial, "redial", time.Second, "wait before a closed slowloris connection is dialled again")
	flag.IntVar(&c.readers, "readers", 100, "slow readers per memory measurement")
	flag.DurationVar(&c.exitCap, "exit-cap", 10*time.Second, "how long to wait for a server to exit after a signal before killing it")
	flag.DurationVar(&c.churn, "churn", 20*time.Second, "duration of the reset churn")
	flag.IntVar(&c.churnWorkers, "churn-workers", 16, "connections reset at once during the churn")
	flag.DurationVar(&c.settle, "settle", 10*time.Second, "how long the churn's goroutines and fds may take to go back to their baseline")
	flag.DurationVar(&c.slowBodyLimit, "slowbody", 30*time.Second, "length of the slow-body run (slowhttptest -l)")
	flag.StringVar(&c.slowhttptest, "slowhttptest", "", "slowhttptest binary for the slow-body run (default: from PATH; none: skipped)")
	only := flag.String("only", "loris,slowbody,memory,exit,churn", "scenarios to run")
	flag.StringVar(&c.logDir, "logdir", os.TempDir(), "directory for the servers' output")
	flag.Parse()
	if *streamhttpCmd == "" || *nethttpCmd == "" {
		fmt.Fprintln(os.Stderr, "hostile: -streamhttp and -nethttp are required")
		os.Exit(2)
	}
	if *port <= 0 || *port+3 >= 32768 {
		fmt.Fprintln(os.Stderr, "hostile: -port must leave four ports below 32768")
		os.Exit(2)
	}
	for f := range strings.SplitSeq(*loris, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "hostile: bad -loris %q\n", *loris)
			os.Exit(2)
		}
		c.loris = append(c.loris, n)
	}
	if c.slowhttptest == "" {
		c.slowhttptest, _ = exec.LookPath("slowhttptest")
	}
	c.only = map[string]bool{}
	for f := range strings.SplitSeq(*only, ",") {
		c.only[strings.TrimSpace(f)] = true
	}
	targets := []target{
		{name: "streamhttp", argv: *streamhttpCmd, addr: hostPort(*port), debug: hostPort(*port + 1)},
		{name: "net/http", argv: *nethttpCmd, addr: hostPort(*port + 2), debug: hostPort(*port + 3)},
	}
	for _, t := range targets {
		for _, a := range []string{t.addr, t.debug} {
			if !freePort(a) {
				fmt.Fprintf(os.Stderr, "hostile: %s is in use\n", a)
				os.Exit(1)
			}
		}
	}
	var rows []row
	add := func(label, goal string, f func(target) string) {
		r := row{label: label, goal: goal}
		for _, t := range targets {
			progress("%s: %s", t.name, label)
			r.cells = append(r.cells, f(t))
		}
		rows = append(rows, r)
	}
	if c.only["loris"] {
		for _, n := range c.loris {
			add(fmt.Sprintf("slowloris %d: normal req/s kept", n), ">= 90%", func(t target) string { return c.lorisRow(t, n) })
		}
	}
	if c.only["slowbody"] {
		add(fmt.Sprintf("slow body (slowhttptest -B, %d conns): cut after", slowBodyConns), "cut", c.slowBodyRow)
	}
	if c.only["memory"] {
		for _, size := range []int{1 << 10, 1 << 20} {
			add(fmt.Sprintf("memory per slow reader, %s chunks", sizeName(size)), "<= 64 KiB", func(t target) string { return c.memoryRow(t, size) })
		}
	}
	if c.only["exit"] {
		add("exit after SIGTERM (2 s deadline), never-reading client", "<= 3 s", func(t target) string { return c.exitRow(t, syscall.SIGTERM) })
		add("exit after SIGINT, never-reading client", "<= 3 s", func(t target) string { return c.exitRow(t, syscall.SIGINT) })
	}
	if c.only["churn"] {
		churn := make(map[string]churnResult)
		for _, t := range targets {
			progress("%s: reset churn (%v)", t.name, c.churn)
			churn[t.name] = c.churnRun(t)
		}
		cells := func(f func(churnResult) string) []string {
			var out []string
			for _, t := range targets {
				out = append(out, f(churn[t.name]))
			}
			return out
		}
		rows = append(rows,
			row{label: "log lines above DEBUG per 1000 resets", goal: "0", cells: cells(churnResult.logCell)},
			row{label: fmt.Sprintf("goroutines before -> after %v of resets", c.churn), goal: "back to baseline", cells: cells(churnResult.goroutineCell)},
			row{label: fmt.Sprintf("fds before -> after %v of resets", c.churn), goal: "back to baseline", cells: cells(churnResult.fdCell)},
		)
	}
	printTable(targets, rows)
}

type row struct {
	label, goal string
	cells       []string
}

func printTable(targets []target, rows []row) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprint(w, "scenario\tgoal")
	for _, t := range targets {
		fmt.Fprint(w, "\t"+t.name)
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprint(w, r.label+"\t"+r.goal)
		for _, c := range r.cells {
			fmt.Fprint(w, "\t"+c)
		}
		fmt.Fprintln(w)
	}
	w.Flush()
}

func hostPort(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hostile: "+format+"\n", args...)
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// start starts t's server, or returns the table cell that says why not.
func (c *config) start(t target) (*server, string) {
	s, err := startServer(strings.ReplaceAll(t.name, "/", ""), t.argv, t.addr, t.debug, c.logDir)
	if err != nil {
		progress("%v", err)
		return nil, "error: start"
	}
	return s, ""
}

// lorisRow: normal clients' requests per second with n slowloris
// connections against without.
func (c *config) lorisRow(t target, n int) string {
	s, errCell := c.start(t)
	if s == nil {
		return errCell
	}
	defer s.kill()
	// The load alone runs before and after the attack, and the row compares
	// with their mean: on a shared machine the speed drifts.
	before, beforeFailed := normalLoad(t.addr, c.clients, c.dur)
	sw := startSwarm(t.addr, n, c.lorisInterval, c.redial)
	opened := sw.waitOpen(n, 30*time.Second)
	attacked, failed := normalLoad(t.addr, c.clients, c.dur)
	stillOpen, redials := sw.open.Load(), sw.redials.Load()
	sw.close()
	time.Sleep(time.Second) // the server sees the attackers' connections end
	after, afterFailed := normalLoad(t.addr, c.clients, c.dur)
	base := (before + after) / 2
	progress("%s slowloris %d: %.0f and %.0f req/s alone (%d failed), %.0f under attack (%d failed); %d attackers open at the start, %d at the end, %d redials",
		t.name, n, before, after, beforeFailed+afterFailed, attacked, failed, opened, stillOpen, redials)
	if base == 0 {
		return "error: no requests served"
	}
	return fmt.Sprintf("%.0f%% (%.0f/%.0f req/s)", 100*attacked/base, attacked, base)
}

// memoryRow: server memory per slow reader of size-byte chunks.
func (c *config) memoryRow(t target, size int) string {
	s, errCell := c.start(t)
	if s == nil {
		return errCell
	}
	defer s.kill()
	for range 20 { // warm up: the first requests allocate once-only buffers
		oneRequest(t.addr, 2*time.Second)
	}
	time.Sleep(500 * time.Millisecond)
	before, err := s.rss()
	if err != nil {
		return "error: rss"
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range c.readers {
		conn, err := slowReader(t.addr, 10000, size)
		if err != nil {
			progress("%s: slow reader: %v", t.name, err)
			break
		}
		conns = append(conns, conn)
	}
	if len(conns) == 0 {
		return "error: no readers"
	}
	after := settledRSS(s, 15*time.Second)
	per := float64(after-before) / float64(len(conns))
	progress("%s slow readers of %s chunks: RSS %d KiB -> %d KiB with %d readers", t.name, sizeName(size), before>>10, after>>10, len(conns))
	return fmt.Sprintf("%.0f KiB", per/1024)
}

// settledRSS polls the server's RSS until it has changed by less than 1 %
// over a second, or limit has passed, and returns the last value.
func settledRSS(s *server, limit time.Duration) int64 {
	var last int64
	stableSince := time.Now()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		v, err := s.rss()
		if err != nil {
			return last
		}
		if last == 0 || abs(v-last)*100 > last {
			last, stableSince = v, time.Now()
			continue
		}
		if time.Since(stableSince) >= time.Second {
			return v
		}
	}
	return last
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// exitRow: seconds from sig to the server's exit while a client that never
// reads has a streamed response under way.
func (c *config) exitRow(t target, sig syscall.Signal) string {
	s, errCell := c.start(t)
	if s == nil {
		return errCell
	}
	defer s.kill()
	conn, err := slowReader(t.addr, 10000, 65536)
	if err != nil {
		return "error: reader"
	}
	defer conn.Close()
	time.Sleep(time.Second) // the server fills the buffers and blocks
	d, exited := s.signalExit(sig, c.exitCap)
	if !exited {
		return fmt.Sprintf("> %.0f s (killed)", c.exitCap.Seconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

type churnResult struct {
	err            string
	resets         int64
	above, lines   int
	g0, g1, f0, f1 int
	settledIn      time.Duration
}

func (r churnResult) logCell() string {
	if r.err != "" {
		return r.err
	}
	if r.resets == 0 {
		return "error: no resets"
	}
	return fmt.Sprintf("%.1f (%d lines / %d resets)", float64(r.above)*1000/float64(r.resets), r.above, r.resets)
}

func (r churnResult) goroutineCell() string {
	if r.err != "" {
		return r.err
	}
	return fmt.Sprintf("%d -> %d", r.g0, r.g1)
}

func (r churnResult) fdCell() string {
	if r.err != "" {
		return r.err
	}
	return fmt.Sprintf("%d -> %d", r.f0, r.f1)
}

// churnRun resets connections for c.churn, then waits up to c.settle for
// the server's goroutines and fds to come back to what they were before.
func (c *config) churnRun(t target) churnResult {
	s, errCell := c.start(t)
	if s == nil {
		return churnResult{err: errCell}
	}
	defer s.kill()
	// A second of the same churn first: what a server makes once, on first
	// use (an epoll set for parked connections, say), is then in the
	// baseline, and only what the churn leaves behind counts.
	resetChurn(t.addr, c.churnWorkers, time.Second)
	time.Sleep(time.Second)
	var r churnResult
	var err error
	if r.g0, err = s.goroutines(); err != nil {
		return churnResult{err: "error: goroutines"}
	}
	r.f0, _ = s.fds()
	kinds0 := s.fdKinds()
	offset := s.logSize()
	r.resets = resetChurn(t.addr, c.churnWorkers, c.churn)
	start := time.Now()
	for {
		r.g1, _ = s.goroutines()
		r.f1, _ = s.fds()
		if (r.g1 <= r.g0 && r.f1 <= r.f0) || time.Since(start) >= c.settle {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	r.settledIn = time.Since(start)
	if r.f1 > r.f0 {
		progress("%s churn: the fds left: %v (before: %v)", t.name, s.fdKinds(), kinds0)
	}
	r.above, r.lines, _ = s.logLinesSince(offset)
	progress("%s churn: %d resets, %d output lines (%d above DEBUG), goroutines %d -> %d, fds %d -> %d after %v",
		t.name, r.resets, r.lines, r.above, r.g0, r.g1, r.f0, r.f1, r.settledIn.Round(time.Millisecond))
	return r
}
