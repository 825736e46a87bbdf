package lua_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

// writeFiles writes name → content into a new folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loaded starts a runtime with the driver in files loaded and initialised.
func loaded(t *testing.T, opts lua.Options, files map[string]string) *lua.Runtime {
	t.Helper()
	rt := newRuntime(t, opts)
	if err := rt.Load(writeFiles(t, files)); err != nil {
		t.Fatal(err)
	}
	if err := rt.Init(); err != nil {
		t.Fatal(err)
	}
	return rt
}

// eval runs code in the driver and returns its single result.
func eval(t *testing.T, rt *lua.Runtime, code string) any {
	t.Helper()
	out, err := rt.Exec("test", code)
	if err != nil {
		t.Fatalf("%s: %v", code, err)
	}
	if len(out) == 0 {
		return nil
	}
	return out[0]
}

// entries returns the trace entries of one kind, as "name" strings.
func names(rt *lua.Runtime, kind string) []string {
	var out []string
	for _, e := range rt.Trace().Entries() {
		if e.Kind == kind {
			out = append(out, e.Name)
		}
	}
	return out
}

const minimalXML = `<devicedata><name>Test Driver</name><version>7</version><model>tm</model>
<proxies><proxy proxybindingid="5001" name="Test" primary="True">thermostatV2</proxy></proxies>
<connections><connection><id>5001</id><facing>6</facing><connectionname>Thermostat</connectionname><type>2</type><consumer>False</consumer><classes><class><classname>THERMOSTAT</classname></class></classes></connection></connections>
<events><event><id>1</id><name>Fired</name></event></events>
<custom><![CDATA[hello]]></custom>
<config><script file="driver.lua" jit="1"/>
<properties>
<property><name>Mode</name><type>LIST</type><items><item>a</item><item>b</item></items><default>b</default></property>
<property><name>Level</name><type>RANGED_INTEGER</type><minimum>0</minimum><maximum>10</maximum><default>5</default></property>
<property><name>Status</name><type>STRING</type><default>idle</default><readonly>true</readonly></property>
</properties>
<commands><command><name>Go</name><params><param><name>speed</name><type>STRING</type></param></params></command></commands>
<actions><action><name>Reset</name><command>RESET</command></action></actions>
</config></devicedata>`
