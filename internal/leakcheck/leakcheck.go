// Package leakcheck detects goroutines that outlive the tests which started
// them. It uses only the standard library.
//
// There are two entry points. VerifyTestMain checks a whole test binary and
// is meant for TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
//
// Check checks a single test. Call it as the first statement of the test, not
// deferred; it registers its verification with t.Cleanup:
//
//	func TestPipeline(t *testing.T) {
//		leakcheck.Check(t)
//		...
//	}
//
// Both take a snapshot of the live goroutines when they start and, at the
// end, wait up to five seconds (polling with backoff) for every goroutine
// that was not in the snapshot to exit. Goroutines that belong to the runtime
// or to the testing framework itself (test runners, the timeout alarm, fuzzing
// workers, the os/signal loop and the like) are never reported. Whatever is
// still alive after the grace period is reported with its full stack.
//
// Check attributes every new goroutine to the calling test, so it cannot tell
// apart goroutines started by tests running in parallel with it. Use it in
// tests that do not call t.Parallel (their parallel subtests are fine), and
// rely on VerifyTestMain for packages whose tests run in parallel.
package leakcheck

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxWait is how long the checks wait for new goroutines to exit before
// reporting them. Tests of this package shorten it.
var maxWait = 5 * time.Second

// VerifyTestMain runs the tests of m and exits the process. If the tests
// passed but goroutines started during the run are still alive after the
// grace period, it prints "leakcheck: N goroutine(s) leaked" and their stacks
// to standard error and exits with status 1. If the tests failed, the leak
// check is skipped and the tests' exit status is kept.
func VerifyTestMain(m *testing.M) {
	before := ids(goroutines())
	code := m.Run()
	if code == 0 {
		if leaked := await(before, maxWait); len(leaked) > 0 {
			fmt.Fprint(os.Stderr, report(leaked))
			code = 1
		}
	}
	os.Exit(code)
}

// Check snapshots the live goroutines and registers a t.Cleanup that fails t
// with t.Errorf, listing the stacks, if goroutines created after the snapshot
// are still alive once the grace period is over. Call it first in the test so
// that its cleanup runs after the test's deferred calls, after its subtests
// and after every cleanup registered later. The verification is skipped if t
// has already failed.
func Check(t testing.TB) {
	t.Helper()
	checkWithin(t, maxWait)
}

func checkWithin(t testing.TB, wait time.Duration) {
	t.Helper()
	before := ids(goroutines())
	t.Cleanup(func() {
		t.Helper()
		if t.Failed() {
			return
		}
		if leaked := await(before, wait); len(leaked) > 0 {
			t.Errorf("%s", report(leaked))
		}
	})
}

