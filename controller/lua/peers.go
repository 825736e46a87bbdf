// A project's other drivers. A driver rarely lives alone: a bridge owns
// the MQTT connection and its child drivers ask it to subscribe and publish
// through a binding; it hands them what arrives with C4:SendToDevice. A
// device of the project that names a driver runs it in a runtime of its
// own (its own Lua state, loop, clients and files), on the same clock, and
// messages between the drivers go as on a controller: C4:SendToDevice
// becomes the device's ExecuteCommand, C4:SendToProxy on a binding becomes
// ReceivedFromProxy at the other end of every connection of that binding.
// Delivery is queued, never a call into the other driver: two drivers that
// message each other at once cannot deadlock.

package lua

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	glua "github.com/yuin/gopher-lua"
)

// peerSet is the runtimes of one project, by device id; every runtime of
// the project holds the same set.
type peerSet struct {
	mu       sync.Mutex
	byDevice map[int]*Runtime
}

func (s *peerSet) get(dev int) *Runtime {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byDevice[dev]
}

// StartProjectDrivers starts the driver of every device of the project
// that names one (Device.Driver), each with its Device.Properties, after
// this runtime's own driver has started. Each runs until this runtime
// closes. An error names the device.
func (r *Runtime) StartProjectDrivers() error {
	var devs []Device
	for _, d := range r.proj.Devices {
		if d.Driver != "" {
			devs = append(devs, d)
		}
	}
	if len(devs) == 0 {
		return nil
	}
	if r.peers.Load() == nil {
		r.peers.Store(&peerSet{byDevice: map[int]*Runtime{r.proj.DeviceID: r}})
	}
	for _, d := range devs {
		if err := r.startPeer(d); err != nil {
			return fmt.Errorf("project device %d (%s): %w", d.ID, d.Driver, err)
		}
	}
	return nil
}

func (r *Runtime) startPeer(d Device) error {
	if r.peers.Load().get(d.ID) != nil {
		return errors.New("the device id is taken by another driver of the project")
	}
	var proj *Project
	if err := r.Do(func(*glua.LState) error { proj = r.peerProject(d); return nil }); err != nil {
		return err
	}
	opts := r.opts
	opts.Project, opts.ProjectFile = proj, ""
	opts.DeviceID = d.ID
	// The same clock reading now: timers of both drivers fire in the order
	// their driver times say.
	opts.Start = r.clock.Now()
	opts.TraceSink = nil
	opts.FilesDir = ""
	opts.Log = prefixed{w: r.opts.Log, prefix: fmt.Sprintf("device %d: ", d.ID)}
	p, err := New(opts)
	if err != nil {
		return err
	}
	set := r.peers.Load()
	p.peers.Store(set)
	set.mu.Lock()
	set.byDevice[d.ID] = p
	r.owned = append(r.owned, p)
	set.mu.Unlock()
	if err := p.Load(d.Driver); err != nil {
		return err
	}
	props := make(map[string]string, len(d.Properties))
	for k, v := range d.Properties {
		for name, val := range r.opts.PropertyVars {
			v = strings.ReplaceAll(v, "{{"+name+"}}", val)
		}
		props[k] = v
	}
	if err := p.SetProperties(props); err != nil {
		return err
	}
	return p.Init()
}

// peerProject is the project as the driver of device d sees it: d is its
// own device, and this runtime's device one of the others. On the loop.
func (r *Runtime) peerProject(d Device) *Project {
	p := *r.proj
	p.DeviceID, p.Name, p.RoomID, p.DriverFile = d.ID, d.Name, d.Room, d.DriverFile
	p.ProxyIDs = nil
	for _, o := range r.proj.Devices {
		if o.ProxyOf == d.ID {
			p.ProxyIDs = append(p.ProxyIDs, o.ID)
		}
	}
	p.Devices = nil
	for _, o := range r.proj.Devices {
		if o.ID != d.ID {
			p.Devices = append(p.Devices, o)
		}
	}
	self := Device{ID: r.proj.DeviceID, Name: r.proj.Name, Room: r.proj.RoomID, DriverFile: r.proj.DriverFile}
	if r.driver != nil {
		self.Name = or(self.Name, r.driver.info.Name)
	}
	self.DriverFile = r.driverFileName()
	p.Devices = append(p.Devices, self)
	p.Bindings = slices.Clone(r.proj.Bindings)
	p.names = nil
	return &p
}

// Peer is the runtime of another driver of the project, nil when device
// dev runs none.
func (r *Runtime) Peer(dev int) *Runtime {
	if dev == r.proj.DeviceID {
		return nil
	}
	return r.peers.Load().get(dev)
}

