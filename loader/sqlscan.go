package loader

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// This file holds the little SQL lexing the loader needs: enough to find and replace the
// table (or database) name at the head of INSERT / CREATE TABLE / CREATE DATABASE
// statements, to split a schema file into statements, and to recognise SET statements.
// Everything after the name is passed to the target byte for byte, so any dialect the
// target accepts loads unchanged (see README: why not the TiDB parser).

type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokWord           // keyword or bare identifier
	tokIdent          // `quoted` or "quoted" identifier; val holds the unescaped name
	tokString         // 'string literal'
	tokPunct          // any other single byte
)

type token struct {
	kind       tokKind
	val        string // unescaped identifier or raw text
	start, end int    // byte range in the input
}

// lexer tokenises the head of a statement. MySQL executable comments (/*!NNNNN … */ and
// MariaDB's /*M!NNNNNN … */) are transparent: their content is lexed as code, as the
// server would run it.
type lexer struct {
	s   []byte
	pos int
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// skip passes over white space, comments and the markers of executable comments.
func (lx *lexer) skip() {
	s := lx.s
	for lx.pos < len(s) {
		c := s[lx.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			lx.pos++
		case c == '#' || isDashComment(s, lx.pos):
			if i := bytes.IndexByte(s[lx.pos:], '\n'); i >= 0 {
				lx.pos += i + 1
			} else {
				lx.pos = len(s)
			}
		case c == '/' && bytes.HasPrefix(s[lx.pos:], []byte("/*!")):
			lx.pos += 3
			lx.skipDigits()
		case c == '/' && bytes.HasPrefix(s[lx.pos:], []byte("/*M!")):
			lx.pos += 4
			lx.skipDigits()
		case c == '/' && bytes.HasPrefix(s[lx.pos:], []byte("/*")):
			if i := bytes.Index(s[lx.pos+2:], []byte("*/")); i >= 0 {
				lx.pos += 2 + i + 2
			} else {
				lx.pos = len(s)
			}
		case c == '*' && bytes.HasPrefix(s[lx.pos:], []byte("*/")):
			lx.pos += 2 // the end of an executable comment
		default:
			return
		}
	}
}

// isDashComment reports whether a "-- " comment starts at s[i] (the dashes must be
// followed by white space, a control byte or the end).
func isDashComment(s []byte, i int) bool {
	return bytes.HasPrefix(s[i:], []byte("--")) && (i+2 == len(s) || s[i+2] <= ' ')
}

func (lx *lexer) skipDigits() {
	for lx.pos < len(lx.s) && lx.s[lx.pos] >= '0' && lx.s[lx.pos] <= '9' {
		lx.pos++
	}
}

// next returns the next token; an unterminated quote is an error.
func (lx *lexer) next() (token, error) {
	lx.skip()
	s := lx.s
	start := lx.pos
	if start >= len(s) {
		return token{kind: tokEOF, start: start, end: start}, nil
	}
	c := s[start]
	switch {
	case c == '`' || c == '"' || c == '\'':
		val, end, ok := scanQuoted(s, start)
		if !ok {
			return token{}, fmt.Errorf("unterminated %c quote at byte %d", c, start)
		}
		lx.pos = end
		kind := tokIdent
		if c == '\'' {
			kind = tokString
		}
		return token{kind: kind, val: val, start: start, end: end}, nil
	case isWordByte(c):
		end := start + 1
		for end < len(s) && isWordByte(s[end]) {
			end++
		}
		lx.pos = end
		return token{kind: tokWord, val: string(s[start:end]), start: start, end: end}, nil
	default:
		lx.pos++
		return token{kind: tokPunct, val: string(c), start: start, end: start + 1}, nil
	}
}

// peek returns the next token without consuming it.
func (lx *lexer) peek() (token, error) {
	save := lx.pos
	t, err := lx.next()
	lx.pos = save
	return t, err
}

// scanQuoted reads a quoted token starting at s[start] (the quote byte). The quote is
// escaped by doubling; in strings (' and ") a backslash also escapes the next byte.
// It returns the unescaped content and the index just past the closing quote.
func scanQuoted(s []byte, start int) (string, int, bool) {
	q := s[start]
	var b strings.Builder
	for i := start + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && q != '`' && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
		case c == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i++
		case c == q:
			return b.String(), i + 1, true
		default:
			b.WriteByte(c)
		}
	}
	return "", len(s), false
}

