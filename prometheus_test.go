package streamhttp

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWritePrometheus(t *testing.T) {
	st := Stats{Uptime: 1500 * time.Millisecond, TotalRequests: 7, OpenRequests: 1, MaxOpenRequests: 2,
		TotalConnections: 3, OpenConnections: 2, MaxOpenConnections: 3, ParkedConnections: 1,
		RequestTimeouts: 4, SlowBodies: 5, BytesIn: 1 << 40, BytesOut: 12, Draining: true}
	var out strings.Builder
	if err := st.WritePrometheus(&out, "app_", "port", "8080", "note", "a \"q\" \\ \n"); err != nil {
		t.Fatal(err)
	}
	const lbl = `{port="8080",note="a \"q\" \\ \n"}`
	want := []string{
		"app_uptime_seconds" + lbl + " 1.5",
		"app_requests_total" + lbl + " 7",
		"app_open_requests" + lbl + " 1",
		"app_max_open_requests" + lbl + " 2",
		"app_connections_total" + lbl + " 3",
		"app_open_connections" + lbl + " 2",
		"app_max_open_connections" + lbl + " 3",
		"app_parked_connections" + lbl + " 1",
		"app_request_timeouts_total" + lbl + " 4",
		"app_slow_bodies_total" + lbl + " 5",
		"app_received_bytes_total" + lbl + " 1.099511627776e+12",
		"app_sent_bytes_total" + lbl + " 12",
		"app_draining" + lbl + " 1",
	}
	var got []string
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for i, l := range lines {
		switch i % 3 {
		case 0:
			if !strings.HasPrefix(l, "# HELP app_") {
				t.Errorf("line %d %q, want a HELP line", i, l)
			}
		case 1:
			if !strings.HasPrefix(l, "# TYPE app_") || !(strings.HasSuffix(l, " counter") == strings.Contains(l, "_total ")) {
				t.Errorf("line %d %q, want a TYPE line, counter for totals", i, l)
			}
		case 2:
			got = append(got, l)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("samples (-want +got):\n%s", d)
	}
}

func TestWritePrometheusBadLabels(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		labels []string
	}{
		{"", []string{"odd"}},
		{"", []string{"1x", "v"}},
		{"", []string{"a:b", "v"}},
		{"bad-prefix_", nil},
	} {
		if err := (Stats{}).WritePrometheus(io.Discard, tc.prefix, tc.labels...); !errors.Is(err, errLabels) {
			t.Errorf("%q %q: %v, want errLabels", tc.prefix, tc.labels, err)
		}
	}
}

// TestMetricsHandler: the binding's statistics over HTTP, labelled with
// its address.
func TestMetricsHandler(t *testing.T) {
	b := serveSync(t, MetricsHandler, ServerSettings{})
	defer http.DefaultClient.CloseIdleConnections()
	resp, err := http.Get("http://" + b.LocalAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != PrometheusContentType {
		t.Errorf("Content-Type %q", ct)
	}
	want := `streamhttp_requests_total{addr="` + b.LocalAddr().String() + `"} 1` + "\n"
	if !strings.Contains(string(body), want) {
		t.Errorf("body %q lacks %q", body, want)
	}
}
