package dm

import (
	"slices"
	"testing"

	"github.com/dmkit/dmkit/internal/sqlq"
)

func TestListSchemasAndTables(t *testing.T) {
	odd := "odd`name"
	testSrc.Exec(t, "CREATE DATABASE `db-name`; "+
		"CREATE TABLE `db-name`.t1 (id INT PRIMARY KEY); "+
		"CREATE TABLE `db-name`."+sqlq.QuoteName(odd)+" (id INT PRIMARY KEY); "+
		"CREATE VIEW `db-name`.v AS SELECT id FROM `db-name`.t1; "+
		"CREATE DATABASE "+sqlq.QuoteName(odd))
	t.Cleanup(func() { testSrc.Exec(t, "DROP DATABASE `db-name`; DROP DATABASE "+sqlq.QuoteName(odd)) })
	db := testSrc.DB(t)
	ctx := testCtx(t)

	schemas, err := listSchemas(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"db-name", odd, "mysql", "information_schema"} {
		if !slices.Contains(schemas, want) {
			t.Errorf("listSchemas = %q, missing %q", schemas, want)
		}
	}

	tests := []struct {
		schema  string
		want    []string
		wantErr bool
	}{
		{"db-name", []string{"odd`name", "t1"}, false},
		{odd, nil, false},
		{"no-such-schema", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			got, err := listBaseTables(ctx, db, tt.schema)
			if (err != nil) != tt.wantErr {
				t.Fatalf("listBaseTables err = %v, want error: %v", err, tt.wantErr)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("listBaseTables = %q, want %q", got, tt.want)
			}
		})
	}
}
