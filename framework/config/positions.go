package config

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// keyPath names a key the way errors show it: dotted keys, with the index of an array
// element or of a [[table]] in brackets, counted from 0: "method[2].params.top_k".
type keyPath string

func (p keyPath) key(k string) keyPath {
	seg := k
	if !isBareKey(k) {
		seg = strconv.Quote(k)
	}
	if p == "" {
		return keyPath(seg)
	}
	return p + "." + keyPath(seg)
}

func (p keyPath) index(i int) keyPath { return p + keyPath("["+strconv.Itoa(i)+"]") }

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// positions maps key paths to the line (from 1) where the key, table or array element
// first appears.
//
// toml.MetaData keeps no positions, so the text is scanned here. The scanner runs only on
// text the toml package has already accepted; it tracks [table] and [[array]] headers,
// dotted keys, quoted keys, inline tables and arrays (over several lines too), and skips
// the insides of strings and comments.
type positions map[keyPath]int

// line returns the line of p, or of its nearest recorded parent, or 0.
func (ps positions) line(p keyPath) int {
	for {
		if n, ok := ps[p]; ok {
			return n
		}
		parent, ok := parentPath(p)
		if !ok {
			return 0
		}
		p = parent
	}
}

// parentPath strips the last key or index from p.
func parentPath(p keyPath) (keyPath, bool) {
	s := string(p)
	if s == "" {
		return "", false
	}
	cut, inQuote := -1, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (c == '.' || c == '['):
			cut = i
		}
	}
	if cut <= 0 {
		return "", true
	}
	return keyPath(s[:cut]), true
}

type scanner struct {
	src      string
	i        int
	newlines []int // offsets of '\n', for turning offsets into lines
	pos      positions
	arrays   map[keyPath]int // [[table]] occurrences seen so far, per array path
}

