//go:build race

package main

// raceEnabled: under the race detector sync.Pool drops a share of what is
// put back on purpose, so pooled buffers are allocated again and
// allocation counts mean nothing.
const raceEnabled = true
