module github.com/streamhttp/streamhttp

go 1.26

require (
	github.com/google/go-cmp v0.7.0
	github.com/reugn/go-streams v0.13.0
)
