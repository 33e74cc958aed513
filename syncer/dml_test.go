package syncer

import (
	"fmt"
	"strings"
	"testing"
)

func TestDML(t *testing.T) {
	const db = "s_dml"
	setupSchema(t, db,
		"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), u INT, UNIQUE KEY (u))",
		"CREATE TABLE c (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b))",
		"CREATE TABLE nokey (a INT, b VARCHAR(10))",
	)
	r, stop := startSyncer(t, newTask(t, "dml", db))
	src.Exec(t, "USE "+db+"; INSERT INTO t VALUES (1,'a',1),(2,'b',2),(3,'c',3)")
	src.Exec(t, "USE "+db+"; UPDATE t SET v='bb' WHERE id=2; DELETE FROM t WHERE id=3")
	// Primary key update and a unique-key swap inside one transaction.
	src.Exec(t, "USE "+db+"; BEGIN; UPDATE t SET id=10 WHERE id=1; UPDATE t SET u=100 WHERE id=10; UPDATE t SET u=1 WHERE id=2; UPDATE t SET u=2 WHERE id=10; COMMIT")
	src.Exec(t, "USE "+db+"; INSERT INTO c VALUES (1,'x',1),(1,'y',2); UPDATE c SET b='z' WHERE a=1 AND b='x'; DELETE FROM c WHERE b='y'")
	src.Exec(t, "USE "+db+"; INSERT INTO nokey VALUES (1,'a'),(1,'a'),(2,NULL); DELETE FROM nokey WHERE a=1 LIMIT 1; UPDATE nokey SET b='n' WHERE b IS NULL")
	// Many rows, several transactions, repeated changes of one row.
	var sb strings.Builder
	sb.WriteString("USE " + db + "; BEGIN;")
	for i := 100; i < 600; i++ {
		fmt.Fprintf(&sb, "INSERT INTO t VALUES (%d,'r%d',%d);", i, i, i)
	}
	sb.WriteString("COMMIT; BEGIN;")
	for i := 100; i < 600; i += 3 {
		fmt.Fprintf(&sb, "UPDATE t SET v='x%d' WHERE id=%d; UPDATE t SET v='y%d' WHERE id=%d;", i, i, i, i)
	}
	sb.WriteString("DELETE FROM t WHERE id % 7 = 0; COMMIT")
	src.Exec(t, sb.String())
	src.Exec(t, "USE "+db+"; INSERT INTO t VALUES (7,'again',7); DELETE FROM t WHERE id=7; INSERT INTO t VALUES (7,'third',7)")
	waitSynced(t, r, db)
	waitFor(t, r, func() error {
		if st := r.s.Status(); !st.Synced {
			return fmt.Errorf("status not synced: %+v", st)
		}
		return nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st := r.s.Status()
	if st.TotalEvents == 0 || st.SyncerBinlog == "" {
		t.Errorf("status not filled: %+v", st)
	}
}
