package glove

import (
	"strings"
	"unicode"
)

// Tokenize splits s into lowercase words the way GloVe 6B's vocabulary is spelled:
//
//   - letters and digits make words; every other rune (space, punctuation, symbols)
//     separates them;
//   - a hyphen between two letters or digits stays inside the word ("t-shirt",
//     "x-ray"); Embed falls back to the parts when the compound is unknown;
//   - an apostrophe (' or ’) between two letters or digits is kept only to be
//     resolved: a final "'s" is dropped ("digit's" → "digit"), any other apostrophe is
//     deleted ("don't" → "dont"). The shipped vocabulary has no clitics such as "'s"
//     or "n't", so splitting them off would only add unknown words.
func Tokenize(s string) []string {
	rs := []rune(strings.ToLower(s))
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, resolveApostrophes(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range rs {
		switch {
		case isWordRune(r):
			cur = append(cur, r)
		case (r == '-' || r == '\'' || r == '’') && len(cur) > 0 && isWordRune(rs[i-1]) &&
			i+1 < len(rs) && isWordRune(rs[i+1]):
			if r == '’' {
				r = '\''
			}
			cur = append(cur, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func resolveApostrophes(w string) string {
	if !strings.Contains(w, "'") {
		return w
	}
	w = strings.TrimSuffix(w, "'s")
	return strings.ReplaceAll(w, "'", "")
}
