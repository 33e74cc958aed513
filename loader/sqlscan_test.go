package loader

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInsertNameEnd(t *testing.T) {
	tests := []struct {
		stmt string
		rest string // what follows the name
		err  string
	}{
		{stmt: "INSERT INTO `t` (`a`,`b`) VALUES\n", rest: " (`a`,`b`) VALUES\n"},
		{stmt: "insert into t values (1);", rest: " values (1);"},
		{stmt: "INSERT IGNORE INTO `d`.`t` VALUES", rest: " VALUES"},
		{stmt: "REPLACE INTO `a``b`.`c.d` VALUES", rest: " VALUES"},
		{stmt: "INSERT LOW_PRIORITY IGNORE `t` VALUES", rest: " VALUES"},
		{stmt: "/*!40000 INSERT */ INTO `t` VALUES", rest: " VALUES"},
		{stmt: "  -- note\nINSERT INTO t(a) VALUES", rest: "(a) VALUES"},
		{stmt: "SET NAMES binary", err: errNotInsert.Error()},
		{stmt: "INSERT INTO `t", err: "unterminated"},
		{stmt: "INSERT INTO (a)", err: "expected a name"},
	}
	for _, tt := range tests {
		end, err := insertNameEnd([]byte(tt.stmt))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("insertNameEnd(%q) error = %v, want %q", tt.stmt, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("insertNameEnd(%q): %v", tt.stmt, err)
			continue
		}
		if got := tt.stmt[end:]; got != tt.rest {
			t.Errorf("insertNameEnd(%q) rest = %q, want %q", tt.stmt, got, tt.rest)
		}
	}
}

func TestRewriteCreate(t *testing.T) {
	tests := []struct {
		name, stmt, want, err string
		database              bool
	}{
		{name: "show create table", stmt: "CREATE TABLE `t` (\n  `id` int(11) NOT NULL\n) ENGINE=InnoDB",
			want: "CREATE TABLE IF NOT EXISTS `x`.`y` (\n  `id` int(11) NOT NULL\n) ENGINE=InnoDB"},
		{name: "if not exists and qualified", stmt: "create table if not exists db.`t``q` (a int)",
			want: "CREATE TABLE IF NOT EXISTS `x`.`y` (a int)"},
		{name: "or replace", stmt: "CREATE OR REPLACE TABLE t (a int)", want: "CREATE TABLE IF NOT EXISTS `x`.`y` (a int)"},
		{name: "mariadb comment kept", stmt: "CREATE TABLE `t` (`x` text /*M!100301 COMPRESSED*/)",
			want: "CREATE TABLE IF NOT EXISTS `x`.`y` (`x` text /*M!100301 COMPRESSED*/)"},
		{name: "temporary", stmt: "CREATE TEMPORARY TABLE t (a int)", err: "TEMPORARY"},
		{name: "view", stmt: "CREATE VIEW v AS SELECT 1", err: "expected TABLE"},
		{name: "database", database: true, stmt: "CREATE DATABASE `d` /*!40100 DEFAULT CHARACTER SET latin1 */",
			want: "CREATE DATABASE IF NOT EXISTS `x`.`y` /*!40100 DEFAULT CHARACTER SET latin1 */"},
		{name: "mysqldump database", database: true, stmt: "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `d` /*!40100 DEFAULT CHARACTER SET utf8mb4 */",
			want: "CREATE DATABASE IF NOT EXISTS `x`.`y` /*!40100 DEFAULT CHARACTER SET utf8mb4 */"},
		{name: "schema keyword", database: true, stmt: "create schema if not exists d", want: "CREATE DATABASE IF NOT EXISTS `x`.`y`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rewrite := rewriteCreateTable
			if tt.database {
				rewrite = rewriteCreateDatabase
			}
			got, err := rewrite([]byte(tt.stmt), "`x`.`y`")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSplitStatements(t *testing.T) {
	text := "/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n" +
		"-- a comment; with a semicolon\n" +
		"CREATE TABLE `a;b` (\n  `c` varchar(3) DEFAULT ';' COMMENT 'x\\';y',\n  `d` int /* ; */\n);\n" +
		"/* only a comment */;\n\n"
	got, err := splitStatements([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var strs []string
	for _, s := range got {
		strs = append(strs, string(s))
	}
	want := []string{
		"/*!40101 SET NAMES binary*/",
		"/*!40014 SET FOREIGN_KEY_CHECKS=0*/",
		"-- a comment; with a semicolon\nCREATE TABLE `a;b` (\n  `c` varchar(3) DEFAULT ';' COMMENT 'x\\';y',\n  `d` int /* ; */\n)",
	}
	if diff := cmp.Diff(want, strs); diff != "" {
		t.Errorf("splitStatements (-want +got):\n%s", diff)
	}
	if _, err := splitStatements([]byte("CREATE TABLE t (a varchar(3) DEFAULT 'x)")); err == nil {
		t.Error("unterminated quote: no error")
	}
}

func TestIsBaselineSet(t *testing.T) {
	tests := []struct {
		stmt, tz string
		want     bool
	}{
		{"/*!40101 SET NAMES binary*/", "+00:00", true},
		{"/*!40014 SET FOREIGN_KEY_CHECKS=0*/", "+00:00", true},
		{"/*!40103 SET TIME_ZONE='+00:00' */", "+00:00", true},
		// A file in another zone than the session's must switch the session (issue 11).
		{"/*!40103 SET TIME_ZONE='+00:00' */", "+08:00", false},
		{"/*!40103 SET TIME_ZONE='+08:00'*/", "+08:00", true},
		{"/*!40103 SET TIME_ZONE='+08:00'*/", "+00:00", false},
		{"SET NAMES utf8mb4", "+00:00", false},
		{"SET time_zone = 'SYSTEM'", "+00:00", false},
		{"SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS", "+00:00", false},
	}
	for _, tt := range tests {
		if got := isBaselineSet([]byte(tt.stmt), tt.tz); got != tt.want {
			t.Errorf("isBaselineSet(%q, %s) = %v, want %v (normalized %q)", tt.stmt, tt.tz, got, tt.want, normalizeSet([]byte(tt.stmt)))
		}
	}
}
