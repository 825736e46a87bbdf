// Project queries: the driver's ids, names and room, the other devices
// and proxies of the project, and the controller's facts, answered from
// the Project model.

package lua

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

func (r *Runtime) projectFunctions() map[string]glua.LGFunction {
	str := func(f func() string) glua.LGFunction {
		return func(L *glua.LState) int { L.Push(glua.LString(f())); return 1 }
	}
	c := &r.proj.Controller
	return map[string]glua.LGFunction{
		"GetDeviceID":     func(L *glua.LState) int { L.Push(glua.LNumber(r.proj.DeviceID)); return 1 },
		"GetProxyDevices": r.c4GetProxyDevices,
		"GetProxyDevicesById": func(L *glua.LState) int {
			id := L.CheckInt(2)
			n := 0
			for _, d := range r.allDevices() {
				if d.ProxyOf == id {
					L.Push(glua.LNumber(d.ID))
					n++
				}
			}
			return n
		},
		"GetDeviceDisplayName": func(L *glua.LState) int {
			id := L.OptInt(2, r.proj.DeviceID)
			if d, ok := r.device(id); ok {
				L.Push(glua.LString(d.Name))
			} else {
				L.Push(glua.LNil)
			}
			return 1
		},
		"GetDeviceData": r.c4GetDeviceData,
		"GetDriverConfigInfoById": func(L *glua.LState) int {
			d, _ := r.device(L.CheckInt(2))
			L.Push(glua.LString(topLevelTags([]byte(d.DeviceData))[L.CheckString(3)]))
			return 1
		},
		"AddDevice":             r.c4AddDevice,
		"GetDevicesByC4iName":   r.c4GetDevicesByC4iName,
		"GetProxyDevicesByName": r.c4GetProxyDevicesByName,
		"GetDevicesByName":      r.c4GetDevicesByName,
		"GetDevices":            r.c4GetDevices,
		"GetProjectItems":       r.c4GetProjectItems,
		"RenameDevice": func(L *glua.LState) int {
			id := L.CheckInt(2)
			r.proj.names[id] = L.ToStringMeta(L.Get(3)).String()
			return 0
		},
		"RoomGetId": func(L *glua.LState) int { L.Push(glua.LNumber(r.proj.RoomID)); return 1 },
		"GetRoomID": func(L *glua.LState) int {
			if d, ok := r.device(L.CheckInt(2)); ok {
				L.Push(glua.LNumber(d.Room))
			} else {
				L.Push(glua.LNil)
			}
			return 1
		},
		"GetProjectProperty": func(L *glua.LState) int {
			if v, ok := r.proj.Settings[L.CheckString(2)]; ok {
				L.Push(glua.LString(v))
			} else {
				L.Push(glua.LNil)
			}
			return 1
		},
		"GetUniqueMAC":                str(func() string { return c.MAC }),
		"GetControllerNetworkAddress": str(func() string { return c.Address }),
		"GetMyNetworkAddress":         str(func() string { return c.Address }),
		"GetSystemType":               str(func() string { return c.SystemType }),
		"GetLocale":                   str(func() string { return c.Locale }),
		"GetTimeZone":                 str(func() string { return c.TimeZone }),
		"GetUname":                    str(func() string { return c.Uname }),
		"GetBootID":                   str(func() string { return c.BootID }),
	}
}

// proxyIDs are the driver's proxy ids: configured, else one per <proxy>
// after the device id, else the device itself (a driver without a proxy
// is its own proxy as far as GetProxyDevices goes).
func (r *Runtime) proxyIDs() []int {
	if len(r.proj.ProxyIDs) > 0 {
		return r.proj.ProxyIDs
	}
	if r.driver == nil || len(r.driver.info.Proxies) == 0 {
		return []int{r.proj.DeviceID}
	}
	ids := make([]int, len(r.driver.info.Proxies))
	for i := range ids {
		ids[i] = r.proj.DeviceID + 1 + i
	}
	return ids
}

func (r *Runtime) c4GetProxyDevices(L *glua.LState) int {
	ids := r.proxyIDs()
	for _, id := range ids {
		L.Push(glua.LNumber(id))
	}
	return len(ids)
}

// driverFileName is what C4:GetDriverFileName answers.
func (r *Runtime) driverFileName() string {
	if r.proj.DriverFile != "" {
		return r.proj.DriverFile
	}
	if r.driver == nil {
		return "driver.c4z"
	}
	p := strings.TrimSuffix(r.driver.path, string(filepath.Separator))
	if strings.EqualFold(filepath.Ext(p), ".c4z") {
		return filepath.Base(p)
	}
	if filepath.Ext(p) != "" {
		p = filepath.Dir(p)
	}
	return filepath.Base(p) + ".c4z"
}

