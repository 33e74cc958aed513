package dm

import (
	"strconv"
	"strings"
)

// Column type order for optimistic shard DDL: a change that widens the joined schema's
// type reaches the target, one that narrows it (or changes the kind) is a conflict.

// typeRanks orders the types of one family from narrow to wide.
var typeRanks = map[string][2]int{ // type → (family, rank)
	"tinyint": {1, 1}, "smallint": {1, 2}, "mediumint": {1, 3}, "int": {1, 4}, "bigint": {1, 5},
	"float": {2, 1}, "double": {2, 2},
	"tinytext": {3, 1}, "text": {3, 2}, "mediumtext": {3, 3}, "longtext": {3, 4},
	"tinyblob": {4, 1}, "blob": {4, 2}, "mediumblob": {4, 3}, "longblob": {4, 4},
}

// sizedTypes take one length argument, compared within the same type.
var sizedTypes = map[string]bool{"varchar": true, "char": true, "varbinary": true, "binary": true, "bit": true}

// colType is a parsed COLUMN_TYPE: base name, arguments and the unsigned flag.
type colType struct {
	base     string
	args     []int
	unsigned bool
	text     string
}

func parseColType(s string) colType {
	s = strings.ToLower(strings.TrimSpace(s))
	t := colType{text: s}
	if strings.HasSuffix(s, " zerofill") {
		s = strings.TrimSuffix(s, " zerofill")
	}
	if strings.HasSuffix(s, " unsigned") {
		t.unsigned = true
		s = strings.TrimSuffix(s, " unsigned")
	}
	base, rest, _ := strings.Cut(s, "(")
	t.base = strings.TrimSpace(base)
	if rest != "" && strings.HasSuffix(rest, ")") && !strings.Contains(rest, "'") {
		for _, a := range strings.Split(strings.TrimSuffix(rest, ")"), ",") {
			n, err := strconv.Atoi(strings.TrimSpace(a))
			if err != nil {
				t.args = nil
				break
			}
			t.args = append(t.args, n)
		}
	}
	if r, ok := typeRanks[t.base]; ok && r[0] == 1 {
		t.args = nil // an integer's display width is no part of its range
	}
	return t
}

// same reports whether two types are the same for the joined schema.
func (t colType) same(o colType) bool {
	if t.base != o.base || t.unsigned != o.unsigned || len(t.args) != len(o.args) {
		return false
	}
	for i := range t.args {
		if t.args[i] != o.args[i] {
			return false
		}
	}
	if t.args == nil && typeRanks[t.base][0] == 0 && !sizedTypes[t.base] && t.base != "decimal" {
		return t.text == o.text // enum, set and others: compared as written
	}
	return true
}

// widens reports whether o holds every value of t (and is not the same type).
func (t colType) widens(o colType) bool {
	if t.same(o) || t.unsigned != o.unsigned {
		return false
	}
	if a, ok := typeRanks[t.base]; ok {
		b, ok := typeRanks[o.base]
		return ok && a[0] == b[0] && b[1] > a[1]
	}
	switch {
	case sizedTypes[t.base] && t.base == o.base && len(t.args) == 1 && len(o.args) == 1:
		return o.args[0] > t.args[0]
	case t.base == "decimal" && o.base == "decimal" && len(t.args) == 2 && len(o.args) == 2:
		return o.args[1] >= t.args[1] && o.args[0]-o.args[1] >= t.args[0]-t.args[1]
	}
	return false
}
