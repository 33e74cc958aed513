package loader

import (
	"context"
	"testing"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

func TestScratch(t *testing.T) {
	s, err := mysqltest.Start(mysqltest.Options{Name: "scratch"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	cfg := s.DBConfig()
	cfg.Params = map[string]string{"character_set_client": "binary", "character_set_connection": "binary", "character_set_results": "binary", "time_zone": "'+00:00'", "sql_mode": "'NO_AUTO_VALUE_ON_ZERO'", "foreign_key_checks": "0"}
	db, err := s.Open("")
	if err != nil {
		t.Fatal(err)
	}
	s.Exec(t, "CREATE DATABASE m; CREATE TABLE m.cp (id VARCHAR(32) NOT NULL, filename VARCHAR(255) NOT NULL, `offset` BIGINT NOT NULL, UNIQUE KEY uk(id, filename))")
	for i := 0; i < 1000; i++ {
		s.Exec(t, "INSERT INTO m.cp VALUES ('src', CONCAT('f', ?), 0)", i)
	}
	_ = db
	ctx := context.Background()
	db2, err := sqlOpen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db2.QueryContext(ctx, "EXPLAIN UPDATE m.cp SET `offset`=? WHERE id=? AND filename=? AND `offset`=?", 5, "src", "f7", 0)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		for i, c := range cols {
			t.Logf("%s=%s", c, vals[i])
		}
	}
	var v string
	db2.QueryRowContext(ctx, "SELECT CONCAT(@@character_set_client, @@time_zone, @@sql_mode, @@foreign_key_checks)").Scan(&v)
	t.Log(v)
	_, err = db2.ExecContext(ctx, "SET NAMES binary, time_zone='+00:00'")
	t.Log(err)
}
