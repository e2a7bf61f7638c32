package results

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestAppendRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Kind: KindTrial, Split: "s", Task: "t", Method: "SG-LoRA", Seed: 3, Sample: 1, Metrics: map[string]float64{"i2t_r1": 42.5}, Seconds: 0.25},
		{Kind: KindTrial, Split: "s", Task: "t", Method: "Oracle", Seed: 3, Metrics: map[string]float64{}, Error: "boom", Reference: "oracle"},
		{Kind: KindDiversity, Split: "s", Task: "t", Method: "SG-LoRA top_k=2", Seed: 3, Metrics: map[string]float64{"div_cos": 0.1}, Base: "SG-LoRA", Sweep: map[string]any{"top_k": float64(2)}},
	}
	for _, r := range want {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"error":"boom"`) || strings.Count(string(raw), `"error"`) != 1 {
		t.Fatalf("error field must appear only on the failed row:\n%s", raw)
	}
}

func TestDecodeTornAndBad(t *testing.T) {
	rows, err := Decode(strings.NewReader(`{"split":"a","task":"t","method":"m","seed":1,"sample":0,"metrics":{},"seconds":1}`+"\n"+`{"split":"b","ta`), "j")
	if err != nil || len(rows) != 1 || rows[0].Split != "a" || rows[0].Kind != KindTrial {
		t.Fatalf("torn final line: rows=%+v err=%v", rows, err)
	}
	_, err = Decode(strings.NewReader("{\"split\":\"a\"}\nnot json\n"), "j.jsonl")
	if err == nil || !strings.Contains(err.Error(), "j.jsonl:2") {
		t.Fatalf("bad line must be named: %v", err)
	}
	_, err = Decode(strings.NewReader("{\"spilt\":\"a\"}\n"), "j.jsonl")
	if err == nil || !strings.Contains(err.Error(), "spilt") {
		t.Fatalf("unknown field must be an error: %v", err)
	}
}