// allDevices is the project's devices: this driver, its proxies, then the
// configured ones, names as renamed.
func (r *Runtime) allDevices() []Device {
	name := r.proj.Name
	if name == "" && r.driver != nil {
		name = r.driver.info.Name
	}
	if name == "" {
		name = "Driver"
	}
	var data string
	if r.driver != nil {
		data = r.driver.info.raw
	}
	out := []Device{{ID: r.proj.DeviceID, Name: name, Room: r.proj.RoomID, DriverFile: r.driverFileName(), DeviceData: data}}
	for i, id := range r.proxyIDs() {
		if id == r.proj.DeviceID {
			continue
		}
		proxy := "proxy"
		if r.driver != nil && i < len(r.driver.info.Proxies) {
			proxy = r.driver.info.Proxies[i].Proxy
		}
		out = append(out, Device{ID: id, Name: name, Room: r.proj.RoomID, DriverFile: r.driverFileName(), Proxy: proxy, ProxyOf: r.proj.DeviceID, DeviceData: data})
	}
	out = append(out, r.proj.Devices...)
	for i := range out {
		if n, ok := r.proj.names[out[i].ID]; ok {
			out[i].Name = n
		}
	}
	return out
}

func (r *Runtime) device(id int) (Device, bool) {
	for _, d := range r.allDevices() {
		if d.ID == id {
			return d, true
		}
	}
	return Device{}, false
}

// c4AddDevice is C4:AddDevice(file[, roomId[, name]], callback): the
// device joins the project with the next free id and the callback gets
// (deviceId, tInfo) after the running handler.
func (r *Runtime) c4AddDevice(L *glua.LState) int {
	file := L.CheckString(2)
	room, name := r.proj.RoomID, ""
	var cb *glua.LFunction
	for i := 3; i <= L.GetTop(); i++ {
		switch v := L.Get(i).(type) {
		case glua.LNumber:
			room = int(v)
		case glua.LString:
			name = string(v)
		case *glua.LFunction:
			cb = v
		}
	}
	id := r.proj.DeviceID
	for _, d := range r.allDevices() {
		id = max(id, d.ID)
	}
	id++
	if name == "" {
		name = strings.TrimSuffix(file, filepath.Ext(file))
	}
	r.proj.Devices = append(r.proj.Devices, Device{ID: id, Name: name, Room: room, DriverFile: file})
	if cb != nil {
		env := r.env
		r.post(func() {
			if r.env != env {
				return
			}
			info := r.L.NewTable()
			info.RawSetString("deviceName", glua.LString(name))
			info.RawSetString("roomId", glua.LNumber(room))
			if _, err := r.call("AddDevice callback", cb, glua.LNumber(id), info); err != nil {
				r.addAsyncError(err)
			}
		})
	}
	return 0
}

// c4GetDeviceData is C4:GetDeviceData(id[, tag]): the device's whole
// driver.xml, or the first tag within two levels of its root.
func (r *Runtime) c4GetDeviceData(L *glua.LState) int {
	d, ok := r.device(L.CheckInt(2))
	if !ok || d.DeviceData == "" {
		L.Push(glua.LString(""))
		return 1
	}
	if tag := L.OptString(3, ""); tag != "" {
		L.Push(glua.LString(deviceData(d.DeviceData, tag)))
		return 1
	}
	L.Push(glua.LString(d.DeviceData))
	return 1
}

// idNameTable is {[deviceId]=name} for the devices that match, or nil
// when none does, as the controller answers.
func (r *Runtime) idNameTable(L *glua.LState, match func(Device) bool) int {
	t := L.NewTable()
	n := 0
	for _, d := range r.allDevices() {
		if match(d) {
			t.RawSetInt(d.ID, glua.LString(d.Name))
			n++
		}
	}
	return pushTableOrNil(L, t, n)
}

func (r *Runtime) c4GetDevicesByC4iName(L *glua.LState) int {
	file := L.CheckString(2)
	return r.idNameTable(L, func(d Device) bool { return d.Proxy == "" && strings.EqualFold(d.DriverFile, file) })
}

// c4GetProxyDevicesByName answers a table keyed by device id: the docs say
// a string, but public drivers index the result as a table.
func (r *Runtime) c4GetProxyDevicesByName(L *glua.LState) int {
	name := L.CheckString(2)
	return r.idNameTable(L, func(d Device) bool { return d.Proxy != "" && strings.EqualFold(d.Proxy, name) })
}

