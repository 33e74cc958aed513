package syncer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/dmkit/dmkit/internal/dumpfile"
)

// Location is a point in the source binlog: a file and the offset just after an event, with
// the GTID set executed up to there (empty when unknown).
type Location = dumpfile.Location

// position is the comparable part of a Location.
type position struct {
	File string
	Pos  uint32
}

func posOf(l Location) position { return position{l.File, l.Pos} }

// compareFiles orders binlog file names by their numeric extension (mysql-bin.000010 after
// mysql-bin.000009), falling back to plain string order for odd names.
func compareFiles(a, b string) int {
	if a == b {
		return 0
	}
	ab, an, aok := splitBinlogName(a)
	bb, bn, bok := splitBinlogName(b)
	if aok && bok && ab == bb {
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

func splitBinlogName(n string) (string, uint64, bool) {
	i := strings.LastIndexByte(n, '.')
	if i < 0 {
		return n, 0, false
	}
	seq, err := strconv.ParseUint(n[i+1:], 10, 64)
	if err != nil {
		return n, 0, false
	}
	return n[:i], seq, true
}

// compare orders two positions of the same source.
func (p position) compare(o position) int {
	if c := compareFiles(p.File, o.File); c != 0 {
		return c
	}
	switch {
	case p.Pos < o.Pos:
		return -1
	case p.Pos > o.Pos:
		return 1
	}
	return 0
}

func (p position) String() string { return fmt.Sprintf("(%s, %d)", p.File, p.Pos) }

// changePos identifies one row change: the end offset of its rows event and the row's
// index within that event. Row changes of a source are totally ordered by changePos.
type changePos struct {
	File string
	Pos  uint32
	Row  uint32
}

func (c changePos) compare(o changePos) int {
	if d := (position{c.File, c.Pos}).compare(position{o.File, o.Pos}); d != 0 {
		return d
	}
	switch {
	case c.Row < o.Row:
		return -1
	case c.Row > o.Row:
		return 1
	}
	return 0
}

// afterPosition reports whether the change lies after the transaction boundary p.
func (c changePos) after(p position) bool {
	return (position{c.File, c.Pos}).compare(p) > 0
}

// gtidState accumulates the executed GTID set of the stream, one transaction at a time.
type gtidState interface {
	// begin remembers the GTID of the transaction that starts.
	begin(gtid string)
	// commit adds the pending GTID to the set.
	commit()
	// String renders the executed set.
	String() string
}

// newGTIDState parses the executed set s for flavor.
func newGTIDState(flavor, s string) (gtidState, error) {
	if flavor == mysql.MariaDBFlavor {
		g := &mariaGTID{domains: map[uint32]mysql.MariadbGTID{}}
		for part := range strings.SplitSeq(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			id, err := mysql.ParseMariadbGTID(part)
			if err != nil {
				return nil, fmt.Errorf("MariaDB GTID %q: %w", part, err)
			}
			g.domains[id.DomainID] = *id
		}
		return g, nil
	}
	set, err := mysql.ParseMysqlGTIDSet(s)
	if err != nil {
		return nil, fmt.Errorf("MySQL GTID set %q: %w", s, err)
	}
	return &mysqlGTID{set: set.(*mysql.MysqlGTIDSet), known: s != ""}, nil
}

// mariaGTID is MariaDB's GTID position: the last GTID of each replication domain.
type mariaGTID struct {
	domains map[uint32]mysql.MariadbGTID
	pending *mysql.MariadbGTID
	str     string
	dirty   bool
}

func (g *mariaGTID) begin(s string) {
	id, err := mysql.ParseMariadbGTID(s)
	if err != nil {
		g.pending = nil
		return
	}
	g.pending = id
}

func (g *mariaGTID) commit() {
	if g.pending == nil {
		return
	}
	g.domains[g.pending.DomainID] = *g.pending
	g.pending = nil
	g.dirty = true
}

func (g *mariaGTID) String() string {
	if !g.dirty && g.str != "" {
		return g.str
	}
	ids := make([]uint32, 0, len(g.domains))
	for d := range g.domains {
		ids = append(ids, d)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	parts := make([]string, len(ids))
	for i, d := range ids {
		id := g.domains[d]
		parts[i] = id.String()
	}
	g.str, g.dirty = strings.Join(parts, ","), false
	return g.str
}

// mysqlGTID is a MySQL executed GTID set. Started without a known set it only holds the
// transactions seen, which is not a usable start point, so String returns "" then.
type mysqlGTID struct {
	set     *mysql.MysqlGTIDSet
	known   bool
	pending string
}

func (g *mysqlGTID) begin(s string) { g.pending = s }

func (g *mysqlGTID) commit() {
	if g.pending == "" {
		return
	}
	_ = g.set.Update(g.pending) // a malformed GTID event cannot be represented; skip it
	g.pending = ""
}

func (g *mysqlGTID) String() string {
	if !g.known {
		return ""
	}
	return g.set.String()
}
