// Package mysqltest starts throwaway MariaDB servers for tests: each one
// gets its own temp dir, a free port, binary logging in ROW format with
// GTIDs, and a password-protected account (dmkit/dmkit) that tests connect
// with. A missing mariadbd is an error naming the install command, never a
// silent skip. It also compares tables and schemas across servers.
//
// Start servers once per package in TestMain to keep suites fast:
//
//	var src *mysqltest.Server
//
//	func TestMain(m *testing.M) { os.Exit(run(m)) }
//
//	func run(m *testing.M) int {
//		var err error
//		src, err = mysqltest.Start(mysqltest.Options{Name: "src"})
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			return 1
//		}
//		defer src.Stop()
//		return m.Run()
//	}
package mysqltest
