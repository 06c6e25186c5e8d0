//go:build race

package h1

// raceEnabled: under the race detector sync.Pool drops some of the items
// put into it, so recycled objects are sometimes allocated anew.
const raceEnabled = true
