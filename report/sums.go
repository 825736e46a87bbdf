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
	names, err := folderFiles(dir)
	if err != nil {
		return fmt.Errorf("SHA256SUMS: %w", err)
	}
	var b bytes.Buffer
	for _, name := range names {
		sum, err := fileSum(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("SHA256SUMS: %w", err)
		}
		b.WriteString(sum + "  " + name + "\n")
	}
	return os.WriteFile(filepath.Join(dir, SumsFile), b.Bytes(), 0o644)
}

// folderFiles lists the files below dir but SumsFile, by their paths in
// it with forward slashes, sorted.
func folderFiles(dir string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); rel != SumsFile {
			names = append(names, rel)
		}
		return nil
	})
	sort.Strings(names)
	return names, err
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
	names, err := folderFiles(dir)
	for _, name := range names {
		if !listed[name] {
			problems = append(problems, name+": not in "+SumsFile)
		}
	}
	return problems, err
}
