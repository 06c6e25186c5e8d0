module github.com/streamhttp/streamhttp

go 1.26.0

require (
	github.com/google/go-cmp v0.7.0
	github.com/reugn/go-streams v0.13.0
)

require (
	golang.org/x/net v0.63.0
	golang.org/x/text v0.44.0 // indirect
)
