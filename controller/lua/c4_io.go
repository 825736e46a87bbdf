// The state the networking, file and crypto areas of the C4 shim keep per
// runtime, and the close list that ends their goroutines and sockets when
// the runtime closes. It lives apart from runtime.go so those areas can grow
// without touching the core of the runtime.
package lua

import (
	"sync"
)

// ioState belongs to one runtime. Fields the Lua side uses are touched only
// by the loop goroutine; closers and wg are shared with I/O goroutines.
type ioState struct {
	http  *httpState
	files *fileState
	net   *netState

	mu      sync.Mutex
	closed  bool
	closers map[int]func()
	next    int
	wg      sync.WaitGroup // every I/O goroutine the areas start
}

// ioOf returns the runtime's I/O state, making it on first use (during
// setup, before the loop starts).
func (r *Runtime) ioOf() *ioState {
	if r.io == nil {
		r.io = &ioState{closers: map[int]func(){}}
	}
	return r.io
}

// onClose registers fn to run when the runtime closes and returns a function
// that unregisters it (for resources the driver closed itself). When the
// runtime is already closing fn runs at once.
func (s *ioState) onClose(fn func()) (cancel func()) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		fn()
		return func() {}
	}
	id := s.next
	s.next++
	s.closers[id] = fn
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.closers, id)
		s.mu.Unlock()
	}
}

// goIO starts fn on a goroutine that Close waits for. It reports false (and
// does not start fn) once the runtime is closing.
func (s *ioState) goIO(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// closeIO runs every close hook (sockets, listeners, transfers in flight)
// and waits for the I/O goroutines to end. Close calls it after the loop
// has stopped, so no callback can reach Lua any more.
func (r *Runtime) closeIO() {
	s := r.io
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closed = true
	fns := s.closers
	s.closers = map[int]func(){}
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
	s.wg.Wait()
	if s.files != nil {
		s.files.closeAll()
	}
}

// installIOGlobals sets the globals of the networking, file and crypto
// areas: bit, lpack's string.pack/unpack and c4json.
func (r *Runtime) installIOGlobals() {
	installBit(r.L)
	installPack(r.L)
	installC4JSON(r.L)
}
