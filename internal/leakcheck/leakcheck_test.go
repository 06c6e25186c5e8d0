package leakcheck

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// childEnv selects the behaviour of TestChild when this test binary is run
// as a subprocess by TestVerifyTestMain.
const childEnv = "LEAKCHECK_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		maxWait = 300 * time.Millisecond
	}
	VerifyTestMain(m)
}

// leakyReceiver blocks until ch is closed. Its name shows up in reports.
func leakyReceiver(ch chan struct{}) { <-ch }

// TestChild is the body of the subprocess started by TestVerifyTestMain.
func TestChild(t *testing.T) {
	switch mode := os.Getenv(childEnv); mode {
	case "":
		t.Skip("helper for TestVerifyTestMain; does something only in a subprocess")
	case "clean":
	case "leak":
		go leakyReceiver(make(chan struct{}))
	case "late":
		go time.Sleep(100 * time.Millisecond)
	case "fail":
		go leakyReceiver(make(chan struct{}))
		t.Fatal("deliberate failure")
	default:
		t.Fatalf("unknown %s=%q", childEnv, mode)
	}
}

func TestVerifyTestMain(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("already in a subprocess")
	}
	tests := []struct {
		mode     string
		wantCode int
		wantOut  []string // substrings of the combined output
		dontWant []string
	}{
		{mode: "clean", wantCode: 0, dontWant: []string{"leakcheck:"}},
		{mode: "late", wantCode: 0, dontWant: []string{"leakcheck:"}},
		{
			mode:     "leak",
			wantCode: 1,
			wantOut:  []string{"leakcheck: 1 goroutine(s) leaked", "[chan receive]", "leakyReceiver", "created by "},
		},
		// Failed tests keep their own status and skip the leak report.
		{mode: "fail", wantCode: 1, wantOut: []string{"deliberate failure"}, dontWant: []string{"leakcheck:"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1", "-test.timeout=60s")
			// The race runtime sleeps a second at exit unless told not to.
			gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
			cmd.Env = append(os.Environ(), childEnv+"="+tt.mode, "GORACE="+gorace)
			out, err := cmd.CombinedOutput()
			code := 0
			if err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("running child: %v", err)
				}
				code = ee.ExitCode()
			}
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; output:\n%s", code, tt.wantCode, out)
			}
			for _, s := range tt.wantOut {
				if !strings.Contains(string(out), s) {
					t.Errorf("output lacks %q; output:\n%s", s, out)
				}
			}
			for _, s := range tt.dontWant {
				if strings.Contains(string(out), s) {
					t.Errorf("output contains %q; output:\n%s", s, out)
				}
			}
		})
	}
}

// fakeT records what Check does with a test, so that its failures can be
// asserted instead of failing the real test. Methods it does not override
// go to the embedded real test.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeT) Helper() {}

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeT) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errs) > 0
}

// finish runs the registered cleanups, last first, as the testing package
// does at the end of a test.
func (f *fakeT) finish() {
	f.mu.Lock()
	fns := slices.Clone(f.cleanups)
	f.cleanups = nil
	f.mu.Unlock()
	for _, fn := range slices.Backward(fns) {
		fn()
	}
}

func TestCheckDetectsLeak(t *testing.T) {
	release := make(chan struct{})
	ft := &fakeT{TB: t}
	checkWithin(ft, 200*time.Millisecond)
	go leakyReceiver(release)
	start := time.Now()
	ft.finish()
	close(release) // let it go, so this package does not leak it

	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("reported after %v, before the grace period ended", waited)
	}
	if len(ft.errs) != 1 {
		t.Fatalf("got %d errors, want 1: %q", len(ft.errs), ft.errs)
	}
	msg := ft.errs[0]
	for _, want := range []string{"leakcheck: 1 goroutine(s) leaked", "leakyReceiver", "[chan receive]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("report lacks %q:\n%s", want, msg)
		}
	}
}

func TestCheckSkipsFailedTest(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ft := &fakeT{TB: t}
	checkWithin(ft, time.Minute)
	go leakyReceiver(release)
	ft.Errorf("the test failed on its own")
	start := time.Now()
	ft.finish()
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("waited %v for a failed test", waited)
	}
	if len(ft.errs) != 1 {
		t.Errorf("got errors %q, want only the test's own", ft.errs)
	}
}

