//go:build !unix

package driver

import "os"

// tryLock does not lock where flock is missing: concurrent runs into one folder are
// not detected there.
func tryLock(*os.File, bool) (bool, error) { return true, nil }

func unlock(*os.File) {}