// await polls until no goroutine outside known, other than the caller and
// the runtime's or testing framework's own, is alive, or until wait has
// passed. It returns the goroutines still alive at the end.
func await(known map[int64]bool, wait time.Duration) []goroutine {
	deadline := time.Now().Add(wait)
	delay := time.Millisecond
	for {
		leaked := unexpected(known)
		if len(leaked) == 0 {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return leaked
		}
		time.Sleep(min(delay, left))
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// unexpected returns the live goroutines that are not in known, not the
// calling goroutine and not owned by the runtime or the testing framework.
func unexpected(known map[int64]bool) []goroutine {
	self := currentID()
	var out []goroutine
	for _, g := range goroutines() {
		if g.id == self || known[g.id] || g.ignorable() {
			continue
		}
		out = append(out, g)
	}
	return out
}

func ids(gs []goroutine) map[int64]bool {
	m := make(map[int64]bool, len(gs))
	for _, g := range gs {
		m[g.id] = true
	}
	return m
}

func report(gs []goroutine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "leakcheck: %d goroutine(s) leaked\n", len(gs))
	for _, g := range gs {
		b.WriteString("\n")
		b.WriteString(g.stack)
		b.WriteString("\n")
	}
	return b.String()
}

// goroutine is one record of a runtime.Stack dump.
type goroutine struct {
	id        int64
	state     string   // text between the brackets of the header, e.g. "chan receive"
	funcs     []string // function of each frame, innermost first
	createdBy string   // function that executed the go statement, if shown
	stack     string   // the whole record as printed by the runtime
}

// goroutines returns all user goroutines, sorted by id.
func goroutines() []goroutine {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return parse(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// currentID returns the id of the calling goroutine.
func currentID() int64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	id, _ := parseHeader(string(buf[:n]))
	return id
}

// parse splits a runtime.Stack dump into goroutine records. Records that do
// not start with a valid header are dropped. The result is sorted by id.
func parse(dump []byte) []goroutine {
	var out []goroutine
	for rec := range bytes.SplitSeq(dump, []byte("\n\n")) {
		text := strings.TrimSpace(string(rec))
		if text == "" {
			continue
		}
		header, body, _ := strings.Cut(text, "\n")
		id, state := parseHeader(header)
		if id <= 0 {
			continue
		}
		g := goroutine{id: id, state: state, stack: text}
	lines:
		for line := range strings.SplitSeq(body, "\n") {
			switch {
			case line == "" || line[0] == '\t':
				// Source position of the previous frame.
			case strings.HasPrefix(line, "[originating from goroutine"):
				// The ancestors shown under GODEBUG=tracebackancestors are
				// not this goroutine's frames: ignoring testing.tRunner in
				// them matters, or every test goroutine would look owned by
				// the framework.
				break lines
			case strings.HasPrefix(line, "created by "):
				name := strings.TrimPrefix(line, "created by ")
				name, _, _ = strings.Cut(name, " in goroutine ")
				g.createdBy = name
			default:
				if fn, ok := frameFunc(line); ok {
					g.funcs = append(g.funcs, fn)
				}
			}
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b goroutine) int { return cmp.Compare(a.id, b.id) })
	return out
}

// parseHeader parses "goroutine 7 [chan receive]:" and its variants (extra
// fields such as "gp=0x..." before the bracket, labels or durations inside
// it) into the id and the bracketed state. It returns id 0 if line is not a
// goroutine header.
func parseHeader(line string) (id int64, state string) {
	rest, ok := strings.CutPrefix(line, "goroutine ")
	if !ok {
		return 0, ""
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end <= 0 {
		return 0, ""
	}
	id, err := strconv.ParseInt(rest[:end], 10, 64)
	if err != nil {
		return 0, ""
	}
	if lo, hi := strings.IndexByte(rest, '['), strings.LastIndexByte(rest, ']'); lo >= 0 && hi > lo {
		state = rest[lo+1 : hi]
	}
	return id, state
}

// frameFunc extracts the function name from a frame line such as
// "testing.(*T).Run(0xc000102000, {0x5d2a0b, 0x4})" or "main.gen[...](...)".
// Arguments never contain parentheses, so the name ends at the last '('.
func frameFunc(line string) (string, bool) {
	if !strings.HasSuffix(line, ")") {
		return "", false
	}
	i := strings.LastIndexByte(line, '(')
	if i <= 0 {
		return "", false
	}
	return line[:i], true
}

// frameworkFuncs are functions of the runtime, the standard library and the
// testing framework whose goroutines are not the tests' doing. An entry
// matches the function itself and its closures ("fn.func1", "fn.gowrap2");
// an entry ending in "." matches a whole package or method set.
var frameworkFuncs = []string{
	"testing.tRunner",         // a test's own goroutine, or one waiting in t.Run or t.Parallel
	"testing.(*T).Run",        // a parent waiting for its subtests
	"testing.(*M).Run",        // the test binary's main flow
	"testing.(*M).startAlarm", // the -test.timeout alarm
	"testing.runTests",
	"testing.(*B).", // benchmark runners and RunParallel workers
	"testing.runBenchmarks",
	"testing.(*F).", // fuzz targets
	"testing.fRunner",
	"testing.runFuzzing",
	"testing.runFuzzTests",
	"internal/fuzz.", // fuzzing coordinator and workers
	"os/signal.signal_recv",
	"os/signal.loop",
	"runtime.ensureSigM",
	"runtime/pprof.profileWriter", // -test.cpuprofile
	"runtime/trace.",              // -test.trace
	"unique.runtime_registerUniqueMapCleanup",
}

func isFrameworkFunc(fn string) bool {
	for _, f := range frameworkFuncs {
		if strings.HasSuffix(f, ".") {
			if strings.HasPrefix(fn, f) {
				return true
			}
			continue
		}
		if fn == f || strings.HasPrefix(fn, f+".") {
			return true
		}
	}
	return false
}

// ignorable reports whether g belongs to the runtime or to the testing
// framework rather than to the code under test.
func (g goroutine) ignorable() bool {
	// Started by the runtime itself: GC workers, finalizer and cleanup
	// goroutines and the like, when they show up at all.
	if strings.HasPrefix(g.createdBy, "runtime.") {
		return true
	}
	if isFrameworkFunc(g.createdBy) {
		return true
	}
	onlyRuntime := true
	for _, fn := range g.funcs {
		if isFrameworkFunc(fn) {
			return true
		}
		if !strings.HasPrefix(fn, "runtime.") {
			onlyRuntime = false
		}
	}
	// Nothing but runtime frames (runtime.goexit and the like) and no
	// creator outside the runtime: a runtime goroutine. A record without any
	// frame tells nothing and is not excused.
	return onlyRuntime && len(g.funcs) > 0 && g.createdBy == ""
}
