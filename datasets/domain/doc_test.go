package domain

import (
	"os"
	"strings"
	"testing"
)

// docTable is the transform list the package doc must show.
func docTable() string {
	var b strings.Builder
	for _, in := range Describe() {
		b.WriteString("//\t" + in.Signature() + "\n//\t    " + in.Doc + "\n")
	}
	return b.String()
}

func TestDocListsTransforms(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	if want := docTable(); !strings.Contains(string(src), want) {
		t.Errorf("doc.go does not list the transforms as the catalog has them; paste this block:\n%s", want)
	}
}
