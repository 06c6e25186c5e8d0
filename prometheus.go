package streamhttp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
)

// PrometheusContentType is the media type of Prometheus's text exposition
// format, version 0.0.4, which WritePrometheus writes.
const PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

// errLabels is a WritePrometheus call with an odd number of label strings
// or a bad label name.
var errLabels = errors.New("streamhttp: WritePrometheus: labels are name, value pairs with names of [a-zA-Z_][a-zA-Z0-9_]*")

// promMetric is one line of the exposition: its name after the prefix,
// type, help and value.
type promMetric struct {
	name, typ, help string
	value           float64
}

func (st Stats) promMetrics() []promMetric {
	draining := 0.0
	if st.Draining {
		draining = 1
	}
	return []promMetric{
		{"uptime_seconds", "gauge", "Time since the socket was bound or the statistics were reset.", st.Uptime.Seconds()},
		{"requests_total", "counter", "Requests handed to handlers.", float64(st.TotalRequests)},
		{"open_requests", "gauge", "Requests handed out whose response is not written yet.", float64(st.OpenRequests)},
		{"max_open_requests", "gauge", "The most requests open at once.", float64(st.MaxOpenRequests)},
		{"connections_total", "counter", "Connections served.", float64(st.TotalConnections)},
		{"open_connections", "gauge", "Connections being served, parked ones included.", float64(st.OpenConnections)},
		{"max_open_connections", "gauge", "The most connections open at once.", float64(st.MaxOpenConnections)},
		{"parked_connections", "gauge", "Idle connections parked in the kernel's poller.", float64(st.ParkedConnections)},
		{"request_timeouts_total", "counter", "Requests answered 503 by the request timeout.", float64(st.RequestTimeouts)},
		{"slow_bodies_total", "counter", "Request bodies cut with 408 for arriving slower than MinRequestBodyRate.", float64(st.SlowBodies)},
		{"received_bytes_total", "counter", "Bytes read from connections.", float64(st.BytesIn)},
		{"sent_bytes_total", "counter", "Bytes written to connections.", float64(st.BytesOut)},
		{"draining", "gauge", "1 while the binding drains (its health check answers 503).", draining},
	}
}

// WritePrometheus writes the statistics in Prometheus's text exposition
// format (PrometheusContentType), each metric's name prefixed with prefix
// ("streamhttp_" when empty) and carrying the labels, given as name, value
// pairs (an instance or port, to tell the processes of a fleet apart).
// Totals are counters (ResetStats resets them, which Prometheus reads as a
// restart); the rest are gauges.
func (st Stats) WritePrometheus(w io.Writer, prefix string, labels ...string) error {
	if prefix == "" {
		prefix = "streamhttp_"
	}
	if len(labels)%2 != 0 || !validMetricName(prefix) {
		return errLabels
	}
	var ls strings.Builder
	for i := 0; i < len(labels); i += 2 {
		if !validMetricName(labels[i]) || strings.Contains(labels[i], ":") {
			return errLabels
		}
		if i > 0 {
			ls.WriteByte(',')
		}
		ls.WriteString(labels[i])
		ls.WriteString(`="`)
		ls.WriteString(escapeLabel(labels[i+1]))
		ls.WriteByte('"')
	}
	lbl := ""
	if ls.Len() > 0 {
		lbl = "{" + ls.String() + "}"
	}
	bw := bufio.NewWriter(w)
	for _, m := range st.promMetrics() {
		name := prefix + m.name
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n%s%s %s\n", name, m.help, name, m.typ, name, lbl,
			strconv.FormatFloat(m.value, 'g', -1, 64))
	}
	return bw.Flush()
}

func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// escapeLabel escapes a label value as the text format asks: backslash,
// double quote and line feed.
func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// MetricsHandler answers with the statistics of the request's binding in
// Prometheus's text format (see Stats.WritePrometheus), labelled with the
// binding's address; 404 for a connection served on its own. Route the
// scraper's path to it.
func MetricsHandler(r *Request) *Response {
	b := BindingOf(r.Context())
	if b == nil {
		return httpcore.Text(httpcore.StatusNotFound, "no binding\n")
	}
	var buf bytes.Buffer
	var labels []string
	if addr := b.LocalAddr(); addr != nil {
		labels = []string{"addr", addr.String()}
	}
	b.Stats().WritePrometheus(&buf, "", labels...)
	return &Response{Status: httpcore.StatusOK, Entity: entity.NewStrict(PrometheusContentType, buf.Bytes())}
}
