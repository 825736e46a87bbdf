// A pool of stations: several benches, each a controller running the probe
// driver, used by one run. Each station runs one scenario at a time; a
// scenario takes whichever station is free. A station that fails its
// health check before the run is left out (or, with
// --require-all-stations, stops the run as a usage error); a station lost
// during a scenario makes that scenario an error, which is never retried,
// and leaves the pool while the others carry on.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/remote"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
)

// usageError is a problem with what the run was asked to do, found before
// anything ran: exit code 2, not 3.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// stationFlag collects --station values; each may name a station file, a
// folder of them, or "virtual".
type stationFlag struct{ values *[]string }

func (f stationFlag) String() string {
	if f.values == nil {
		return ""
	}
	return strings.Join(*f.values, ",")
}

func (f stationFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty station")
	}
	*f.values = append(*f.values, v)
	return nil
}

// expandStations replaces each folder among the --station values by its
// station files (*.yaml, *.yml, sorted).
func expandStations(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		st, err := os.Stat(v)
		if v == "virtual" || err != nil || !st.IsDir() {
			out = append(out, v)
			continue
		}
		var files []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, err := filepath.Glob(filepath.Join(v, pat))
			if err != nil {
				return nil, err
			}
			files = append(files, m...)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("--station %s: a folder with no station files (*.yaml)", v)
		}
		sort.Strings(files)
		out = append(out, files...)
	}
	return out, nil
}

// poolStation is one bench of the pool: its station file, the control
// listener the harness hosts for its probe, and the configuration to
// reach the probe through it.
type poolStation struct {
	file    string
	st      remote.Station
	b       *emulator.Broker
	rc      remote.Config
	connect time.Duration
}

type stationPool struct {
	mu       sync.Mutex
	free     chan *poolStation
	live     int
	gone     chan struct{} // closed when no station is left
	all      []*poolStation
	wait     time.Duration // the longest a scenario waits for a free station
	note     func(format string, a ...any)
	events   []string
	identity map[string]controller.Identity // by station name

	// onLease, when set (tests), is called with the station's name once a
	// scenario has its controller, before the scenario's first step.
	onLease func(station string)
}

// poolHook is set by tests to watch stations being handed out; a pool
// takes the hook set when it starts. It is atomic so that one test may set
// it while others start pools of their own.
var poolHook atomic.Pointer[func(station string)]

// loadPool reads the station files of a pool and checks they can share
// one run.
func loadPool(files []string) ([]*poolStation, error) {
	var out []*poolStation
	seen := map[string]string{}
	listen := map[string]string{}
	for _, f := range files {
		if f == "virtual" {
			return nil, errors.New(`--station virtual makes a station per scenario and cannot be part of a pool: start a virtual station per station file (mqtthil station --virtual) and name the files`)
		}
		st, err := remote.LoadStation(f)
		if err != nil {
			return nil, fmt.Errorf("--station: %w", err)
		}
		if st.Virtual {
			return nil, fmt.Errorf("--station %s: virtual: true makes a station per scenario and cannot be part of a pool; a pool takes bench stations (mqtthil station --virtual runs one)", f)
		}
		if other, dup := seen[st.Name]; dup {
			return nil, fmt.Errorf("--station %s and %s: both are named %q; reports tell stations apart by name", other, f, st.Name)
		}
		seen[st.Name] = f
		if other, dup := listen[st.Control.Listen]; dup {
			return nil, fmt.Errorf("--station %s and %s: both host their control listener on %s; each station needs its own", other, f, st.Control.Listen)
		}
		listen[st.Control.Listen] = f
		if len(out) > 0 {
			first := out[0]
			if first.st.DUT != st.DUT || first.st.AllowAnonymous != st.AllowAnonymous {
				return nil, fmt.Errorf("--station %s and %s: their dut sections (or allow_anonymous) differ; the stations of a pool share the run's DUT listeners", first.file, f)
			}
		}
		connect := time.Duration(st.Timeouts.Connect)
		if connect <= 0 {
			connect = 60 * time.Second
		}
		out = append(out, &poolStation{file: f, st: st, connect: connect})
	}
	return out, nil
}

// poolController sets a run up on a pool of bench stations: every
// station's control listener opens, every probe gets its health check
// (all at once, so a missing station costs its connect time-out once),
// and the stations that pass make the pool.
func poolController(cfg runConfig, note func(format string, a ...any)) (configuredRun, error) {
	stations, err := loadPool(cfg.stations)
	if err != nil {
		return configuredRun{}, usageError{err}
	}
	if cfg.concurrency > len(stations) {
		return configuredRun{}, usageError{fmt.Errorf("%d stations run one scenario each at a time: --concurrency %d is more than that; leave it out or give at most %d", len(stations), cfg.concurrency, len(stations))}
	}
	errs := make([]error, len(stations))
	var wg sync.WaitGroup
	for i, s := range stations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.start()
		}()
	}
	wg.Wait()
	p := &stationPool{free: make(chan *poolStation, len(stations)), gone: make(chan struct{}), wait: cfg.scenarioTimeout,
		note: note, identity: map[string]controller.Identity{}}
	if h := poolHook.Load(); h != nil {
		p.onLease = *h
	}
	var missing []string
	for i, s := range stations {
		if errs[i] != nil {
			missing = append(missing, fmt.Sprintf("station %s (%s): %v", s.st.Name, s.file, errs[i]))
			if s.b != nil {
				// Its probe may still come: it finds no listener rather
				// than a run that will not use it.
				s.b.Close()
				s.b = nil
			}
			continue
		}
		p.all = append(p.all, s)
		p.free <- s
		p.live++
	}
	end := func() {
		for _, s := range stations {
			if s.b != nil {
				s.b.Close()
			}
		}
	}
	if len(missing) > 0 && cfg.requireAllStations {
		end()
		return configuredRun{}, usageError{fmt.Errorf("--require-all-stations: %s", strings.Join(missing, "; "))}
	}
	for _, m := range missing {
		p.event("left out before the run: %s", m)
	}
	if p.live == 0 {
		end()
		return configuredRun{}, fmt.Errorf("no station of the pool passed its health check: %s", strings.Join(missing, "; "))
	}
	names := make([]string, len(p.all))
	for i, s := range p.all {
		names[i] = s.st.Name
	}
	note("station pool: %d of %d station(s) (%s), %d scenario(s) at a time", p.live, len(stations), strings.Join(names, ", "), cfg.concurrency)
	unit := time.Duration(cfg.timeScale * float64(time.Second))
	return configuredRun{
		newController: p.lease,
		observer: func() (controller.Controller, error) {
			return sim.New(sim.Options{KeepAliveUnit: unit}), nil
		},
		end:       end,
		dutListen: stations[0].st.DUT.Listen,
		dutHost:   stations[0].st.DUT.Host,
		pool:      p,
	}, nil
}