func (r *Runtime) c4GetDevicesByName(L *glua.LState) int {
	name := L.CheckString(2)
	room := L.OptInt(3, 0)
	t := L.NewTable()
	for _, d := range r.allDevices() {
		if d.Name == name && (room == 0 || d.Room == room) {
			e := L.NewTable()
			e.RawSetString("deviceId", glua.LNumber(d.ID))
			e.RawSetString("roomId", glua.LNumber(d.Room))
			t.Append(e)
		}
	}
	L.Push(t)
	return 1
}

// c4GetDevices is C4:GetDevices([filter[, locations]]) with the filters
// C4iNames and DeviceIds and a comma list of room ids.
func (r *Runtime) c4GetDevices(L *glua.LState) int {
	names, ids, rooms := map[string]bool{}, map[int]bool{}, map[int]bool{}
	if f, ok := L.Get(2).(*glua.LTable); ok {
		for _, s := range splitList(L.GetField(f, "C4iNames")) {
			names[strings.ToLower(s)] = true
		}
		for _, s := range splitList(L.GetField(f, "DeviceIds")) {
			if n, err := strconv.Atoi(s); err == nil {
				ids[n] = true
			}
		}
	}
	for _, s := range splitList(L.Get(3)) {
		if n, err := strconv.Atoi(s); err == nil {
			rooms[n] = true
		}
	}
	t := L.NewTable()
	n := 0
	for _, d := range r.allDevices() {
		if (len(names) > 0 && !names[strings.ToLower(d.DriverFile)]) || (len(ids) > 0 && !ids[d.ID]) || (len(rooms) > 0 && !rooms[d.Room]) {
			continue
		}
		e := L.NewTable()
		e.RawSetString("deviceName", glua.LString(d.Name))
		e.RawSetString("driverFileName", glua.LString(d.DriverFile))
		e.RawSetString("roomId", glua.LNumber(d.Room))
		e.RawSetString("roomName", glua.LString(r.proj.roomName(d.Room)))
		t.RawSetInt(d.ID, e)
		n++
	}
	return pushTableOrNil(L, t, n)
}

func splitList(v glua.LValue) []string {
	s, ok := v.(glua.LString)
	if !ok {
		if n, ok := v.(glua.LNumber); ok {
			return []string{n.String()}
		}
		return nil
	}
	var out []string
	for _, p := range strings.Split(string(s), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// c4GetProjectItems answers canned project XML built from the model: rooms
// with their devices. Filters are accepted; NO_ROOT_TAGS drops the root.
func (r *Runtime) c4GetProjectItems(L *glua.LState) int {
	noRoot := false
	for i := 2; i <= L.GetTop(); i++ {
		if strings.EqualFold(L.ToStringMeta(L.Get(i)).String(), "NO_ROOT_TAGS") {
			noRoot = true
		}
	}
	byRoom := map[int][]Device{}
	for _, d := range r.allDevices() {
		byRoom[d.Room] = append(byRoom[d.Room], d)
	}
	var b strings.Builder
	if !noRoot {
		b.WriteString("<systemitems>")
	}
	fmt.Fprintf(&b, `<item><id>1</id><name>%s</name><type>2</type><subitems>`, xmlEscape(r.proj.Settings["ProjectName"]))
	rooms := append([]Room(nil), r.proj.Rooms...)
	sort.Slice(rooms, func(i, j int) bool { return rooms[i].ID < rooms[j].ID })
	for _, room := range rooms {
		fmt.Fprintf(&b, `<item><id>%d</id><name>%s</name><type>8</type><subitems>`, room.ID, xmlEscape(room.Name))
		for _, d := range byRoom[room.ID] {
			typ := 6
			if d.Proxy != "" {
				typ = 7
			}
			fmt.Fprintf(&b, `<item><id>%d</id><name>%s</name><type>%d</type><itemdata><c4i>%s</c4i></itemdata></item>`, d.ID, xmlEscape(d.Name), typ, xmlEscape(d.DriverFile))
		}
		b.WriteString("</subitems></item>")
	}
	b.WriteString("</subitems></item>")
	if !noRoot {
		b.WriteString("</systemitems>")
	}
	L.Push(glua.LString(b.String()))
	return 1
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func xmlEscape(s string) string { return xmlEscaper.Replace(s) }

// pushTableOrNil answers t, or nil when it holds no entries (n == 0): the
// controller's answer to a query that found nothing.
func pushTableOrNil(L *glua.LState, t *glua.LTable, n int) int {
	if n == 0 {
		L.Push(glua.LNil)
		return 1
	}
	L.Push(t)
	return 1
}