func TestCheckIgnoresPreexisting(t *testing.T) {
	release := make(chan struct{})
	go leakyReceiver(release)
	defer close(release)

	ft := &fakeT{TB: t}
	checkWithin(ft, 100*time.Millisecond)
	ft.finish()
	if len(ft.errs) != 0 {
		t.Errorf("reported a goroutine that predates the check: %q", ft.errs)
	}
}

func TestCheckGracePeriod(t *testing.T) {
	// Exits well after the test body returns but within the grace period.
	Check(t)
	go time.Sleep(200 * time.Millisecond)
}

func TestCheckWithSubtests(t *testing.T) {
	Check(t)
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			Check(t) // a parallel subtest's siblings are test goroutines, not leaks
			done := make(chan struct{})
			go func() { time.Sleep(10 * time.Millisecond); close(done) }()
			<-done
		})
	}
}

func TestCurrentID(t *testing.T) {
	ch := make(chan int64)
	go func() { ch <- currentID() }()
	other := <-ch
	self := currentID()
	if self <= 0 || other <= 0 || self == other {
		t.Errorf("currentID: here %d, other goroutine %d", self, other)
	}
}

// dump is a runtime.Stack(buf, true) capture, with file paths shortened,
// plus records in the rarer formats: an extra header field, labels,
// tracebackancestors, elided frames and a stack that is not available.
const dump = `goroutine 1 [running]:
main.main()
	example.com/app/main.go:30 +0x19c

goroutine 7 [chan receive]:
main.T.block(...)
	example.com/app/main.go:14
created by main.main in goroutine 1
	example.com/app/main.go:20 +0x66

goroutine 8 [chan receive, 3 minutes]:
main.gen[...](...)
	example.com/app/main.go:16
created by main.main in goroutine 1
	example.com/app/main.go:21 +0xad

goroutine 12 [syscall]:
os/signal.signal_recv()
	GOROOT/src/runtime/sigqueue.go:152 +0x98
os/signal.loop()
	GOROOT/src/os/signal/signal_unix.go:23 +0x13
created by os/signal.Notify.func1.1 in goroutine 1
	GOROOT/src/os/signal/signal.go:152 +0x1f

goroutine 17 [chan receive]:
testing.(*M).startAlarm.func1()
	GOROOT/src/testing/testing.go:2400 +0x19
created by time.goFunc
	GOROOT/src/time/sleep.go:215 +0x2d

goroutine 19 gp=0xc000007180 m=nil [chan receive labels:{"k": "v"}]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
	GOROOT/src/runtime/proc.go:460 +0xce
runtime.chanrecv(0xc0000a0060, 0x0, 0x1)
	GOROOT/src/runtime/chan.go:667 +0x445
main.main.func1.1()
	example.com/app/main.go:14 +0x65
created by main.main.func1 in goroutine 1
	example.com/app/main.go:14 +0x56
[originating from goroutine 1]:
testing.tRunner(...)
	GOROOT/src/testing/testing.go:1934 +0xea

goroutine 21 [chan send]:
testing.tRunner.func1()
	GOROOT/src/testing/testing.go:1890 +0x1ac
testing.tRunner(0xc000102000, 0x5d2a0b)
	GOROOT/src/testing/testing.go:1940 +0x123
created by testing.(*T).Run in goroutine 1
	GOROOT/src/testing/testing.go:1997 +0x44b

goroutine 22 [GC worker (idle)]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
	GOROOT/src/runtime/proc.go:460 +0xce
runtime.gcBgMarkWorker(0xc00007e000)
	GOROOT/src/runtime/mgc.go:1463 +0xeb
created by runtime.gcBgMarkStartWorkers in goroutine 1
	GOROOT/src/runtime/mgc.go:1373 +0x105

goroutine 23 [select]:
example.com/app.(*Server).serve(0xc000120000, {0x5d2a0b, 0x4}, ...)
	example.com/app/server.go:80 +0x1f
...additional frames elided...
created by example.com/app.Start
	example.com/app/server.go:40 +0x5a

goroutine 24 [running]:
	goroutine running on other thread; stack unavailable
created by example.com/app.Start in goroutine 23
	example.com/app/server.go:41 +0x5a

goroutine 25 [finalizer wait]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
	GOROOT/src/runtime/proc.go:460 +0xce
runtime.runfinq()
	GOROOT/src/runtime/mfinal.go:196 +0x107
runtime.goexit({})
	GOROOT/src/runtime/asm_amd64.s:1700 +0x1

not a goroutine record
`

