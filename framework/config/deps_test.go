package config

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoTransport: reading configuration needs the plugin contract, not its transport;
// this package and the contract (framework/plugin) must not pull in gRPC or go-plugin.
func TestNoTransport(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, pkg := range []string{".", "../plugin"} {
		out, err := exec.Command(goTool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		var transport []string
		for _, dep := range strings.Fields(string(out)) {
			if strings.Contains(dep, "google.golang.org/grpc") || strings.Contains(dep, "hashicorp/go-plugin") {
				transport = append(transport, dep)
			}
		}
		if len(transport) > 0 {
			t.Errorf("%s depends on %d transport packages: %s", pkg, len(transport), strings.Join(transport, " "))
		}
	}
}
