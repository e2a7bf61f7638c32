package results

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
)

// Merge joins the journals at paths (the shards of a run written on several machines,
// and the folder's own journal) into one list of rows, one per trial identity: the
// row's Key and Identity. The same trial in several files is kept once when the files
// agree on its metrics, and is an error naming the trial and the files when they do
// not, since one of them is wrong and nothing says which. A failed row is kept only
// when no file finished its trial. Two identities for one Key (rows of two
// configurations) are an error too: a rerun with the current configuration moves the
// stale ones to SupersededFile. Missing files are skipped; the rows come out sorted by
// Key.
func Merge(paths []string) ([]Row, error) {
	type seen struct {
		row  Row
		file string
	}
	ok := map[string]seen{}     // by Key: the finished row
	failed := map[string]seen{} // by Key: a failed row
	var errs []error
	for _, p := range paths {
		rows, err := Read(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			k := row.Key()
			if row.Error != "" {
				if _, done := failed[k]; !done {
					failed[k] = seen{row, p}
				}
				continue
			}
			prev, dup := ok[k]
			if !dup {
				ok[k] = seen{row, p}
				continue
			}
			switch {
			case !maps.Equal(prev.row.Identity, row.Identity):
				errs = append(errs, fmt.Errorf("%s: rows of two configurations, identity %s in %s and %s in %s; rerun with the current configuration, which moves the stale rows to %s",
					describe(row), identity(prev.row), prev.file, identity(row), p, SupersededFile))
			case !sameMetrics(prev.row.Metrics, row.Metrics):
				errs = append(errs, fmt.Errorf("%s (identity %s): conflicting numbers, %s in %s and %s in %s; one of them is wrong, delete the trial's row from the wrong file and merge again",
					describe(row), identity(row), metricText(prev.row.Metrics), prev.file, metricText(row.Metrics), p))
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("results: cannot merge %d journals:\n%w", len(paths), errors.Join(errs...))
	}
	out := make([]Row, 0, len(ok)+len(failed))
	for _, s := range ok {
		out = append(out, s.row)
	}
	for k, s := range failed {
		if _, done := ok[k]; !done {
			out = append(out, s.row)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, nil
}

// describe names a row's trial for errors.
func describe(r Row) string {
	return fmt.Sprintf("%s row of split %s, task %s, method %s, seed %d, sample %d", r.Kind, r.Split, r.Task, r.Method, r.Seed, r.Sample)
}

// identity writes a row's identity digests in a stable order.
func identity(r Row) string {
	if len(r.Identity) == 0 {
		return "(none recorded)"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.Identity)) {
		parts = append(parts, k+"="+r.Identity[k])
	}
	return strings.Join(parts, ",")
}

// sameMetrics compares two rows' numbers bit for bit (NaN equal to NaN): the same trial
// computed twice gives the same bits.
func sameMetrics(a, b map[string]float64) bool {
	return maps.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

func metricText(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}
