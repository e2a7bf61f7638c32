package task

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseTransform(t *testing.T) {
	cases := []struct {
		in   string
		want Transform
	}{
		{"flip_h", Transform{Name: "flip_h"}},
		{"flip_h()", Transform{Name: "flip_h"}},
		{"  flip_h ( )  ", Transform{Name: "flip_h"}},
		{"rotate(45)", Transform{Name: "rotate", Args: []float64{45}}},
		{"rotate(-30.5)", Transform{Name: "rotate", Args: []float64{-30.5}}},
		{"motion_blur(5, 0)", Transform{Name: "motion_blur", Args: []float64{5, 0}}},
		{" motion_blur ( 5 ,0 ) ", Transform{Name: "motion_blur", Args: []float64{5, 0}}},
		{"noise(1e-3)", Transform{Name: "noise", Args: []float64{0.001}}},
		{"Crop2(1,2,3,4)", Transform{Name: "Crop2", Args: []float64{1, 2, 3, 4}}},
	}
	for _, c := range cases {
		got, err := ParseTransform(c.in)
		if err != nil {
			t.Errorf("ParseTransform(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseTransform(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}
}

func TestParseTransformErrors(t *testing.T) {
	cases := []struct {
		in, msg string
	}{
		{"", "has no name"},
		{"   ", "has no name"},
		{"(45)", "has no name"},
		{"rot ate(45)", "may hold only letters, digits and _"},
		{"rotate-left(45)", "may hold only letters, digits and _"},
		{"rotate(45", "missing closing parenthesis"},
		{"rotate(45)x", "missing closing parenthesis"},
		{"rotate(a)", `argument "a" is not a number`},
		{"rotate(1,,2)", `argument "" is not a number`},
		{"rotate(1,)", `argument "" is not a number`},
		{"rotate(nan)", `argument "nan" is not a number`},
		{"rotate(-Inf)", `argument "-Inf" is not a number`},
		{"rotate(1))", `argument "1)" is not a number`},
	}
	for _, c := range cases {
		_, err := ParseTransform(c.in)
		if err == nil {
			t.Errorf("ParseTransform(%q) succeeded, want an error", c.in)
			continue
		}
		if !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), strconv.Quote(strings.TrimSpace(c.in))) {
			t.Errorf("ParseTransform(%q) = %q, want it to quote the trimmed input and say %q", c.in, err, c.msg)
		}
	}
}

// TestTransformRoundTrip checks that String writes what ParseTransform reads back.
func TestTransformRoundTrip(t *testing.T) {
	for _, tr := range []Transform{
		{Name: "flip_h"},
		{Name: "rotate", Args: []float64{45}},
		{Name: "blur", Args: []float64{0.1, -2, 1e-9, 12345.678}},
		{Name: "x", Args: []float64{math.MaxFloat64, math.SmallestNonzeroFloat64}},
	} {
		s := tr.String()
		got, err := ParseTransform(s)
		if err != nil {
			t.Errorf("ParseTransform(%q): %v", s, err)
			continue
		}
		if !reflect.DeepEqual(got, tr) {
			t.Errorf("round trip of %#v through %q gave %#v", tr, s, got)
		}
	}
	if got := (Transform{Name: "motion_blur", Args: []float64{5, 0}}).String(); got != "motion_blur(5, 0)" {
		t.Errorf("String() = %q", got)
	}
}
