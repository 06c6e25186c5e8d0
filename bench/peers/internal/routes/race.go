//go:build race

package routes

// RaceEnabled reports whether the race detector is on.
const RaceEnabled = true
