// A small packer that does what the controller's packaging does to a
// driver spread over modules: every module becomes a package.preload
// entry in one driver.lua, so require finds it without files. The example
// drivers are shipped both ways, and loading both alike shows that
// require behaves the same in a folder and in a squished driver.

package lua

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Squish packs the driver folder dir: every .lua file below it other than
// driver.lua becomes package.preload["a.b"] (for a/b.lua, or a/b/init.lua),
// in name order, followed by driver.lua itself.
func Squish(dir string) ([]byte, error) {
	main, err := os.ReadFile(filepath.Join(dir, "driver.lua"))
	if err != nil {
		return nil, fmt.Errorf("squish %s: %w", dir, err)
	}
	modules := map[string]string{}
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Ext(p) != ".lua" {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "driver.lua" {
			return err
		}
		name := strings.TrimSuffix(filepath.ToSlash(rel), ".lua")
		name = strings.TrimSuffix(name, "/init")
		modules[strings.ReplaceAll(name, "/", ".")] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("squish %s: %w", dir, err)
	}
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("-- Squished driver: modules are package.preload entries, the driver follows.\n")
	for _, n := range names {
		src, err := os.ReadFile(modules[n])
		if err != nil {
			return nil, fmt.Errorf("squish %s: %w", dir, err)
		}
		fmt.Fprintf(&b, "package.preload[%q] = function(...)\n", n)
		b.Write(src)
		if !bytes.HasSuffix(src, []byte("\n")) {
			b.WriteByte('\n')
		}
		b.WriteString("end\n")
	}
	b.Write(main)
	return b.Bytes(), nil
}
