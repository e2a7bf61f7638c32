package buildinfo

import (
	"errors"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuild(t *testing.T) {
	stamped := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	unstamped := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
	gitOK := func(string) (string, bool, error) { return "def456", false, nil }
	gitFails := func(string) (string, bool, error) { return "", false, errors.New("fatal: not a git repository") }
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		dir  string
		git  func(string) (string, bool, error)
		want Info
		show []string // parts of String
	}{
		{"stamped", stamped, "/src", gitFails, Info{Version: "v1.2.3", Commit: "abc123", Modified: true, Source: "build"},
			[]string{"v1.2.3", "commit abc123 (modified)"}},
		{"go run in a checkout", unstamped, "/src", gitOK, Info{Version: "(devel)", Commit: "def456", Source: "git in /src"},
			[]string{"commit def456", "from git in /src"}},
		{"go run outside git", unstamped, "/src", gitFails,
			Info{Version: "(devel)", Note: "the binary was built without VCS info (go run, or -buildvcs=false) and git cannot tell: fatal: not a git repository"},
			[]string{"commit unknown: ", "not a git repository"}},
		{"nowhere to ask", unstamped, "", gitOK, Info{Version: "(devel)", Note: "the binary was built without VCS info (go run, or -buildvcs=false), and no checkout to ask git in"},
			[]string{"commit unknown"}},
		{"no build info", nil, "", gitOK, Info{Version: "unknown", Note: "the binary was built without VCS info (go run, or -buildvcs=false), and no checkout to ask git in"},
			[]string{"unknown, commit unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fromBuild(tc.bi, tc.dir, tc.git)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			for _, s := range tc.show {
				if !strings.Contains(got.String(), s) {
					t.Errorf("%q lacks %q", got.String(), s)
				}
			}
		})
	}
}
