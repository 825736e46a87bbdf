// The step library's tests load drivers into the Lua runtime, which a
// program makes available by importing its package.
package steps_test

import _ "github.com/mqtthil/mqtthil/controller/lua"
