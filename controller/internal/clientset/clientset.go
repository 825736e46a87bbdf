// Package clientset is a controller's bookkeeping of its client objects,
// shared by the in-process controllers (controller/sim, controller/mosq):
// Close must destroy every object not yet destroyed, and no object may be
// created after Close.
package clientset

import (
	"errors"
	"sync"
)

// ErrClosed is returned by Add once the set is closed.
var ErrClosed = errors.New("controller closed")

// Client is what the set keeps: an object that can be destroyed.
type Client interface {
	comparable
	Destroy()
}

// Set holds a controller's live client objects. The zero value is an empty,
// open set.
type Set[C Client] struct {
	mu      sync.Mutex
	clients map[C]struct{}
	closed  bool
}

// Add creates a client with create and keeps it. create runs under the
// set's lock, so that a concurrent Close either sees the new client or
// refuses it; it must not call back into the set.
func (s *Set[C]) Add(create func() (C, error)) (C, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		var zero C
		return zero, ErrClosed
	}
	c, err := create()
	if err != nil {
		return c, err
	}
	if s.clients == nil {
		s.clients = map[C]struct{}{}
	}
	s.clients[c] = struct{}{}
	return c, nil
}

// Forget drops a client that has been destroyed.
func (s *Set[C]) Forget(c C) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
}

// Close refuses new clients and destroys every client still kept. Destroy
// runs without the set's lock, since it calls Forget.
func (s *Set[C]) Close() {
	s.mu.Lock()
	s.closed = true
	all := make([]C, 0, len(s.clients))
	for c := range s.clients {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.Destroy()
	}
}
