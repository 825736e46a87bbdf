//go:build unix

package steps

import "syscall"

// mapZeros maps n bytes of anonymous memory: zero, outside Go's heap, and
// resident only where written (reads share the kernel's zero page).
func mapZeros(n int) ([]byte, bool) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, false
	}
	return b, true
}