// start opens the station's control listener and runs its health check.
func (s *poolStation) start() error {
	opts := emulator.Options{ControlAddr: s.st.Control.Listen, AllowAnonymous: s.st.AllowAnonymous}
	if s.st.Control.User != "" {
		opts.ControlAuth = map[string]string{s.st.Control.User: s.st.Control.Password}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := emulator.Start(ctx, opts)
	if err != nil {
		return fmt.Errorf("the control listener on %s: %w", s.st.Control.Listen, err)
	}
	s.b = b
	s.rc = s.st.Config(b.ControlAddr)
	s.rc.ClientID = "mqtthil-harness-" + s.st.StationID
	wait, cancelWait := context.WithTimeout(context.Background(), s.connect)
	defer cancelWait()
	rc := s.rc
	rc.Reset = true
	c, err := remote.DialWait(wait, rc)
	if err == nil {
		err = healthCheck(c, s.st)
		c.Close()
	}
	return err
}

// dial reaches the station's probe over its control channel, waiting as
// long as the station file allows.
func (s *poolStation) dial() (*remote.Controller, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.connect)
	defer cancel()
	return remote.DialWait(ctx, s.rc)
}

func (p *stationPool) event(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	p.mu.Lock()
	p.events = append(p.events, msg)
	p.mu.Unlock()
	p.note("warning: %s", msg)
}

// Events are what happened to stations: left out, lost.
func (p *stationPool) Events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// lease gives a scenario a free station's controller, waiting for one
// while every station is busy. A station whose probe does not answer
// leaves the pool, and the scenario ends as an error.
func (p *stationPool) lease() (controller.Controller, error) {
	var s *poolStation
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	select {
	case s = <-p.free:
	case <-p.gone:
		return nil, errors.New("no station is left in the pool")
	case <-timer.C:
		return nil, fmt.Errorf("no station of the pool was free within %s", p.wait)
	}
	c, err := s.dial()
	if err != nil {
		p.drop(s, err)
		return nil, fmt.Errorf("station %s: %w", s.st.Name, err)
	}
	pc := &pooledController{Controller: c, pool: p, station: s}
	p.mu.Lock()
	p.identity[s.st.Name] = pc.Identity()
	p.mu.Unlock()
	if p.onLease != nil {
		p.onLease(s.st.Name)
	}
	return pc, nil
}

// eachStation calls f once for every station of the pool, before the run,
// with a way to reach that station's controller alone: the fingerprint is
// taken on each, since a lab's benches may run different firmware. No
// scenario runs meanwhile, so every live station is free.
func (p *stationPool) eachStation(f func(station string, newController func() (controller.Controller, error))) {
	var held []*poolStation
	for len(p.free) > 0 {
		held = append(held, <-p.free)
	}
	for _, s := range held {
		f(s.st.Name, func() (controller.Controller, error) {
			c, err := s.dial()
			if err != nil {
				return nil, fmt.Errorf("station %s: %w", s.st.Name, err)
			}
			return &pooledController{Controller: c, pool: p, station: s, held: true}, nil
		})
	}
	for _, s := range held {
		p.free <- s
	}
}

// release puts a station back after its scenario, unless its bench broke
// during the scenario: then it leaves the pool.
func (p *stationPool) release(s *poolStation, lost error) {
	if lost != nil {
		p.drop(s, lost)
		return
	}
	p.free <- s
}

func (p *stationPool) drop(s *poolStation, why error) {
	p.event("station %s left the pool during the run: %v", s.st.Name, why)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live--
	if p.live == 0 {
		close(p.gone)
	}
}

// Identities are the controllers the pool's stations reported, by station
// name order.
func (p *stationPool) Identities() []controller.Identity {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.identity))
	for n := range p.identity {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]controller.Identity, len(names))
	for i, n := range names {
		out[i] = p.identity[n]
	}
	return out
}

// pooledController is a station's controller for one scenario: it names
// its station in its identity, and gives the station back when the
// scenario closes it.
type pooledController struct {
	*remote.Controller
	pool    *stationPool
	station *poolStation
	once    sync.Once
	// held is set when the caller holds the station (eachStation): Close
	// then leaves it out of the free list.
	held bool
}

func (c *pooledController) Identity() controller.Identity {
	id := c.Controller.Identity()
	id.Station = c.station.st.Name
	return id
}

func (c *pooledController) Close() error {
	err := c.Controller.Close()
	if c.held {
		return err
	}
	c.once.Do(func() { c.pool.release(c.station, c.Controller.BenchErr()) })
	return err
}
