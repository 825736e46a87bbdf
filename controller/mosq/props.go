//go:build libmosquitto

package mosq

/*
#include <stdlib.h>
#include "mosq.h"
*/
import "C"

import (
	"strings"
	"unsafe"

	"github.com/mqtthil/mqtthil/controller"
)

// cProps builds a libmosquitto property list from the driver's table, as
// the controller's binding does before it calls the library: one
// mosquitto_property_add_* per entry of controller.Props.List, in that
// order (a repeated property is added again, so the library's own check
// sees it), user properties of a key=value table by key. A value
// of the wrong type or out of range gives 3; libmosquitto's own add
// functions give 18 for a string that is not valid UTF-8. The caller frees
// the list with freeProps. A nil or empty table gives a nil list.
func cProps(p controller.Props) (*C.mosquitto_property, int) {
	if len(p) == 0 {
		return nil, 0
	}
	var list *C.mosquitto_property
	fail := func(rc int) (*C.mosquitto_property, int) {
		freeProps(list)
		return nil, rc
	}
	for _, e := range p.List() {
		def, v := e.Def, e.Value
		id := C.int(def.ID)
		var rc C.int
		switch def.Kind {
		case controller.KindByte, controller.KindU16, controller.KindU32, controller.KindVarint:
			n, ok := controller.PropNumber(def.Kind, v)
			if !ok {
				return fail(controller.ErrInval)
			}
			switch def.Kind {
			case controller.KindByte:
				rc = C.mosquitto_property_add_byte(&list, id, C.uint8_t(n))
			case controller.KindU16:
				rc = C.mosquitto_property_add_int16(&list, id, C.uint16_t(n))
			case controller.KindU32:
				rc = C.mosquitto_property_add_int32(&list, id, C.uint32_t(n))
			case controller.KindVarint:
				rc = C.mosquitto_property_add_varint(&list, id, C.uint32_t(n))
			}
		case controller.KindString:
			s, ok := controller.PropString(v)
			if !ok || len(s) > 65535 {
				return fail(controller.ErrInval)
			}
			if strings.IndexByte(s, 0) >= 0 {
				return fail(controller.ErrMalformedUTF8)
			}
			cs := C.CString(s)
			rc = C.mosquitto_property_add_string(&list, id, cs)
			C.free(unsafe.Pointer(cs))
		case controller.KindBinary:
			s, ok := controller.PropString(v)
			if !ok || len(s) > 65535 {
				return fail(controller.ErrInval)
			}
			var ptr unsafe.Pointer
			if len(s) > 0 {
				ptr = C.CBytes([]byte(s))
			}
			rc = C.mosquitto_property_add_binary(&list, id, ptr, C.uint16_t(len(s)))
			if ptr != nil {
				C.free(ptr)
			}
		case controller.KindPair:
			pairs, ok := controller.PropPairs(v)
			if !ok {
				return fail(controller.ErrInval)
			}
			for _, kv := range pairs {
				if len(kv[0]) > 65535 || len(kv[1]) > 65535 {
					return fail(controller.ErrInval)
				}
				if strings.IndexByte(kv[0], 0) >= 0 || strings.IndexByte(kv[1], 0) >= 0 {
					return fail(controller.ErrMalformedUTF8)
				}
				ck, cv := C.CString(kv[0]), C.CString(kv[1])
				rc = C.mosquitto_property_add_string_pair(&list, id, ck, cv)
				C.free(unsafe.Pointer(ck))
				C.free(unsafe.Pointer(cv))
				if rc != 0 {
					break
				}
			}
		}
		if rc != 0 {
			return fail(int(rc))
		}
	}
	return list, 0
}

func freeProps(list *C.mosquitto_property) {
	if list != nil {
		C.mosquitto_property_free_all(&list)
	}
}

// goProps converts received properties to the driver's table: nil when
// there are none. Repeated properties keep the first value; user
// properties become one table.
func goProps(list *C.mosquitto_property) controller.Props {
	if list == nil {
		return nil
	}
	out := controller.Props{}
	var user map[string]string
	for p := list; p != nil; p = C.mosquitto_property_next(p) {
		id := int(C.mosquitto_property_identifier(p))
		def, ok := controller.PropDefByID(id)
		if !ok {
			continue
		}
		if _, seen := out[def.Name]; seen && def.Kind != controller.KindPair {
			continue
		}
		cid := C.int(id)
		// A read returns NULL only when p does not hold that identifier,
		// which it does here; a property that fails to read is left out.
		switch def.Kind {
		case controller.KindByte:
			var v C.uint8_t
			if C.mosquitto_property_read_byte(p, cid, &v, false) != nil {
				out[def.Name] = int(v)
			}
		case controller.KindU16:
			var v C.uint16_t
			if C.mosquitto_property_read_int16(p, cid, &v, false) != nil {
				out[def.Name] = int(v)
			}
		case controller.KindU32:
			var v C.uint32_t
			if C.mosquitto_property_read_int32(p, cid, &v, false) != nil {
				out[def.Name] = int(v)
			}
		case controller.KindVarint:
			var v C.uint32_t
			if C.mosquitto_property_read_varint(p, cid, &v, false) != nil {
				out[def.Name] = int(v)
			}
		case controller.KindString:
			var s *C.char
			if C.mosquitto_property_read_string(p, cid, &s, false) != nil && s != nil {
				out[def.Name] = C.GoString(s)
				C.free(unsafe.Pointer(s))
			}
		case controller.KindBinary:
			var b unsafe.Pointer
			var n C.uint16_t
			if C.mosquitto_property_read_binary(p, cid, &b, &n, false) != nil {
				out[def.Name] = string(C.GoBytes(b, C.int(n)))
				if b != nil {
					C.free(b)
				}
			}
		case controller.KindPair:
			var k, v *C.char
			if C.mosquitto_property_read_string_pair(p, cid, &k, &v, false) != nil {
				if user == nil {
					user = map[string]string{}
				}
				user[C.GoString(k)] = C.GoString(v)
				C.free(unsafe.Pointer(k))
				C.free(unsafe.Pointer(v))
			}
		}
	}
	if user != nil {
		out["USER_PROPERTY"] = user
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
