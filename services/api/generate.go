// Package api holds the .proto sources of shoplab's gRPC services and the
// code buf generates from them into package shoplabv1.
package api

//go:generate go tool buf generate
