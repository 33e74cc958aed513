// Package safety holds no code: its test walks every destructive operation in the
// module (DROP, TRUNCATE, file removal, replicated DDL) and checks that each is reached
// only through the ownership check that makes it the task's own (issue 7). A new
// destructive operation fails the test until it is listed here with its guard.
package safety
