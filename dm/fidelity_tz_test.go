package dm

import (
	"strings"
	"testing"
	"time"
)

// Issue 11: timezone acts as DM's (the dump's source sessions and the load's and sync's
// target sessions run in it) and TIMESTAMP values keep their instants through the full
// copy and replication; a named zone is refused with a 400 saying why.
func TestTimezoneRoundTrips(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS tzmode")
	testDst.Exec(t, "DROP DATABASE IF EXISTS tzmode")
	testSrc.Exec(t, `CREATE DATABASE tzmode; CREATE TABLE tzmode.t (id INT PRIMARY KEY, ts TIMESTAMP NULL, dt DATETIME, d DATE);
		SET time_zone = '+00:00';
		INSERT INTO tzmode.t VALUES (1, '2026-03-01 00:00:00', '2026-03-01 00:00:00', '2026-03-01'),
			(2, '1970-01-01 00:00:01', '1970-01-01 00:00:01', '1970-01-01'), (3, '2038-01-19 03:14:07', NULL, NULL), (4, NULL, NULL, NULL);
		SET time_zone = DEFAULT`)
	task := fullTask("tz-task", ModeAll, "tzmode", "src1")
	task.Timezone = "+08:00"
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
	waitUnit(t, c, task.Name, UnitSync)
	waitSame(t, "tzmode")
	testSrc.Exec(t, `SET time_zone = '+00:00';
		INSERT INTO tzmode.t VALUES (5, '2026-10-25 01:30:00', '2026-10-25 01:30:00', '2026-10-25'), (6, '2026-12-31 23:59:59', NULL, NULL);
		UPDATE tzmode.t SET ts = '2027-06-30 16:00:00' WHERE id = 1; SET time_zone = DEFAULT`)
	testSrc.Exec(t, "SET time_zone = '-05:00'; INSERT INTO tzmode.t VALUES (7, '2026-07-01 12:00:00', NULL, NULL); SET time_zone = DEFAULT")
	waitSame(t, "tzmode")
	var epoch int64
	if err := openDB(t, testDst).QueryRow("SELECT UNIX_TIMESTAMP(ts) FROM tzmode.t WHERE id = 7").Scan(&epoch); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 7, 1, 17, 0, 0, 0, time.UTC).Unix(); epoch != want {
		t.Errorf("row 7 on the target is at %s, want 2026-07-01 17:00:00 UTC", time.Unix(epoch, 0).UTC())
	}

	named := fullTask("tz-named", ModeAll, "tzmode", "src1")
	named.Timezone = "Asia/Shanghai"
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: named})
	if err == nil || !strings.Contains(err.Error(), "use its fixed offset such as +08:00") || ErrorCode(err) != CodeInvalidTimezone {
		t.Fatalf("create with a named zone: %v, want %d naming the fix", err, CodeInvalidTimezone)
	}
	for _, tz := range []string{"UTC", "+00:00", "-03:30"} {
		ok := fullTask("tz-ok", ModeAll, "tzmode", "src1")
		ok.Timezone = tz
		if _, err := normalizeTask(ok); err != nil {
			t.Errorf("timezone %q refused: %v", tz, err)
		}
	}
}