// PeerDevices are the device ids of the project's other drivers, in
// order.
func (r *Runtime) PeerDevices() []int {
	set := r.peers.Load()
	if set == nil {
		return nil
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	var out []int
	for id := range set.byDevice {
		if id != r.proj.DeviceID {
			out = append(out, id)
		}
	}
	sort.Ints(out)
	return out
}

// ProjectErrors are the code errors raised so far in callbacks and timers
// of this driver and, each naming its device, of the project's other
// drivers.
func (r *Runtime) ProjectErrors() []error {
	errs := r.Errors()
	for _, id := range r.PeerDevices() {
		for _, err := range r.peers.Load().get(id).Errors() {
			errs = append(errs, fmt.Errorf("device %d: %w", id, err))
		}
	}
	return errs
}

// deliverTo queues an entry point call on the driver of device dev, with
// params as a table of strings; false when no driver of the project runs
// on dev. Called on the sender's loop.
func (r *Runtime) deliverTo(dev int, entry string, args []glua.LValue, params map[string]string) bool {
	p := r.peers.Load().get(dev)
	if p == nil || p == r {
		return false
	}
	p.post(func() {
		all := append(slices.Clone(args), stringTable(p.L, params))
		if err := p.callEntry(entry, all...); err != nil {
			p.addAsyncError(err)
		}
	})
	return true
}

// proxyPartners are the ends of the project's connections at this
// driver's binding id: the device and its binding id on the other side.
func (r *Runtime) proxyPartners(binding int) [][2]int {
	me := map[int]bool{r.proj.DeviceID: true}
	for _, id := range r.proj.ProxyIDs {
		me[id] = true
	}
	var out [][2]int
	for _, b := range r.proj.Bindings {
		switch {
		case me[b.Provider] && b.ProviderBinding == binding:
			out = append(out, [2]int{b.Consumer, b.ConsumerBinding})
		case me[b.Consumer] && b.ConsumerBinding == binding:
			out = append(out, [2]int{b.Provider, b.ProviderBinding})
		}
	}
	return out
}

// protocolOf is the device whose driver takes messages for dev: dev
// itself, or the device a proxy belongs to.
func (r *Runtime) protocolOf(dev int) int {
	for _, d := range r.proj.Devices {
		if d.ID == dev && d.ProxyOf != 0 {
			return d.ProxyOf
		}
	}
	return dev
}

// c4SendToProxy is C4:SendToProxy(idBinding, strCommand, tParams, ...):
// the message goes to the driver at the other end of every connection of
// that binding the project has, when a driver of the project runs there;
// what a proxy of the controller would do with it lies outside the
// runtime, and the call is in the trace either way.
func (r *Runtime) c4SendToProxy(L *glua.LState) int {
	binding := L.CheckInt(2)
	cmd := L.CheckString(3)
	if r.peers.Load() == nil {
		return 0
	}
	params := paramsOf(L, L.Get(4))
	for _, end := range r.proxyPartners(binding) {
		r.deliverTo(r.protocolOf(end[0]), "ReceivedFromProxy", []glua.LValue{glua.LNumber(end[1]), glua.LString(cmd)}, params)
	}
	return 0
}

// paramsOf is a Lua table of parameters as strings, as the controller
// hands them on.
func paramsOf(L *glua.LState, v glua.LValue) map[string]string {
	out := map[string]string{}
	t, ok := v.(*glua.LTable)
	if !ok {
		return out
	}
	t.ForEach(func(k, v glua.LValue) {
		out[L.ToStringMeta(k).String()] = L.ToStringMeta(v).String()
	})
	return out
}

// closePeers closes the project's other drivers this runtime started.
func (r *Runtime) closePeers() error {
	set := r.peers.Load()
	if set == nil {
		return nil
	}
	set.mu.Lock()
	owned := r.owned
	r.owned = nil
	set.mu.Unlock()
	var errs []error
	for _, p := range owned {
		if err := p.Close(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, fmt.Errorf("project device %d: %w", p.proj.DeviceID, err))
		}
	}
	return errors.Join(errs...)
}

// prefixed writes each line of another driver's log with the device it
// came from.
type prefixed struct {
	w      io.Writer
	prefix string
}

func (p prefixed) Write(b []byte) (int, error) {
	if _, err := p.w.Write(append([]byte(p.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// resolveDrivers makes the project's driver paths relative to dir (the
// folder of the project file; "" leaves them), and names each device's
// driver file after its driver when the project does not.
func (p *Project) resolveDrivers(dir string) {
	for i, d := range p.Devices {
		if d.Driver == "" {
			continue
		}
		if dir != "" && !filepath.IsAbs(d.Driver) {
			p.Devices[i].Driver = filepath.Join(dir, d.Driver)
		}
		if d.DriverFile == "" {
			base := filepath.Base(strings.TrimSuffix(d.Driver, string(filepath.Separator)))
			if base == "driver.lua" {
				base = filepath.Base(filepath.Dir(d.Driver))
			}
			p.Devices[i].DriverFile = strings.TrimSuffix(base, filepath.Ext(base)) + ".c4z"
		}
	}
}
