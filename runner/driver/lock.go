package driver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockFile, inside an output folder, is held (flock) by the run writing there, so a
// second run into the same folder fails at once instead of writing every row twice.
// The kernel drops the lock when its holder exits, however it exits, so a killed run
// leaves no stale lock behind; the file's text only says who holds it.
const LockFile = ".lock"

// lockOutput takes the output folder's lock or fails naming its holder. The returned
// func releases it.
func lockOutput(dir string) (func(), error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("output folder lock: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("output folder lock %s: %w", path, err)
	}
	if !held {
		holder, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another process"
		}
		return nil, fmt.Errorf("output folder %s is in use by %s; wait for that run to end or write elsewhere (--out)", dir, who)
	}
	host, _ := os.Hostname()
	me := fmt.Sprintf("pid %d on host %s, started %s (%s)\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339), strings.Join(os.Args, " "))
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(me), 0)
	}
	return func() {
		f.Truncate(0)
		unlock(f)
		f.Close()
	}, nil
}