// isKeyword reports whether t is the word kw (case-insensitive).
func (t token) isKeyword(kw string) bool { return t.kind == tokWord && strings.EqualFold(t.val, kw) }

// acceptKeyword consumes the next token if it is one of kws and returns it in upper case.
func (lx *lexer) acceptKeyword(kws ...string) (string, error) {
	t, err := lx.peek()
	if err != nil {
		return "", err
	}
	for _, kw := range kws {
		if t.isKeyword(kw) {
			_, _ = lx.next()
			return kw, nil
		}
	}
	return "", nil
}

// expectKeyword consumes the keyword kw or fails.
func (lx *lexer) expectKeyword(kw string) error {
	t, err := lx.next()
	if err != nil {
		return err
	}
	if !t.isKeyword(kw) {
		return fmt.Errorf("expected %s, found %q", kw, t.val)
	}
	return nil
}

// qualifiedName reads `name` or `schema`.`name` and returns the index just past it.
func (lx *lexer) qualifiedName() (schema, name string, end int, err error) {
	first, err := lx.next()
	if err != nil {
		return "", "", 0, err
	}
	if first.kind != tokWord && first.kind != tokIdent {
		return "", "", 0, fmt.Errorf("expected a name, found %q", first.val)
	}
	end = first.end
	dot, err := lx.peek()
	if err != nil {
		return "", "", 0, err
	}
	if dot.kind != tokPunct || dot.val != "." {
		return "", first.val, end, nil
	}
	_, _ = lx.next()
	second, err := lx.next()
	if err != nil {
		return "", "", 0, err
	}
	if second.kind != tokWord && second.kind != tokIdent {
		return "", "", 0, fmt.Errorf("expected a name after %q., found %q", first.val, second.val)
	}
	return first.val, second.val, second.end, nil
}

// leadingKeywords returns the first n words of stmt in upper case (fewer if the statement
// has fewer leading words); comments are skipped and executable comments opened.
func leadingKeywords(stmt []byte, n int) []string {
	lx := lexer{s: stmt}
	var out []string
	for len(out) < n {
		t, err := lx.next()
		if err != nil || t.kind != tokWord {
			break
		}
		out = append(out, strings.ToUpper(t.val))
	}
	return out
}

// errNotInsert marks a statement that is not INSERT/REPLACE.
var errNotInsert = errors.New("not an INSERT or REPLACE statement")

// insertNameEnd parses `INSERT [LOW_PRIORITY|DELAYED|HIGH_PRIORITY] [IGNORE] [INTO] name`
// or `REPLACE [LOW_PRIORITY|DELAYED] [INTO] name` at the head of stmt and returns the
// index just past the table name.
func insertNameEnd(stmt []byte) (int, error) {
	lx := lexer{s: stmt}
	verb, err := lx.next()
	if err != nil {
		return 0, err
	}
	switch {
	case verb.isKeyword("INSERT"):
		if _, err := lx.acceptKeyword("LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY"); err != nil {
			return 0, err
		}
		if _, err := lx.acceptKeyword("IGNORE"); err != nil {
			return 0, err
		}
	case verb.isKeyword("REPLACE"):
		if _, err := lx.acceptKeyword("LOW_PRIORITY", "DELAYED"); err != nil {
			return 0, err
		}
	default:
		return 0, errNotInsert
	}
	if _, err := lx.acceptKeyword("INTO"); err != nil {
		return 0, err
	}
	_, _, end, err := lx.qualifiedName()
	if err != nil {
		return 0, fmt.Errorf("INSERT statement: %w", err)
	}
	return end, nil
}

// rewriteCreateTable turns `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name …` into
// `CREATE TABLE IF NOT EXISTS <target> …`, keeping the rest byte for byte.
func rewriteCreateTable(stmt []byte, target string) (string, error) {
	lx := lexer{s: stmt}
	if err := lx.expectKeyword("CREATE"); err != nil {
		return "", err
	}
	if kw, err := lx.acceptKeyword("OR"); err != nil {
		return "", err
	} else if kw != "" {
		if err := lx.expectKeyword("REPLACE"); err != nil {
			return "", err
		}
	}
	if kw, err := lx.acceptKeyword("TEMPORARY"); err != nil {
		return "", err
	} else if kw != "" {
		return "", errors.New("CREATE TEMPORARY TABLE in a dump; a dump holds only base tables")
	}
	if err := lx.expectKeyword("TABLE"); err != nil {
		return "", err
	}
	if err := acceptIfNotExists(&lx); err != nil {
		return "", err
	}
	_, _, end, err := lx.qualifiedName()
	if err != nil {
		return "", fmt.Errorf("CREATE TABLE: %w", err)
	}
	return "CREATE TABLE IF NOT EXISTS " + target + string(stmt[end:]), nil
}

