package steps

import (
	"fmt"
	"strings"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/record"
)

// Assertions on what a call returned: its code, its error text, its
// message id; and on the message ids a client handed out.
func init() {
	def("returns", "the call returns {int}",
		"The last call returned this code (0 is success).",
		"the call returns 0", "", (*World).callReturns)
	def("returns", "the call returns {int} and a message id",
		"The last call returned this code and a message id.",
		"the call returns 0 and a message id", "", (*World).callReturnsAndMessageID)
	def("returns", "the call returns {int} and no message id",
		"The last call returned this code and nil where the message id goes.",
		"the call returns 3 and no message id", "", (*World).callReturnsAndNoMessageID)
	def("returns", "the call returns message id {int}",
		"The last call returned exactly this message id.",
		"the call returns message id 1", "", (*World).callReturnsThatMessageID)
	def("returns", "the error text is {text}",
		"The last call's error string, word for word.",
		`the error text is "Invalid arguments were given to the function."`, "", (*World).errorTextIs)
	def("returns", "the error text is the text of code {int}",
		"The last call's error string is what ErrorCodeToString gives for that code.",
		"the error text is the text of code 3", "", (*World).errorTextIsTextOfCode)
	def("returns", "there is no error text",
		"The last call returned no error string (as on success).",
		"there is no error text", "", (*World).noErrorText)
	def("returns", "every publish returns 0 and a message id",
		"Every Publish of the last step (or burst) returned 0 and a message id.",
		"every publish returns 0 and a message id", "", (*World).everyPublishReturns0AndMessageID)
	def("returns", "client {name} handed out the message ids {text}",
		`The message ids the client's calls returned so far, in order, written as a list: "1, 2, 3".`,
		`client "sensor" handed out the message ids "1, 2, 3"`, "", (*World).clientHandedOutMessageIDs)
	def("returns", "the message ids of client {name} are distinct",
		"No two calls of the client returned the same message id.",
		`the message ids of client "sensor" are distinct`, "", (*World).messageIDsAreDistinct)
	def("returns", "the message ids of client {name} are consecutive",
		"Each message id the client handed out is one more than the one before (Publish, Subscribe and Unsubscribe share the counter; after 65535 comes 1).",
		`the message ids of client "sensor" are consecutive`, "", (*World).messageIDsAreConsecutive)
	def("returns", "the message ids of client {name} wrap from 65535 to 1",
		"Among the ids the client handed out, 65535 is followed by 1 (0 is never used).",
		`the message ids of client "sensor" wrap from 65535 to 1`, "", (*World).messageIDsWrap)
}

func (w *World) callReturns(code int) error {
	c, err := w.lastCall()
	if err != nil {
		return err
	}
	return expectCode(c, code)
}

func (w *World) callReturnsAndMessageID(code int) error {
	c, err := w.lastCall()
	if err != nil {
		return err
	}
	if err := expectCode(c, code); err != nil {
		return err
	}
	if c.Ret.MsgID == 0 {
		return fmt.Errorf("%s returned no message id", c)
	}
	return nil
}

func (w *World) callReturnsAndNoMessageID(code int) error {
	c, err := w.lastCall()
	if err != nil {
		return err
	}
	if err := expectCode(c, code); err != nil {
		return err
	}
	if c.Ret.MsgID != 0 {
		return fmt.Errorf("%s returned message id %d, expected none", c, c.Ret.MsgID)
	}
	return nil
}

func (w *World) callReturnsThatMessageID(id int) error {
	c, err := w.lastCall()
	if err != nil {
		return err
	}
	if c.Ret.MsgID != id {
		return fmt.Errorf("%s returned message id %d, expected %d", c, c.Ret.MsgID, id)
	}
	return nil
}

func (w *World) errorTextIs(text string) error {
	c, err := w.lastCall()
	if err != nil {
		return err
	}
	if c.Ret.Err != text {
		return fmt.Errorf("%s: error text %q, expected %q", c, c.Ret.Err, text)
	}
	return nil
}

func (w *World) errorTextIsTextOfCode(code int) error {
	c, err := w.lastCall()
	if err != nil {
		return err
	}
	if want := controller.ErrorString(code); c.Ret.Err != want {
		return fmt.Errorf("%s: error text %q, expected %q (the text of code %d)", c, c.Ret.Err, want, code)
	}
	return nil
}

func (w *World) noErrorText() error {
	c, err := w.lastCall()
	if err != nil {
		return err
	}
	if c.Ret.Err != "" {
		return fmt.Errorf("%s: error text %q, expected none", c, c.Ret.Err)
	}
	return nil
}

func (w *World) everyPublishReturns0AndMessageID() error {
	if len(w.burst) == 0 {
		return fmt.Errorf("no message has been published yet in this scenario")
	}
	for _, m := range w.burst {
		if m.ret.Code != 0 || m.ret.MsgID == 0 {
			return fmt.Errorf("%s: Publish returned %d, id %d (%s)", m, m.ret.Code, m.ret.MsgID, m.ret.Err)
		}
	}
	return nil
}

func (w *World) clientHandedOutMessageIDs(name, list string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	got := joinInts(cl.idCalls)
	want := strings.Join(strings.Fields(strings.ReplaceAll(list, ",", " ")), ", ")
	if got != want {
		return fmt.Errorf("client %q handed out the message ids %s, expected %s", name, got, want)
	}
	return nil
}

func (w *World) messageIDsAreDistinct(name string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	seen := map[int]int{}
	for i, id := range cl.idCalls {
		if j, ok := seen[id]; ok {
			return fmt.Errorf("calls %d and %d of client %q both returned message id %d (ids: %s)", j+1, i+1, name, id, joinInts(cl.idCalls))
		}
		seen[id] = i
	}
	return nil
}

func (w *World) messageIDsAreConsecutive(name string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	for i := 1; i < len(cl.idCalls); i++ {
		if cl.idCalls[i] != nextID(cl.idCalls[i-1]) {
			return fmt.Errorf("client %q handed out %d after %d, expected %d (ids: %s)", name, cl.idCalls[i], cl.idCalls[i-1], nextID(cl.idCalls[i-1]), joinInts(cl.idCalls))
		}
	}
	return nil
}

func (w *World) messageIDsWrap(name string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	for i := 1; i < len(cl.idCalls); i++ {
		if cl.idCalls[i-1] == 65535 {
			if cl.idCalls[i] != 1 {
				return fmt.Errorf("client %q handed out %d after 65535, expected 1 (ids: %s)", name, cl.idCalls[i], joinInts(cl.idCalls))
			}
			return nil
		}
	}
	return fmt.Errorf("client %q never handed out 65535 followed by another id (ids: %s)", name, joinInts(cl.idCalls))
}

func nextID(id int) int {
	if id >= 65535 {
		return 1
	}
	return id + 1
}

func joinInts(ids []int) string {
	if len(ids) == 0 {
		return "none"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ", ")
}

// expectCode checks the code a call returned.
func expectCode(c *record.Call, code int) error {
	if c.Ret.Code != code {
		got := fmt.Sprintf("%d", c.Ret.Code)
		if c.Ret.Err != "" {
			got += fmt.Sprintf(" (%s)", c.Ret.Err)
		}
		return fmt.Errorf("%s returned %s, expected %d (%s)", c, got, code, controller.ErrorString(code))
	}
	return nil
}
