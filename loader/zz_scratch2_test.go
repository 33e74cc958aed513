package loader

import (
	"database/sql"

	"github.com/dmkit/dmkit/internal/dbconn"
)

func sqlOpen(c dbconn.Config) (*sql.DB, error) {
	dsn, err := c.DSN("")
	if err != nil {
		return nil, err
	}
	return sql.Open("mysql", dsn)
}