func TestParse(t *testing.T) {
	type rec struct {
		id        int64
		state     string
		funcs     []string
		createdBy string
		ignorable bool
	}
	want := []rec{
		{1, "running", []string{"main.main"}, "", false},
		{7, "chan receive", []string{"main.T.block"}, "main.main", false},
		{8, "chan receive, 3 minutes", []string{"main.gen[...]"}, "main.main", false},
		{12, "syscall", []string{"os/signal.signal_recv", "os/signal.loop"}, "os/signal.Notify.func1.1", true},
		{17, "chan receive", []string{"testing.(*M).startAlarm.func1"}, "time.goFunc", true},
		// The tRunner ancestor does not make a test's goroutine the framework's.
		{19, `chan receive labels:{"k": "v"}`, []string{"runtime.gopark", "runtime.chanrecv", "main.main.func1.1"}, "main.main.func1", false},
		{21, "chan send", []string{"testing.tRunner.func1", "testing.tRunner"}, "testing.(*T).Run", true},
		{22, "GC worker (idle)", []string{"runtime.gopark", "runtime.gcBgMarkWorker"}, "runtime.gcBgMarkStartWorkers", true},
		{23, "select", []string{"example.com/app.(*Server).serve"}, "example.com/app.Start", false},
		{24, "running", nil, "example.com/app.Start", false},
		{25, "finalizer wait", []string{"runtime.gopark", "runtime.runfinq", "runtime.goexit"}, "", true},
	}

	gs := parse([]byte(dump))
	var got []rec
	for _, g := range gs {
		got = append(got, rec{g.id, g.state, g.funcs, g.createdBy, g.ignorable()})
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d records, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.id != w.id || g.state != w.state || !slices.Equal(g.funcs, w.funcs) || g.createdBy != w.createdBy || g.ignorable != w.ignorable {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if s := gs[1].stack; !strings.HasPrefix(s, "goroutine 7 [chan receive]:\n") || !strings.HasSuffix(s, "main.go:20 +0x66") {
		t.Errorf("stack of goroutine 7 is not the whole record:\n%s", s)
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		line  string
		id    int64
		state string
	}{
		{"goroutine 1 [running]:", 1, "running"},
		{"goroutine 42 [IO wait, 5 minutes]:", 42, "IO wait, 5 minutes"},
		{"goroutine 9 gp=0xc000007180 m=nil [semacquire]:", 9, "semacquire"},
		{"goroutine 3 [select (no cases)]:", 3, "select (no cases)"},
		{"goroutine x [running]:", 0, ""},
		{"goroutine  [running]:", 0, ""},
		{"created by main.main", 0, ""},
		{"", 0, ""},
	}
	for _, tt := range tests {
		id, state := parseHeader(tt.line)
		if id != tt.id || state != tt.state {
			t.Errorf("parseHeader(%q) = %d, %q; want %d, %q", tt.line, id, state, tt.id, tt.state)
		}
	}
}

func TestLiveSnapshot(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	go func() { close(started); leakyReceiver(release) }()
	<-started

	self := currentID()
	var sawSelf, sawLeaky bool
	for _, g := range goroutines() {
		if g.id == self {
			sawSelf = true
			if !g.ignorable() {
				t.Errorf("the test's own goroutine is not excused:\n%s", g.stack)
			}
		}
		if slices.Contains(g.funcs, "github.com/streamhttp/streamhttp/internal/leakcheck.leakyReceiver") {
			sawLeaky = true
			if g.ignorable() {
				t.Errorf("a goroutine started by the test is excused:\n%s", g.stack)
			}
		}
	}
	if !sawSelf || !sawLeaky {
		t.Errorf("live snapshot: saw self %v, saw leakyReceiver %v", sawSelf, sawLeaky)
	}
}
