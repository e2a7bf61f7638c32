package builtin

import (
	"context"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
)

// TestBuiltinsLogThroughServe: every built-in takes the logger rpc.Serve hands it, so
// its logs reach the runner's; and it is the kind it is registered as.
func TestBuiltinsLogThroughServe(t *testing.T) {
	for _, e := range All() {
		p := e.New()
		if _, ok := p.(plugin.LoggerSetter); !ok {
			t.Errorf("%s/%s has no SetLogger: its logs would not reach the runner", e.Kind, e.Name)
		}
		info, err := p.Info(context.Background())
		if err != nil {
			t.Errorf("%s/%s: Info: %v", e.Kind, e.Name, err)
			continue
		}
		if info.Kind != e.Kind {
			t.Errorf("%s/%s says it is a %q plugin", e.Kind, e.Name, info.Kind)
		}
	}
}
