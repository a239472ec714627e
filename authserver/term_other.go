//go:build !linux

package main

import (
	"errors"
	"os"
)

// disableEcho is only implemented on Linux; elsewhere the password is read
// from stdin without a prompt.
func disableEcho(*os.File) (func(), error) {
	return nil, errors.New("no terminal support")
}
