package dm

// The TiDB parser needs a driver for value expressions; test_driver is its light-weight
// one (TiDB's own pulls in the whole expression engine).
import _ "github.com/pingcap/tidb/pkg/parser/test_driver"
