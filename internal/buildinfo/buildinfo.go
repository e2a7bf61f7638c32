// Package buildinfo says which sglab the running binary is: its module version and the
// git commit it was built from. `runner --version` prints it and every run's manifest
// records it. A binary built by `go build` in a git checkout carries the commit
// (vcs.revision); one built by `go run` or with -buildvcs=false carries none, and then
// the commit is asked of git in a folder the caller names, and said so. When neither
// knows, the commit is empty and Note says why, never silently.
package buildinfo

import (
	"bytes"
	"errors"
	"os/exec"
	"runtime/debug"
	"strings"
)

// Info identifies a build.
type Info struct {
	Version  string // the main module's version, "(devel)" for a build from a checkout
	Commit   string // git commit, "" when unknown
	Modified bool   // the work tree had changes
	// Source says where Commit comes from: "build" (stamped into the binary) or
	// "git in DIR" (the binary has no stamp; the checkout's commit when asked).
	Source string
	// Note says why Commit is empty; "" when it is known.
	Note string
}

// Read returns the running binary's Info; dir is the checkout to ask git in when the
// binary carries no commit ("": none known).
func Read(dir string) Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return fromBuild(bi, dir, gitState)
}

// fromBuild is Read with the build information and git given, for tests.
func fromBuild(bi *debug.BuildInfo, dir string, git func(dir string) (string, bool, error)) Info {
	i := Info{Version: "unknown"}
	if bi != nil {
		i.Version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Commit = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if i.Commit != "" {
		i.Source = "build"
		return i
	}
	why := "the binary was built without VCS info (go run, or -buildvcs=false)"
	if dir == "" {
		i.Note = why + ", and no checkout to ask git in"
		return i
	}
	commit, modified, err := git(dir)
	if err != nil {
		i.Note = why + " and git cannot tell: " + err.Error()
		return i
	}
	i.Commit, i.Modified, i.Source = commit, modified, "git in "+dir
	return i
}

// String is how `runner --version` shows the build: the version, then the commit or
// why it is unknown.
func (i Info) String() string {
	if i.Commit == "" {
		return i.Version + ", commit unknown: " + i.Note
	}
	s := i.Version + ", commit " + i.Commit
	if i.Modified {
		s += " (modified)"
	}
	if i.Source != "build" {
		s += " (from " + i.Source + ": the binary carries no commit)"
	}
	return s
}

// gitState returns the commit checked out in dir and whether its work tree has changes.
func gitState(dir string) (string, bool, error) {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").CombinedOutput()
	if err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if msg == "" {
			msg = err.Error()
		}
		return "", false, errors.New(msg)
	}
	status, err := exec.Command("git", "-C", dir, "status", "--porcelain").Output()
	return strings.TrimSpace(string(out)), err == nil && len(bytes.TrimSpace(status)) > 0, nil
}
