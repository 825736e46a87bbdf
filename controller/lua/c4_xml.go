// C4:ParseXml and C4:XmlEscapeString. Proxies hand drivers XML (tParams.ARGS,
// UIRequest answers, GetProjectItems), and drivers walk it as the node
// tables ParseXml builds.
package lua

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// c4XMLEscape escapes only &, < and > (quotes stay), as documented.
func c4XMLEscape(L *glua.LState) int {
	s := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(L.CheckString(2))
	L.Push(glua.LString(s))
	return 1
}

// xmlNode is one element as ParseXml returns it.
type xmlNode struct {
	name     string
	attrs    []xml.Attr
	children []*xmlNode
	text     strings.Builder
}

// parseXMLTree reads the document element and everything under it.
func parseXMLTree(s string) (*xmlNode, error) {
	dec := xml.NewDecoder(strings.NewReader(s))
	// Documents declaring Latin-1 and the like are read as they are.
	dec.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	var stack []*xmlNode
	var root *xmlNode
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{name: t.Name.Local, attrs: t.Attr}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			} else if root == nil {
				root = n
			} else {
				return nil, fmt.Errorf("a second top-level element <%s>", t.Name.Local)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no element in the document")
	}
	return root, nil
}

// toLua gives {Name, Attributes, ChildNodes, Value}; the text of an element
// with children is trimmed (it is the indentation between them).
func (n *xmlNode) toLua(L *glua.LState) *glua.LTable {
	t := L.NewTable()
	t.RawSetString("Name", glua.LString(n.name))
	attrs := L.NewTable()
	for _, a := range n.attrs {
		attrs.RawSetString(a.Name.Local, glua.LString(a.Value))
	}
	t.RawSetString("Attributes", attrs)
	kids := L.CreateTable(len(n.children), 0)
	for i, c := range n.children {
		kids.RawSetInt(i+1, c.toLua(L))
	}
	t.RawSetString("ChildNodes", kids)
	text := n.text.String()
	if len(n.children) > 0 {
		text = strings.TrimSpace(text)
	}
	t.RawSetString("Value", glua.LString(text))
	return t
}

// c4ParseXml returns the node table of the document element. On text that
// is not XML it returns nil and a message: the controller's answer there is
// not documented, and public drivers test the result for nil.
func c4ParseXML(L *glua.LState) int {
	root, err := parseXMLTree(L.CheckString(2))
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString("ParseXml: " + err.Error()))
		return 2
	}
	L.Push(root.toLua(L))
	return 1
}