// rewriteCreateDatabase turns `CREATE {DATABASE|SCHEMA} [IF NOT EXISTS] name …` into
// `CREATE DATABASE IF NOT EXISTS <target> …`, keeping the options byte for byte.
func rewriteCreateDatabase(stmt []byte, target string) (string, error) {
	lx := lexer{s: stmt}
	if err := lx.expectKeyword("CREATE"); err != nil {
		return "", err
	}
	kw, err := lx.acceptKeyword("DATABASE", "SCHEMA")
	if err != nil {
		return "", err
	}
	if kw == "" {
		return "", errors.New("expected CREATE DATABASE")
	}
	if err := acceptIfNotExists(&lx); err != nil {
		return "", err
	}
	_, _, end, err := lx.qualifiedName()
	if err != nil {
		return "", fmt.Errorf("CREATE DATABASE: %w", err)
	}
	return "CREATE DATABASE IF NOT EXISTS " + target + string(stmt[end:]), nil
}

func acceptIfNotExists(lx *lexer) error {
	kw, err := lx.acceptKeyword("IF")
	if err != nil || kw == "" {
		return err
	}
	if err := lx.expectKeyword("NOT"); err != nil {
		return err
	}
	return lx.expectKeyword("EXISTS")
}

// normalizeSet renders a SET statement as lower-case tokens separated by single spaces
// (string literals keep their case), e.g. "set names binary".
func normalizeSet(stmt []byte) string {
	lx := lexer{s: stmt}
	var parts []string
	for {
		t, err := lx.next()
		if err != nil || t.kind == tokEOF {
			break
		}
		switch t.kind {
		case tokString:
			parts = append(parts, "'"+t.val+"'")
		case tokIdent:
			parts = append(parts, strings.ToLower(t.val))
		default:
			if t.kind == tokPunct && t.val == ";" {
				continue
			}
			parts = append(parts, strings.ToLower(t.val))
		}
	}
	return strings.Join(parts, " ")
}

// baselineSets are the SET statements dump files carry that the loader's own session
// settings already cover; they are not executed.
var baselineSets = map[string]bool{
	"set names binary":                     true,
	"set foreign_key_checks = 0":           true,
	"set session foreign_key_checks = 0":   true,
	"set @@session.foreign_key_checks = 0": true,
}

// isBaselineSet reports whether stmt is a SET the loader's session already has; tz is
// the session's time zone (a `SET time_zone` to another zone is executed).
func isBaselineSet(stmt []byte, tz string) bool {
	n := normalizeSet(stmt)
	return baselineSets[n] || n == "set time_zone = '"+tz+"'" || n == "set session time_zone = '"+tz+"'"
}

// splitStatements splits SQL text at semicolons outside quotes and comments and returns
// the statements without their terminator, skipping empty and comment-only ones.
func splitStatements(text []byte) ([][]byte, error) {
	var out [][]byte
	start := 0
	emit := func(end int) {
		stmt := bytes.TrimSpace(text[start:end])
		lx := lexer{s: stmt}
		if t, err := lx.peek(); err == nil && t.kind == tokEOF {
			return
		}
		out = append(out, stmt)
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			_, end, ok := scanQuoted(text, i)
			if !ok {
				return nil, fmt.Errorf("unterminated %c quote at byte %d", c, i)
			}
			i = end - 1
		case c == '#' || isDashComment(text, i):
			if j := bytes.IndexByte(text[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(text) - 1
			}
		case c == '/' && bytes.HasPrefix(text[i:], []byte("/*")):
			j := bytes.Index(text[i+2:], []byte("*/"))
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at byte %d", i)
			}
			i += 2 + j + 1
		case c == ';':
			emit(i)
			start = i + 1
		}
	}
	emit(len(text))
	return out, nil
}
