package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SumsFile lists the SHA-256 of every other file of a run folder, in the
// format of sha256sum(1), so that a lab can file the folder and check later
// that nothing in it changed (mqtthil verify DIR, or sha256sum -c).
const SumsFile = "SHA256SUMS"

// WriteSums writes SumsFile for every file below dir (paths with forward
// slashes, sorted).
func WriteSums(dir string) error {
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == SumsFile {
			return nil
		}
		sum, err := fileSum(p)
		if err != nil {
			return err
		}
		lines = append(lines, sum+"  "+rel)
		return nil
	})
	if err != nil {
		return fmt.Errorf("SHA256SUMS: %w", err)
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] })
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return os.WriteFile(filepath.Join(dir, SumsFile), b.Bytes(), 0o644)
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// VerifySums checks a run folder against its SumsFile. It returns one
// problem per file that changed, is missing, or is in the folder without
// a sum; err is for a folder that cannot be checked at all.
func VerifySums(dir string) (problems []string, err error) {
	f, err := os.Open(filepath.Join(dir, SumsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 || name == "" {
			return nil, fmt.Errorf("%s line %d: not a sha256sum line: %q", SumsFile, n, line)
		}
		if strings.HasPrefix(name, "/") || strings.Contains("/"+name+"/", "/../") {
			return nil, fmt.Errorf("%s line %d: %q is outside the folder", SumsFile, n, name)
		}
		listed[name] = true
		got, err := fileSum(filepath.Join(dir, filepath.FromSlash(name)))
		switch {
		case err != nil:
			problems = append(problems, name+": missing")
		case got != sum:
			problems = append(problems, name+": changed")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != SumsFile && !listed[rel] {
			problems = append(problems, rel+": not in "+SumsFile)
		}
		return nil
	})
	return problems, err
}
