package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamhttp/streamhttp"
)

// statsCollector exposes a binding's statistics (ServerBinding.Stats) as
// Prometheus metrics, read at each scrape: no counter is kept twice.
type statsCollector struct {
	stats func() (streamhttp.Stats, bool)
	descs []statDesc
}

type statDesc struct {
	d     *prometheus.Desc
	kind  prometheus.ValueType
	value func(streamhttp.Stats) float64
}

func newStatsCollector(stats func() (streamhttp.Stats, bool)) *statsCollector {
	def := func(name, help string, kind prometheus.ValueType, value func(streamhttp.Stats) float64) statDesc {
		return statDesc{prometheus.NewDesc("streamhttp_"+name, help, nil, nil), kind, value}
	}
	return &statsCollector{stats: stats, descs: []statDesc{
		def("requests_total", "Requests handed to handlers.", prometheus.CounterValue, func(s streamhttp.Stats) float64 { return float64(s.TotalRequests) }),
		def("open_requests", "Requests handed out whose response is not yet written.", prometheus.GaugeValue, func(s streamhttp.Stats) float64 { return float64(s.OpenRequests) }),
		def("connections_total", "Connections served.", prometheus.CounterValue, func(s streamhttp.Stats) float64 { return float64(s.TotalConnections) }),
		def("open_connections", "Connections open now.", prometheus.GaugeValue, func(s streamhttp.Stats) float64 { return float64(s.OpenConnections) }),
		def("parked_connections", "Open idle connections parked (no goroutine).", prometheus.GaugeValue, func(s streamhttp.Stats) float64 { return float64(s.ParkedConnections) }),
		def("request_timeouts_total", "Requests answered 503 by the request timeout.", prometheus.CounterValue, func(s streamhttp.Stats) float64 { return float64(s.RequestTimeouts) }),
		def("bytes_in_total", "Bytes read from connections.", prometheus.CounterValue, func(s streamhttp.Stats) float64 { return float64(s.BytesIn) }),
		def("bytes_out_total", "Bytes written to connections.", prometheus.CounterValue, func(s streamhttp.Stats) float64 { return float64(s.BytesOut) }),
		def("uptime_seconds", "Time since the socket was bound.", prometheus.GaugeValue, func(s streamhttp.Stats) float64 { return s.Uptime.Seconds() }),
	}}
}

// Describe sends the descriptions of every metric.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.d
	}
}

// Collect sends the current values; nothing before the binding exists.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := c.stats()
	if !ok {
		return
	}
	for _, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d.d, d.kind, d.value(s))
	}
}
