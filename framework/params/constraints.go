package params

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Constraints are declared beside the parameter, as tags that Decode checks and
// Describe publishes:
//
//	min:"1"      at least 1             max:"1"      at most 1
//	above:"0"    greater than 0         below:"1"    less than 1
//	oneof:"a|b"  one of the strings "a" and "b"
//
// Bounds go on integer and float fields (min:"1" on an int is "a positive integer",
// above:"0" on a float "a positive number"); oneof goes on string fields. On a list,
// a constraint applies to every element. A malformed tag (a bound that is not a
// number of the field's type, min beside above, a lower bound over the upper one) is
// a bug of the plugin: Decode and Describe report it as an error naming the field,
// never panic.
type constraint struct {
	min, max     *float64 // inclusive
	above, below *float64 // exclusive
	text         [4]string
	oneOf        []string
}

const (
	iMin = iota
	iMax
	iAbove
	iBelow
)

var boundTags = [4]string{"min", "max", "above", "below"}

// parseConstraint reads the constraint tags of field f.
func parseConstraint(f reflect.StructField) (constraint, error) {
	var c constraint
	bad := func(format string, args ...any) (constraint, error) {
		return constraint{}, fmt.Errorf("malformed constraint on field %s (a bug of the plugin): %s", f.Name, fmt.Sprintf(format, args...))
	}
	t := f.Type
	if t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	numeric := isInt(t) || isFloat(t)
	ptrs := [4]**float64{&c.min, &c.max, &c.above, &c.below}
	for i, tag := range boundTags {
		s, ok := f.Tag.Lookup(tag)
		if !ok {
			continue
		}
		if !numeric {
			return bad("tag %s:%q on a %s field; bounds need an integer or float", tag, s, typeName(f.Type))
		}
		var v float64
		if isInt(t) {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return bad("tag %s:%q is not an integer", tag, s)
			}
			v = float64(n)
			s = strconv.FormatInt(n, 10)
		} else {
			g, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(g) || math.IsInf(g, 0) {
				return bad("tag %s:%q is not a finite number", tag, s)
			}
			v = g
			s = strconv.FormatFloat(g, 'g', -1, 64)
		}
		*ptrs[i] = &v
		c.text[i] = s
	}
	if c.min != nil && c.above != nil {
		return bad("tags min and above both bound it from below; keep one")
	}
	if c.max != nil && c.below != nil {
		return bad("tags max and below both bound it from above; keep one")
	}
	if lo, hi := c.lower(), c.upper(); lo != nil && hi != nil && (*lo > *hi || *lo == *hi && (c.above != nil || c.below != nil)) {
		return bad("no value satisfies %s", c.describe())
	}
	if s, ok := f.Tag.Lookup("oneof"); ok {
		if t.Kind() != reflect.String {
			return bad("tag oneof:%q on a %s field; oneof needs a string", s, typeName(f.Type))
		}
		seen := map[string]bool{}
		for _, o := range strings.Split(s, "|") {
			if o == "" || seen[o] {
				return bad("tag oneof:%q has an empty or repeated choice", s)
			}
			seen[o] = true
			c.oneOf = append(c.oneOf, o)
		}
	}
	return c, nil
}

func (c constraint) lower() *float64 {
	if c.min != nil {
		return c.min
	}
	return c.above
}

func (c constraint) upper() *float64 {
	if c.max != nil {
		return c.max
	}
	return c.below
}

// describe is the bounds as a phrase: "at least 1", "in (0, 1]".
func (c constraint) describe() string {
	lo, hi := c.lower(), c.upper()
	switch {
	case lo != nil && hi != nil:
		open, close := "[", "]"
		if c.above != nil {
			open = "("
		}
		if c.below != nil {
			close = ")"
		}
		return "in " + open + c.text[c.loIndex()] + ", " + c.text[c.hiIndex()] + close
	case c.min != nil:
		return "at least " + c.text[iMin]
	case c.above != nil:
		return "greater than " + c.text[iAbove]
	case c.max != nil:
		return "at most " + c.text[iMax]
	case c.below != nil:
		return "less than " + c.text[iBelow]
	}
	return ""
}

func (c constraint) loIndex() int {
	if c.min != nil {
		return iMin
	}
	return iAbove
}

func (c constraint) hiIndex() int {
	if c.max != nil {
		return iMax
	}
	return iBelow
}

// check returns what is wrong with v (a field's value), or "".
func (c constraint) check(v reflect.Value) string {
	if v.Kind() == reflect.Slice {
		for i := 0; i < v.Len(); i++ {
			if msg := c.check(v.Index(i)); msg != "" {
				return fmt.Sprintf("element %d: %s", i, msg)
			}
		}
		return ""
	}
	if len(c.oneOf) > 0 {
		s := v.String()
		for _, o := range c.oneOf {
			if s == o {
				return ""
			}
		}
		quoted := make([]string, len(c.oneOf))
		for i, o := range c.oneOf {
			quoted[i] = strconv.Quote(o)
		}
		return fmt.Sprintf("must be one of %s, got %q", strings.Join(quoted, ", "), s)
	}
	var x float64
	switch {
	case isInt(v.Type()):
		x = float64(v.Int())
	case isFloat(v.Type()):
		x = v.Float()
	default:
		return ""
	}
	if (c.min != nil && x < *c.min) || (c.max != nil && x > *c.max) ||
		(c.above != nil && x <= *c.above) || (c.below != nil && x >= *c.below) {
		return fmt.Sprintf("must be %s, got %s", c.describe(), format(v))
	}
	return ""
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

func isFloat(t reflect.Type) bool {
	return t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64
}
