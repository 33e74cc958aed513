package filter

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Pattern is a compiled schema or table name pattern, shared by the
// block-allow list, the binlog event filter and the router so that every rule
// kind accepts the same syntax.
//
// A pattern is either a DM wildcard or, when prefixed with `~`, a Go regular
// expression (unanchored, like DM). Wildcards: `*` matches any run of
// characters (including none) and must be the last character; `?` matches
// exactly one character; `[abc]`, `[a-z]` and `[!0-9]` are character classes.
// A `[` without a closing `]` or an empty class `[]` is an error (DM reads the
// first as a literal `[`, which hides typos; write `[[]` for a literal `[`).
// Everything else is literal.
type Pattern struct {
	raw    string
	fold   bool
	re     *regexp.Regexp // set for `~` patterns
	tokens []token        // wildcard pattern without the trailing `*`
	star   bool           // wildcard pattern ends with `*`
}

type tokenKind uint8

const (
	tokLiteral tokenKind = iota
	tokAny
	tokClass
)

type runeRange struct{ lo, hi rune }

type token struct {
	kind   tokenKind
	lit    rune
	negate bool
	ranges []runeRange
}

func (t *token) match(r rune) bool {
	switch t.kind {
	case tokLiteral:
		return r == t.lit
	case tokAny:
		return true
	default:
		for _, rg := range t.ranges {
			if rg.lo <= r && r <= rg.hi {
				return !t.negate
			}
		}
		return t.negate
	}
}

// CompilePattern parses p. When caseSensitive is false, wildcards are
// lower-cased and matched against lower-cased names, and regular expressions
// get the `(?i)` flag.
func CompilePattern(p string, caseSensitive bool) (*Pattern, error) {
	pat := &Pattern{raw: p, fold: !caseSensitive}
	if expr, ok := strings.CutPrefix(p, "~"); ok {
		if !caseSensitive {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: invalid regular expression after `~`: %w", p, err)
		}
		pat.re = re
		return pat, nil
	}
	if pat.fold {
		p = strings.ToLower(p)
	}
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '*':
			if i != len(rs)-1 {
				return nil, fmt.Errorf("pattern %q: `*` is only allowed as the last character; use `?` for single characters or a `~` regular expression", pat.raw)
			}
			pat.star = true
		case '?':
			pat.tokens = append(pat.tokens, token{kind: tokAny})
		case '[':
			tok, n := parseClass(rs[i:])
			if n == 0 {
				return nil, fmt.Errorf("pattern %q: `[` opens a character class that is never closed; close it with `]`, or write `[[]` to match a literal `[`", pat.raw)
			}
			if n == 2 {
				return nil, fmt.Errorf("pattern %q: `[]` is an empty character class and matches nothing; list the characters to match inside the brackets", pat.raw)
			}
			pat.tokens = append(pat.tokens, tok)
			i += n - 1
		default:
			pat.tokens = append(pat.tokens, token{kind: tokLiteral, lit: rs[i]})
		}
	}
	return pat, nil
}

// parseClass parses a character class starting at rs[0] == '['. It returns
// the class and the number of runes consumed, or 0 when there is no closing
// bracket.
func parseClass(rs []rune) (token, int) {
	end := -1
	for j := 1; j < len(rs); j++ {
		if rs[j] == ']' {
			end = j
			break
		}
	}
	if end < 0 {
		return token{}, 0
	}
	tok := token{kind: tokClass}
	start := 1
	if start < end && rs[start] == '!' {
		tok.negate = true
		start++
	}
	for j := start; j < end; j++ {
		if j+2 < end && rs[j+1] == '-' {
			tok.ranges = append(tok.ranges, runeRange{rs[j], rs[j+2]})
			j += 2
			continue
		}
		tok.ranges = append(tok.ranges, runeRange{rs[j], rs[j]})
	}
	if tok.negate && len(tok.ranges) == 0 {
		// `[!]` is the literal `!`, as in DM.
		tok.negate = false
		tok.ranges = []runeRange{{'!', '!'}}
	}
	return tok, end + 1
}

// Match reports whether name matches the pattern.
func (p *Pattern) Match(name string) bool {
	if p.re != nil {
		return p.re.MatchString(name)
	}
	if p.fold {
		name = strings.ToLower(name)
	}
	i := 0
	for k := range p.tokens {
		if i >= len(name) {
			return false
		}
		r, size := utf8.DecodeRuneInString(name[i:])
		if !p.tokens[k].match(r) {
			return false
		}
		i += size
	}
	return p.star || i == len(name)
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.raw }

// Literal reports whether the pattern matches exactly one name (no wildcard,
// class or regular expression).
func (p *Pattern) Literal() bool {
	if p.re != nil || p.star {
		return false
	}
	for _, t := range p.tokens {
		if t.kind != tokLiteral {
			return false
		}
	}
	return true
}

// IsRegexp reports whether the pattern is a `~` regular expression.
func (p *Pattern) IsRegexp() bool { return p.re != nil }

// PatternKey returns a normalised form of the pattern text p under the given
// case sensitivity: two patterns with the same key match the same names.
func PatternKey(p string, caseSensitive bool) string {
	if !caseSensitive && !strings.HasPrefix(p, "~") {
		return strings.ToLower(p)
	}
	return p
}
