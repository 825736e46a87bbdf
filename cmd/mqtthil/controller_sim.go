package main

// The simulated controller, the default: the import registers it as "sim".
import _ "github.com/mqtthil/mqtthil/controller/sim"
