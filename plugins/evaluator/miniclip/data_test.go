package miniclip

import "testing"

func TestLRUEvictsLeastRecent(t *testing.T) {
	c := newLRU(2)
	c.put("a", 1)
	c.put("b", 2)
	if v, ok := c.get("a"); !ok || v != 1 { // a is now the most recent
		t.Fatalf("get(a) = %v, %v", v, ok)
	}
	c.put("c", 3) // evicts b
	if _, ok := c.get("b"); ok {
		t.Error("b survived; it was the least recently used")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	c.put("c", 4)
	if v, _ := c.get("c"); v != 4 {
		t.Errorf("update lost: %v", v)
	}
}

// TestDeriveSeparatesStreams: every input of derive changes its output, and the task key
// depends on the dataset and the domain but not on the id or description.
func TestDeriveSeparatesStreams(t *testing.T) {
	base := derive("digits|invert", 1, "test/select")
	for name, other := range map[string]uint64{
		"key":     derive("digits|rotate(90)", 1, "test/select"),
		"seed":    derive("digits|invert", 2, "test/select"),
		"purpose": derive("digits|invert", 1, "train/select"),
	} {
		if other == base {
			t.Errorf("changing the %s did not change the derived seed", name)
		}
	}
	a := mustTask(t, "x", "digits", "rotate(90)", "invert")
	b := mustTask(t, "y", "digits", "rotate(90)", "invert")
	b.Description = "something else"
	c := mustTask(t, "x", "digits", "invert", "rotate(90)")
	if taskKey(a) != taskKey(b) || taskKey(a) == taskKey(c) {
		t.Errorf("task keys %q %q %q", taskKey(a), taskKey(b), taskKey(c))
	}
}
