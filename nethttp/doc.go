// Package nethttp adapts between net/http and streamhttp, both ways.
//
// TODO: manual.
package nethttp
