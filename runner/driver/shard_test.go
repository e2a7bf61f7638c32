package driver

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/results"
)

// TestShardsEqualWholeRun: the experts a shard plan lists, trained one by one, and the
// shards run side by side give, merged, the rows of one whole run; planned again, the
// folder has nothing left to do.
func TestShardsEqualWholeRun(t *testing.T) {
	exp := load(t, experiment)
	whole := runToy(t, exp, t.TempDir(), 2)

	out, cache := t.TempDir(), t.TempDir()
	host := &rpc.Host{}
	defer host.KillAll()
	opt := Options{Out: out, Cache: cache, Jobs: 2, Host: host, Spec: testSpec, StartTimeout: 20 * time.Second}
	ctx := context.Background()
	p, err := PrepareShards(ctx, exp, opt, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Seen a and bb, and the oracles of ccc and dddd, for each of the two seeds.
	if len(p.Experts) != 8 || len(p.Shards) != 2 || len(p.Shards[0].Units) != 3 || len(p.Shards[1].Units) != 3 {
		t.Fatalf("plan: %d experts, shards %+v", len(p.Experts), p.Shards)
	}
	for _, e := range p.Experts {
		path, err := TrainExpert(ctx, exp, opt, e.Task, e.Seed, e.Method)
		if err != nil || path != e.Path {
			t.Fatalf("expert %+v: %s, %v", e, path, err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(p.Shards))
	for i := range p.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opt
			o.Shard = &Shard{Index: i, Count: len(p.Shards)}
			_, errs[i] = Run(ctx, exp, o)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	merged, err := results.Merge(Journals(out))
	if err != nil {
		t.Fatal(err)
	}
	// The shards' manifests say what the evaluator's metrics are, for the report.
	if ms, found, err := results.ReadMetrics(out); err != nil || !found || ms.Primary().Name != "score" {
		t.Errorf("metrics of the shards' folder: %v (found %v), %v; want the fake evaluator's, score first", ms.Names(), found, err)
	}
	want := map[string]results.Row{}
	for _, r := range whole.Rows {
		want[r.Key()] = r
	}
	if len(merged) != len(want) {
		t.Fatalf("%d merged rows, %d in the whole run", len(merged), len(want))
	}
	for _, r := range merged {
		w, ok := want[r.Key()]
		switch {
		case !ok:
			t.Errorf("merged row %q is not in the whole run", r.Key())
		case !maps.Equal(r.Metrics, w.Metrics) || !maps.Equal(r.Identity, w.Identity) || (r.Error == "") != (w.Error == ""):
			t.Errorf("%q: merged %v %v %q, whole %v %v %q", r.Key(), r.Metrics, r.Identity, r.Error, w.Metrics, w.Identity, w.Error)
		}
	}

	again, err := PrepareShards(ctx, exp, opt, 2)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0 // the generator crashes on dddd: its trials stay to do
	for _, r := range merged {
		if r.Kind == results.KindTrial && r.Error != "" {
			failed++
		}
	}
	left := 0
	for _, s := range again.Shards {
		left += len(s.Trials) - s.Done
	}
	if len(again.Experts) != 0 || left != failed || failed == 0 {
		t.Fatalf("planned again: %d experts, %d trials left; %d failed", len(again.Experts), left, failed)
	}

	// A whole run into the folder starts from the shards' merged rows: only the failed
	// trials run again.
	sum, err := Run(ctx, exp, opt)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Ran != failed || len(sum.Rows) != len(merged) {
		t.Fatalf("the whole run after the shards ran %d trials (want the %d failed) and holds %d rows (want %d)", sum.Ran, failed, len(sum.Rows), len(merged))
	}
}

// TestShardLocks: shards share the output folder, a shard excludes its own copies,
// and a whole run excludes the shards and the shards a whole run.
func TestShardLocks(t *testing.T) {
	dir := t.TempDir()
	r0, err := lockShard(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := lockShard(dir, 1)
	if err != nil {
		t.Fatalf("a second shard: %v", err)
	}
	if _, err := lockShard(dir, 0); err == nil || !strings.Contains(err.Error(), "trials-0.lock") {
		t.Fatalf("a second copy of shard 0: %v", err)
	}
	if _, err := lockOutput(dir); err == nil || !strings.Contains(err.Error(), "runner status") {
		t.Fatalf("a whole run beside the shards: %v", err)
	}
	r0()
	r1()
	whole, err := lockOutput(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer whole()
	if _, err := lockShard(dir, 0); err == nil || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("a shard beside a whole run: %v", err)
	}
}
