//go:build !unix

package agent

import "os"

// flock is a no-op where flock(2) does not exist.
func flock(*os.File) error { return nil }