func scanPositions(src string) positions {
	s := &scanner{src: src, pos: positions{}, arrays: map[keyPath]int{}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	if strings.HasPrefix(src, "\ufeff") {
		s.i = len("\ufeff")
	}
	var table keyPath
	for {
		s.skipSpace(true)
		if s.eof() {
			return s.pos
		}
		start := s.i
		if s.peek() == '[' {
			table = s.header()
		} else {
			s.keyValue(table)
		}
		if s.i == start { // not TOML we understand; move on rather than loop
			s.i++
		}
	}
}

func (s *scanner) eof() bool  { return s.i >= len(s.src) }
func (s *scanner) peek() byte { return s.src[s.i] }

func (s *scanner) record(p keyPath, offset int) {
	if _, ok := s.pos[p]; ok {
		return
	}
	s.pos[p] = 1 + sort.SearchInts(s.newlines, offset)
}

// skipSpace skips blanks and, if newlines is set, line ends and comments as well.
// Without newlines it still skips a trailing comment up to (not including) the line end.
func (s *scanner) skipSpace(newlines bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case c == '\n' && newlines:
			s.i++
		case c == '#':
			for !s.eof() && s.peek() != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

// header reads "[a.b]" or "[[a.b]]" and returns the path of the table it opens.
func (s *scanner) header() keyPath {
	start := s.i
	s.i++
	array := !s.eof() && s.peek() == '['
	if array {
		s.i++
	}
	keys := s.keys()
	for !s.eof() && (s.peek() == ']' || s.peek() == ' ' || s.peek() == '\t') {
		s.i++
	}
	var p keyPath
	for j, k := range keys {
		p = p.key(k)
		if array && j == len(keys)-1 {
			s.record(p, start)
			n := s.arrays[p]
			s.arrays[p] = n + 1
			p = p.index(n)
		} else if n := s.arrays[p]; n > 0 {
			p = p.index(n - 1)
		}
		s.record(p, start)
	}
	return p
}

// keyValue reads "a.b = value" inside table.
func (s *scanner) keyValue(table keyPath) {
	start := s.i
	keys := s.keys()
	p := table
	for _, k := range keys {
		p = p.key(k)
		s.record(p, start)
	}
	s.skipSpace(false)
	if s.eof() || s.peek() != '=' {
		return
	}
	s.i++
	s.skipSpace(false)
	s.value(p)
}

// keys reads a possibly dotted, possibly quoted key.
func (s *scanner) keys() []string {
	var out []string
	for {
		s.skipSpace(false)
		if s.eof() {
			return out
		}
		var k string
		switch s.peek() {
		case '"':
			k = s.basicString()
		case '\'':
			k = s.literalString()
		default:
			begin := s.i
			for !s.eof() && isBareKey(s.src[s.i:s.i+1]) {
				s.i++
			}
			if s.i == begin {
				return out
			}
			k = s.src[begin:s.i]
		}
		out = append(out, k)
		s.skipSpace(false)
		if s.eof() || s.peek() != '.' {
			return out
		}
		s.i++
	}
}

// value skips one value, recording the keys of inline tables and the elements of arrays
// under p.
func (s *scanner) value(p keyPath) {
	if s.eof() {
		return
	}
	rest := s.src[s.i:]
	switch {
	case strings.HasPrefix(rest, `"""`):
		s.multiline(`"`, true)
	case strings.HasPrefix(rest, `'''`):
		s.multiline(`'`, false)
	case rest[0] == '"':
		s.basicString()
	case rest[0] == '\'':
		s.literalString()
	case rest[0] == '[':
		s.i++
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.peek() == ']' {
				s.i++
				return
			}
			start := s.i
			s.record(p.index(n), start)
			s.value(p.index(n))
			s.skipSpace(true)
			if !s.eof() && s.peek() == ',' {
				s.i++
			} else if s.i == start {
				s.i++
			}
		}
	case rest[0] == '{':
		s.i++
		for {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.peek() == '}' {
				s.i++
				return
			}
			start := s.i
			s.keyValue(p)
			s.skipSpace(true)
			if !s.eof() && s.peek() == ',' {
				s.i++
			} else if s.i == start {
				s.i++
			}
		}
	default: // number, boolean, date-time (which may hold a space)
		for !s.eof() && !strings.ContainsRune(",]}\n#", rune(s.peek())) {
			s.i++
		}
	}
}

// multiline skips a multi-line string (opened by three quote characters); the closing
// three may be preceded by up to two more that belong to the content.
func (s *scanner) multiline(quote string, escapes bool) {
	s.i += 3
	for !s.eof() {
		c := s.peek()
		if escapes && c == '\\' {
			s.i += 2
			continue
		}
		if c == quote[0] {
			run := 0
			for !s.eof() && s.peek() == quote[0] {
				run++
				s.i++
			}
			if run >= 3 {
				return
			}
			continue
		}
		s.i++
	}
}

// basicString reads a one-line "..." string and returns its value.
func (s *scanner) basicString() string {
	s.i++
	var b strings.Builder
	for !s.eof() {
		c := s.peek()
		switch {
		case c == '"':
			s.i++
			return b.String()
		case c == '\n':
			return b.String()
		case c == '\\' && s.i+1 < len(s.src):
			s.i++
			e := s.peek()
			s.i++
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'f':
				b.WriteByte('\f')
			case 'r':
				b.WriteByte('\r')
			case 'e':
				b.WriteByte(0x1b)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if s.i+n <= len(s.src) {
					if r, err := strconv.ParseUint(s.src[s.i:s.i+n], 16, 32); err == nil && utf8.ValidRune(rune(r)) {
						b.WriteRune(rune(r))
					}
					s.i += n
				}
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			s.i++
		}
	}
	return b.String()
}

// literalString reads a one-line '...' string and returns its value.
func (s *scanner) literalString() string {
	s.i++
	begin := s.i
	for !s.eof() && s.peek() != '\'' && s.peek() != '\n' {
		s.i++
	}
	v := s.src[begin:s.i]
	if !s.eof() && s.peek() == '\'' {
		s.i++
	}
	return v
}
