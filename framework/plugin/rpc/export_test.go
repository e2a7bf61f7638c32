package rpc

// What the external tests (package rpc_test, which uses framework/plugintest and so
// cannot be package rpc) need of the package's insides.

// KillGrace is killGrace.
const KillGrace = killGrace

// Pid is the process id of a plugin the Host started.
func Pid(c *Client) int { return c.proc.(*child).cmd.Process.Pid }
