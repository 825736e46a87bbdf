// driver.xml is read fully here, because drivers ask for its contents at
// run time (C4:GetDriverConfigInfo, C4:GetDeviceData, C4:GetCapability)
// and the environment needs its properties, commands, actions, proxies
// and connections to answer project queries and to drive the driver.

package lua

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// DriverInfo is what driver.xml declares.
type DriverInfo struct {
	Name         string
	Version      string
	Model        string
	Manufacturer string
	Properties   []PropertyDef
	// Commands are the names of the programming commands.
	Commands    []string
	CommandDefs []CommandDef
	Actions     []ActionDef
	Proxies     []ProxyDef
	Connections []ConnectionDef
	Events      []EventDef
	// Script is the driver's Lua file named by <script file="...">.
	Script string
	// JIT is <script jit="1">: the controller would run LuaJIT. The
	// language is Lua 5.1 either way, which is what runs here.
	JIT bool
	// Encryption is <script encryption="...">, "" when the script is plain.
	Encryption string

	inline string            // a script given inside <script>...</script>
	tags   map[string]string // top-level tag → inner XML (first occurrence)
	raw    string            // the whole <devicedata> document
}

// PropertyDef is one property of driver.xml.
type PropertyDef struct {
	Name     string
	Type     string
	Default  string
	Items    []string // LIST items
	Minimum  string   // RANGED_INTEGER / RANGED_FLOAT
	Maximum  string
	ReadOnly bool
}

// CommandDef is one programming command with its parameter names.
type CommandDef struct {
	Name   string
	Params []string
}

// ActionDef is one Actions-tab button: ExecuteCommand("LUA_ACTION",
// {ACTION=Command, ...params}).
type ActionDef struct {
	Name    string
	Command string
	Params  []string
}

// ProxyDef is one <proxy> of driver.xml.
type ProxyDef struct {
	BindingID int
	Name      string
	Proxy     string // the proxy type, e.g. "thermostatV2"
	Primary   bool
}

// ConnectionDef is one <connection> (binding) of driver.xml.
type ConnectionDef struct {
	ID       int
	Name     string
	Type     int
	Consumer bool
	Classes  []string
}

// EventDef is one static event of driver.xml.
type EventDef struct {
	ID   int
	Name string
}

type xmlText string

func (t *xmlText) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var s string
	if err := d.DecodeElement(&s, &start); err != nil {
		return err
	}
	*t = xmlText(strings.TrimSpace(s))
	return nil
}

type driverXML struct {
	Name         xmlText `xml:"name"`
	Version      xmlText `xml:"version"`
	Model        xmlText `xml:"model"`
	Manufacturer xmlText `xml:"manufacturer"`
	Proxies      []struct {
		BindingID xmlText `xml:"proxybindingid,attr"`
		Name      xmlText `xml:"name,attr"`
		Primary   xmlText `xml:"primary,attr"`
		Value     xmlText `xml:",chardata"`
	} `xml:"proxies>proxy"`
	Connections []struct {
		ID       xmlText   `xml:"id"`
		Name     xmlText   `xml:"connectionname"`
		Type     xmlText   `xml:"type"`
		Consumer xmlText   `xml:"consumer"`
		Classes  []xmlText `xml:"classes>class>classname"`
	} `xml:"connections>connection"`
	Events []struct {
		ID   xmlText `xml:"id"`
		Name xmlText `xml:"name"`
	} `xml:"events>event"`
	Config struct {
		Script struct {
			File       string `xml:"file,attr"`
			JIT        string `xml:"jit,attr"`
			Encryption string `xml:"encryption,attr"`
			Text       string `xml:",chardata"`
		} `xml:"script"`
		Properties []struct {
			Name     xmlText   `xml:"name"`
			Type     xmlText   `xml:"type"`
			Default  string    `xml:"default"`
			Items    []xmlText `xml:"items>item"`
			Minimum  xmlText   `xml:"minimum"`
			Maximum  xmlText   `xml:"maximum"`
			ReadOnly xmlText   `xml:"readonly"`
		} `xml:"properties>property"`
		Commands []struct {
			Name   xmlText   `xml:"name"`
			Params []xmlText `xml:"params>param>name"`
		} `xml:"commands>command"`
		Actions []struct {
			Name    xmlText   `xml:"name"`
			Command xmlText   `xml:"command"`
			Params  []xmlText `xml:"params>param>name"`
		} `xml:"actions>action"`
		// Events may also sit under <config> in older drivers.
		Events []struct {
			ID   xmlText `xml:"id"`
			Name xmlText `xml:"name"`
		} `xml:"events>event"`
	} `xml:"config"`
}

