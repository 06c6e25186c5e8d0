package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is one running server process.
type server struct {
	name        string
	addr, debug string
	cmd         *exec.Cmd
	logPath     string
	exited      chan struct{} // closed when the process has exited
}

// startServer runs the command line argv (with {addr} and {debug}
// replaced) with its output in a log file under dir, and waits until it
// answers.
func startServer(name, argv, addr, debug, dir string) (*server, error) {
	args := strings.Fields(strings.NewReplacer("{addr}", addr, "{debug}", debug).Replace(argv))
	if len(args) == 0 {
		return nil, errors.New("hostile: empty server command")
	}
	logFile, err := os.CreateTemp(dir, name+"-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	logFile.Close() // the child has its own descriptor
	s := &server{name: name, addr: addr, debug: debug, cmd: cmd, logPath: logFile.Name(), exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if s.answers() {
			if _, err := s.goroutines(); err == nil {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("hostile: %s exited at start (log %s)", name, s.logPath)
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("hostile: %s did not answer in 10 s (log %s)", name, s.logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// answers reports whether GET /plaintext gets a 200.
func (s *server) answers() bool {
	ok, _ := oneRequest(s.addr, 2*time.Second)
	return ok
}

// kill ends the process (SIGKILL) and waits for it.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// signalExit sends sig and returns how long the process took to exit, or
// false when it had not after limit (it is killed then).
func (s *server) signalExit(sig syscall.Signal, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	s.cmd.Process.Signal(sig)
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-s.exited:
		return time.Since(start), true
	case <-t.C:
		s.kill()
		return limit, false
	}
}

// rss returns the resident set size in bytes (VmRSS of /proc/PID/status).
func (s *server) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "1234 kB"
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("hostile: no VmRSS")
}

// fds counts the process's open file descriptors.
func (s *server) fds() (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	return len(ents), err
}

// fdKinds tells what the process's file descriptors are: how many of each
// link target kind ("socket", "anon_inode:[eventpoll]", ...).
func (s *server) fdKinds() map[string]int {
	dir := fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid)
	ents, _ := os.ReadDir(dir)
	kinds := make(map[string]int)
	for _, e := range ents {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		kind, _, _ := strings.Cut(target, ":[") // socket:[123] -> socket
		if strings.HasPrefix(target, "anon_inode:") {
			kind = target
		}
		kinds[kind]++
	}
	return kinds
}

// goroutines reads the goroutine count from the debug address's pprof
// endpoint ("goroutine profile: total N").
func (s *server) goroutines() (int, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + s.debug + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, err
	}
	n, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("hostile: unexpected pprof answer %q", line)
	}
	return strconv.Atoi(n)
}

// logSize is the size of the server's output so far: logLinesSince counts
// from there.
func (s *server) logSize() int64 {
	fi, err := os.Stat(s.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logLinesSince counts the output lines written after offset, and those of
// them above DEBUG (every line that is not a DEBUG record: net/http's
// plain log lines count too).
func (s *server) logLinesSince(offset int64) (above, total int, err error) {
	f, err := os.Open(s.logPath)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		total++
		if !bytes.Contains(sc.Bytes(), []byte("DEBUG")) {
			above++
		}
	}
	return above, total, sc.Err()
}

// freePort reports whether addr can be listened on now.
func freePort(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
