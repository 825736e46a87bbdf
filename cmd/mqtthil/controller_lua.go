package main

// The Lua runtime: every client call is made by Lua code against the C4
// shim, and every callback comes from a Lua handler. The import registers
// it as the "lua" controller and as the runtime drivers run in.
import _ "github.com/mqtthil/mqtthil/controller/lua"