func parseDriverXML(name string, data []byte) (DriverInfo, error) {
	var d driverXML
	if err := xml.Unmarshal(data, &d); err != nil {
		return DriverInfo{}, fmt.Errorf("%s: %w", name, err)
	}
	info := DriverInfo{
		Name: string(d.Name), Version: string(d.Version), Model: string(d.Model), Manufacturer: string(d.Manufacturer),
		Script:     strings.TrimSpace(d.Config.Script.File),
		JIT:        strings.TrimSpace(d.Config.Script.JIT) == "1",
		Encryption: strings.TrimSpace(d.Config.Script.Encryption),
		inline:     d.Config.Script.Text,
		raw:        string(data),
	}
	if info.Encryption == "0" {
		info.Encryption = ""
	}
	for _, p := range d.Config.Properties {
		def := PropertyDef{Name: string(p.Name), Type: string(p.Type), Default: p.Default, Minimum: string(p.Minimum), Maximum: string(p.Maximum), ReadOnly: strings.EqualFold(string(p.ReadOnly), "true")}
		for _, it := range p.Items {
			def.Items = append(def.Items, string(it))
		}
		info.Properties = append(info.Properties, def)
	}
	for _, c := range d.Config.Commands {
		info.Commands = append(info.Commands, string(c.Name))
		info.CommandDefs = append(info.CommandDefs, CommandDef{Name: string(c.Name), Params: texts(c.Params)})
	}
	for _, a := range d.Config.Actions {
		info.Actions = append(info.Actions, ActionDef{Name: string(a.Name), Command: string(a.Command), Params: texts(a.Params)})
	}
	for _, p := range d.Proxies {
		info.Proxies = append(info.Proxies, ProxyDef{BindingID: atoiOr(string(p.BindingID)), Name: string(p.Name), Proxy: string(p.Value), Primary: strings.EqualFold(string(p.Primary), "true")})
	}
	for _, c := range d.Connections {
		def := ConnectionDef{ID: atoiOr(string(c.ID)), Name: string(c.Name), Type: atoiOr(string(c.Type)), Consumer: strings.EqualFold(string(c.Consumer), "true")}
		def.Classes = texts(c.Classes)
		info.Connections = append(info.Connections, def)
	}
	for _, e := range append(d.Events, d.Config.Events...) {
		info.Events = append(info.Events, EventDef{ID: atoiOr(string(e.ID)), Name: string(e.Name)})
	}
	info.tags = topLevelTags(data)
	return info, nil
}

func texts(ts []xmlText) []string {
	var out []string
	for _, t := range ts {
		out = append(out, string(t))
	}
	return out
}

// topLevelTags maps each child element of the root to its inner XML, the
// first occurrence winning, as C4:GetDriverConfigInfo answers.
func topLevelTags(data []byte) map[string]string {
	var root struct {
		Children []struct {
			XMLName xml.Name
			Inner   string `xml:",innerxml"`
		} `xml:",any"`
	}
	tags := map[string]string{}
	if xml.NewDecoder(bytes.NewReader(data)).Decode(&root) != nil {
		return tags
	}
	for _, c := range root.Children {
		if _, ok := tags[c.XMLName.Local]; !ok {
			tags[c.XMLName.Local] = strings.TrimSpace(unCDATA(c.Inner))
		}
	}
	return tags
}

// unCDATA returns the text of an element whose whole content is one CDATA
// section, which is how drivers store text in driver.xml.
func unCDATA(s string) string {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "<![CDATA[") && strings.HasSuffix(t, "]]>") && strings.Count(t, "<![CDATA[") == 1 {
		return t[len("<![CDATA[") : len(t)-3]
	}
	return s
}

// ConfigInfo is the inner XML of a top-level tag of driver.xml ("" when
// absent), what C4:GetDriverConfigInfo(tag) returns.
func (d DriverInfo) ConfigInfo(tag string) string { return d.tags[tag] }

// deviceData finds the first element named tag within two levels of the
// root and returns its inner XML, as C4:GetDeviceData(id, tag) does.
func deviceData(doc, tag string) string {
	dec := xml.NewDecoder(strings.NewReader(doc))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth <= 3 && depth > 1 && t.Name.Local == tag {
				var inner struct {
					Inner string `xml:",innerxml"`
				}
				if dec.DecodeElement(&inner, &t) != nil {
					return ""
				}
				return strings.TrimSpace(unCDATA(inner.Inner))
			}
		case xml.EndElement:
			depth--
		}
	}
}
