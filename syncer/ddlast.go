package syncer

// Statement-tree helpers of the DDL path: which statements replicate, splitting, naming,
// qualifying and rendering them.

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
)

// isReplicatedDDL reports whether st is a DDL the syncer applies.
func isReplicatedDDL(st ast.StmtNode) bool {
	switch n := st.(type) {
	case *ast.CreateDatabaseStmt, *ast.AlterDatabaseStmt, *ast.DropDatabaseStmt,
		*ast.AlterTableStmt, *ast.RenameTableStmt, *ast.TruncateTableStmt,
		*ast.CreateIndexStmt, *ast.DropIndexStmt:
		return true
	case *ast.CreateTableStmt:
		return n.TemporaryKeyword == ast.TemporaryNone
	case *ast.DropTableStmt:
		return !n.IsView && n.TemporaryKeyword == ast.TemporaryNone
	}
	return false
}

// splitDDL returns one statement per table for multi-table DROP TABLE and RENAME TABLE.
func splitDDL(st ast.StmtNode) []ast.StmtNode {
	switch n := st.(type) {
	case *ast.DropTableStmt:
		if len(n.Tables) > 1 {
			out := make([]ast.StmtNode, len(n.Tables))
			for i, t := range n.Tables {
				out[i] = &ast.DropTableStmt{IfExists: n.IfExists, Tables: []*ast.TableName{t}, TemporaryKeyword: n.TemporaryKeyword}
			}
			return out
		}
	case *ast.RenameTableStmt:
		if len(n.TableToTables) > 1 {
			out := make([]ast.StmtNode, len(n.TableToTables))
			for i, t := range n.TableToTables {
				out[i] = &ast.RenameTableStmt{TableToTables: []*ast.TableToTable{t}}
			}
			return out
		}
	}
	return []ast.StmtNode{st}
}

// tableNames collects the table name nodes of a statement.
type tableNames struct{ names []*ast.TableName }

func (v *tableNames) Enter(n ast.Node) (ast.Node, bool) {
	if t, ok := n.(*ast.TableName); ok {
		v.names = append(v.names, t)
	}
	return n, false
}

func (v *tableNames) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func collectTables(st ast.StmtNode) []*ast.TableName {
	v := &tableNames{}
	st.Accept(v)
	return v.names
}

// qualify fills the default schema into unqualified table names.
func qualify(st ast.StmtNode, defSchema string) {
	for _, t := range collectTables(st) {
		if t.Schema.O == "" {
			t.Schema = ast.NewCIStr(defSchema)
		}
	}
}

// ddlTarget returns the source schema and table a statement is about (the old name for
// RENAME, "" table for database statements).
func ddlTarget(st ast.StmtNode) (string, string) {
	switch n := st.(type) {
	case *ast.CreateDatabaseStmt:
		return n.Name.O, ""
	case *ast.AlterDatabaseStmt:
		return n.Name.O, ""
	case *ast.DropDatabaseStmt:
		return n.Name.O, ""
	case *ast.RenameTableStmt:
		t := n.TableToTables[0].OldTable
		return t.Schema.O, t.Name.O
	case *ast.CreateTableStmt:
		return n.Table.Schema.O, n.Table.Name.O
	case *ast.DropTableStmt:
		return n.Tables[0].Schema.O, n.Tables[0].Name.O
	case *ast.AlterTableStmt:
		return n.Table.Schema.O, n.Table.Name.O
	case *ast.TruncateTableStmt:
		return n.Table.Schema.O, n.Table.Name.O
	case *ast.CreateIndexStmt:
		return n.Table.Schema.O, n.Table.Name.O
	case *ast.DropIndexStmt:
		return n.Table.Schema.O, n.Table.Name.O
	}
	return "", ""
}

func cloneDBStmt(n ast.StmtNode, schema string) ast.StmtNode {
	switch x := n.(type) {
	case *ast.CreateDatabaseStmt:
		// The schema may exist already (another task, or the target's own): creating
		// it is then a no-op, never an error that pauses the task.
		c := *x
		c.Name = ast.NewCIStr(schema)
		c.IfNotExists = true
		return &c
	case *ast.AlterDatabaseStmt:
		c := *x
		c.Name = ast.NewCIStr(schema)
		return &c
	case *ast.DropDatabaseStmt:
		c := *x
		c.Name = ast.NewCIStr(schema)
		return &c
	}
	return n
}

func restore(n ast.Node) (string, error) {
	var sb strings.Builder
	if err := n.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &sb)); err != nil {
		return "", fmt.Errorf("render DDL for the target: %w", err)
	}
	return sb.String(), nil
}
