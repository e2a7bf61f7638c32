// Package slurmtest starts a real one-node Slurm cluster for a test: Debian's munged,
// slurmctld and slurmd, on a configuration written in a fresh folder (state, spool, pid
// and log files in it, ports picked free on 127.0.0.1), and stops every daemon it
// started when the test ends, however it ends. It needs root and Debian's slurm-wlm
// and munge, which it installs with apt-get when they are missing. Without them the
// test skips and says what to install; where SGLAB_REQUIRE_SLURM=1 is set (.ci/run
// sets it) it fails instead, so CI can never pass by skipping it.
package slurmtest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/memory"

	"github.com/sglab/sglab/internal/prereq"
)

// Daemons and clients the cluster needs, and the Debian packages providing them.
var (
	binaries = []string{"munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"}
	packages = []string{"slurm-wlm", "munge"}
)

// Cluster is a running one-node cluster.
type Cluster struct {
	Dir  string // its configuration, state, spool, pid and log files
	Conf string // slurm.conf; clients need SLURM_CONF set to it (Start sets it for the test)
	Node string // the node's name: `hostname -s`
}

// Start starts a cluster for t, with SLURM_CONF set for the rest of t (t.Setenv), or
// skips t (fails it, under SGLAB_REQUIRE_SLURM=1) when it cannot.
func Start(t *testing.T) *Cluster {
	t.Helper()
	if err := available(); err != nil {
		unavailable(t, err)
	}
	dir, err := os.MkdirTemp("", "sglab-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	// munged checks that every folder on the way to its socket may be entered by all.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir, Conf: filepath.Join(dir, "slurm.conf")}
	var daemons []*daemon
	t.Cleanup(func() {
		if len(daemons) == 3 {
			// Jobs still running would outlive slurmd (slurmstepd is not its child).
			c.command("scancel", "--full", "--quiet", "--user", "root").Run()
			for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
				if out, err := c.command("squeue", "--noheader").Output(); err != nil || len(bytes.TrimSpace(out)) == 0 {
					break
				}
			}
		}
		for i := len(daemons) - 1; i >= 0; i-- {
			daemons[i].stop()
		}
		if !t.Failed() {
			os.RemoveAll(dir)
		} else {
			t.Logf("the cluster's files (logs included) are kept in %s", dir)
		}
	})
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	c.Node, _, _ = strings.Cut(host, ".")

	socket, err := startMunge(t, dir, &daemons)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"state", "spool"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mem := memory.Physical() >> 20 * 9 / 10 // MiB, below what slurmd finds, or it drains the node
	conf := fmt.Sprintf(`ClusterName=sglabtest
SlurmctldHost=%[1]s(127.0.0.1)
SlurmctldPort=%[2]d
SlurmdPort=%[3]d
AuthType=auth/munge
AuthInfo=socket=%[4]s
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=%[5]s/state
SlurmdSpoolDir=%[5]s/spool
SlurmctldPidFile=%[5]s/slurmctld.pid
SlurmdPidFile=%[5]s/slurmd.pid
SlurmctldLogFile=%[5]s/slurmctld.log
SlurmdLogFile=%[5]s/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SwitchType=switch/none
NodeName=%[1]s NodeAddr=127.0.0.1 CPUs=%[6]d RealMemory=%[7]d State=UNKNOWN
PartitionName=debug Nodes=%[1]s Default=YES MaxTime=INFINITE State=UP
`, c.Node, ports[0], ports[1], socket, dir, runtime.NumCPU(), mem)
	if err := os.WriteFile(c.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLURM_CONF", c.Conf)
	for _, d := range []string{"slurmctld", "slurmd"} {
		dm, err := start(c.command(d, "-D", "-f", c.Conf)) // they log to their files
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		daemons = append(daemons, dm)
	}
	if err := c.waitIdle(30 * time.Second); err != nil {
		t.Fatalf("%v\nslurmctld.log:\n%s\nslurmd.log:\n%s", err, tail(filepath.Join(dir, "slurmctld.log")), tail(filepath.Join(dir, "slurmd.log")))
	}
	return c
}

// available checks for root and the binaries, installing the packages when they are
// missing and apt-get is there.
func available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("starting slurmd and munged needs root")
	}
	if missing() == nil {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err == nil {
		cmd := exec.Command("sh", "-c", "apt-get update -qq && apt-get install -y -qq "+strings.Join(packages, " "))
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get install %s: %v: %s", strings.Join(packages, " "), err, lastLines(out))
		}
	}
	if m := missing(); m != nil {
		return fmt.Errorf("not on PATH: %s", strings.Join(m, ", "))
	}
	return nil
}

func missing() []string {
	var m []string
	for _, b := range binaries {
		if _, err := exec.LookPath(b); err != nil {
			m = append(m, b)
		}
	}
	return m
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	prereq.Missing(t, "SGLAB_REQUIRE_SLURM", fmt.Sprintf("a local Slurm cluster needs root and Debian's %s (apt-get install %s): %v", strings.Join(packages, " and "), strings.Join(packages, " "), err))
}

// startMunge writes a fresh key and starts munged as the munge user on a socket in
// dir/munge; it returns the socket's path.
func startMunge(t *testing.T, dir string, daemons *[]*daemon) (string, error) {
	u, err := user.Lookup("munge")
	if err != nil {
		return "", fmt.Errorf("the munge user (from Debian's munge package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	md := filepath.Join(dir, "munge")
	if err := os.Mkdir(md, 0o755); err != nil {
		return "", err
	}
	key := make([]byte, 128)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	keyFile := filepath.Join(md, "munge.key")
	if err := os.WriteFile(keyFile, key, 0o400); err != nil {
		return "", err
	}
	for _, p := range []string{md, keyFile} {
		if err := os.Chown(p, uid, gid); err != nil {
			return "", err
		}
	}
	socket := filepath.Join(md, "munge.sock")
	cmd := exec.Command("munged", "--foreground", "--socket", socket, "--key-file", keyFile,
		"--log-file", filepath.Join(md, "munged.log"), "--pid-file", filepath.Join(md, "munged.pid"), "--seed-file", filepath.Join(md, "munged.seed"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dm, err := start(cmd)
	if err != nil {
		return "", fmt.Errorf("munged: %w", err)
	}
	*daemons = append(*daemons, dm)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		select {
		case <-dm.exited:
			return "", fmt.Errorf("munged exited: %s\n%s", stderr.String(), tail(filepath.Join(md, "munged.log")))
		default:
		}
		if _, err := os.Stat(socket); err == nil {
			return socket, nil
		}
	}
	return "", fmt.Errorf("munged made no socket in 10 s:\n%s", tail(filepath.Join(md, "munged.log")))
}

// daemon is a started daemon process; exited closes when it has ended.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func start(cmd *exec.Cmd) (*daemon, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(d.exited) }()
	return d, nil
}

// stop ends a daemon: SIGTERM, then SIGKILL if it is still there after 10 s.
func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
}

// command is a Slurm command for this cluster.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "SLURM_CONF="+c.Conf)
	return cmd
}

// waitIdle waits until the node is idle: the controller and the node daemon talk.
func (c *Cluster) waitIdle(d time.Duration) error {
	var last string
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		out, err := c.command("sinfo", "--noheader", "--format", "%t").CombinedOutput()
		last = strings.TrimSpace(string(out))
		if err == nil && last == "idle" {
			return nil
		}
	}
	return fmt.Errorf("the node is not idle after %s (sinfo: %q)", d, last)
}

// freePorts picks n TCP ports free on 127.0.0.1 now.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	return lastLines(data)
}

func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
