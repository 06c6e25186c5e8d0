package httpcore

import "flag"

// update makes the golden-file tests of this package rewrite their files
// under testdata/golden instead of comparing: go test -run Golden -update.
var update = flag.Bool("update", false, "rewrite golden files")
