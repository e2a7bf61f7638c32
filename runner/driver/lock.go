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
// The shards of a sharded run (Shard) hold it shared, so they work side by side while
// a whole run still excludes them all, and each holds its own shard's lock file
// (ShardDir/trials-K.lock) alone. The kernel drops a lock when its holder exits,
// however it exits, so a killed run leaves no stale lock behind; a file's text only
// says who holds it. (On NFS, Linux emulates flock with the server's byte-range locks.)
const LockFile = ".lock"

// lockOutput takes the output folder's lock or fails naming its holder. The returned
// func releases it.
func lockOutput(dir string) (func(), error) {
	return lockFile(dir, filepath.Join(dir, LockFile), true)
}

// lockShard takes the output folder's lock shared and shard index's lock alone.
func lockShard(dir string, index int) (func(), error) {
	release, err := lockFile(dir, filepath.Join(dir, LockFile), false)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, ShardDir), 0o755); err != nil {
		release()
		return nil, fmt.Errorf("output folder: %w", err)
	}
	own, err := lockFile(dir, filepath.Join(dir, ShardDir, fmt.Sprintf("trials-%d.lock", index)), true)
	if err != nil {
		release()
		return nil, err
	}
	return func() { own(); release() }, nil
}

// lockFile takes the lock at path, alone or shared, for the output folder dir. Only a
// lock held alone writes who holds it into the file.
func lockFile(dir, path string, alone bool) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("output folder lock: %w", err)
	}
	held, err := tryLock(f, alone)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("output folder lock %s: %w", path, err)
	}
	if !held {
		holder, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another process (the shards of a sharded run hold it together: runner status " + dir + ")"
		}
		what := "output folder " + dir
		if filepath.Dir(path) != filepath.Clean(dir) {
			what = "shard lock " + path
		}
		return nil, fmt.Errorf("%s is in use by %s; wait for that run to end or write elsewhere (--out)", what, who)
	}
	if !alone {
		return func() { unlock(f); f.Close() }, nil
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
