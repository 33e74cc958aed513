package relay

import (
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// txnTracker follows transaction boundaries and the GTID set through a stream of
// events. A boundary is the end of a transaction (XID, COMMIT/ROLLBACK, a statement
// logged on its own such as DDL) or an event between transactions (rotate,
// format description, GTID list): a relay file may be cut there.
type txnTracker struct {
	flavor       string
	set          mysql.GTIDSet // GTIDs of complete transactions; nil until known
	cur          string        // GTID of the open transaction
	inTxn, begun bool
	lastBoundary bool
}

func newTxnTracker(flavor, gtid string) *txnTracker {
	t := &txnTracker{flavor: flavor}
	t.setGTID(gtid)
	return t
}

func (t *txnTracker) setGTID(s string) {
	set, err := mysql.ParseGTIDSet(t.flavor, s)
	if err == nil {
		t.set = set
	}
}

func (t *txnTracker) gtid() string {
	if t.set == nil {
		return ""
	}
	return t.set.String()
}

// observe updates the tracker with ev and reports whether ev ends at a boundary.
func (t *txnTracker) observe(ev *replication.BinlogEvent) bool {
	switch e := ev.Event.(type) {
	case *replication.MariadbGTIDEvent:
		t.inTxn, t.begun, t.cur = true, false, e.GTID.String()
		return false
	case *replication.GTIDEvent:
		t.inTxn, t.begun, t.cur = true, false, ""
		if next, err := e.GTIDNext(); err == nil && !isAnonymous(e) {
			t.cur = next.String()
		}
		return false
	case *replication.QueryEvent:
		q := strings.ToUpper(strings.TrimSpace(string(e.Query)))
		switch {
		case q == "BEGIN" || strings.HasPrefix(q, "XA START"):
			t.inTxn, t.begun = true, true
			return false
		case q == "COMMIT" || q == "ROLLBACK" || strings.HasPrefix(q, "XA COMMIT"):
			return t.commit()
		case t.begun:
			return false // a statement inside BEGIN … COMMIT
		}
		return t.commit() // DDL or a statement logged on its own
	case *replication.XIDEvent:
		return t.commit()
	case *replication.TransactionPayloadEvent:
		return t.commit() // MySQL 8 compressed transaction: one event holds it whole
	case *replication.MariadbGTIDListEvent:
		if !t.inTxn {
			t.setGTID(mariaList(e))
		}
		return !t.inTxn
	case *replication.PreviousGTIDsEvent:
		if !t.inTxn {
			t.setGTID(e.GTIDSets)
		}
		return !t.inTxn
	case *replication.RotateEvent, *replication.FormatDescriptionEvent:
		return !t.inTxn
	}
	return false
}

func (t *txnTracker) commit() bool {
	if t.cur != "" {
		if t.set == nil {
			t.setGTID("")
		}
		if t.set != nil {
			_ = t.set.Update(t.cur)
		}
	}
	t.inTxn, t.begun, t.cur = false, false, ""
	return true
}

func isAnonymous(e *replication.GTIDEvent) bool {
	for _, b := range e.SID {
		if b != 0 {
			return false
		}
	}
	return true
}

func mariaList(e *replication.MariadbGTIDListEvent) string {
	parts := make([]string, 0, len(e.GTIDs))
	for _, g := range e.GTIDs {
		parts = append(parts, g.String())
	}
	return strings.Join(parts, ",")
}
