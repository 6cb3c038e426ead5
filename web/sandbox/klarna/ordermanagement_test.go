package klarna_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Order Management, tried over HTTP as a merchant's server would. The
// sandbox clock starts at 2026-03-01 12:00 UTC (newSB).

const omBase = "/klarna/api/ordermanagement/v1/orders/"

// placeOrder places a German order of 6270 EUR (deSession) from a widget
// approval with auth's options and returns its order_id.
func (s *sb) placeOrder(auth map[string]any) string {
	s.t.Helper()
	sess := deSession()
	a := s.authorize(s.createSession(sess), auth)
	r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/order", orderOf(sess))
	if r.status != 200 {
		s.t.Fatalf("order: %d %s", r.status, r.raw)
	}
	return r.str("order_id")
}

func (s *sb) omOrder(id string) reply {
	s.t.Helper()
	r := s.do("GET", omBase+id, nil)
	if r.status != 200 {
		s.t.Fatalf("read order: %d %s", r.status, r.raw)
	}
	return r
}

func (r reply) num(k string) int64 { f, _ := r.body[k].(float64); return int64(f) }

// The read has every field of the documented example, and the values of
// the order create order placed.
func TestOrderManagementReadsThePlacedOrder(t *testing.T) {
	s := newSB(t)
	id := s.placeOrder(nil)
	r := s.omOrder(id)
	for _, k := range sortedKeys(example(t, "om_order.json")) {
		if _, ok := r.body[k]; !ok {
			t.Errorf("the read lacks %q: %s", k, r.raw)
		}
	}
	want := map[string]any{"order_id": id, "status": "AUTHORIZED", "fraud_status": "ACCEPTED", "order_amount": 6270.0,
		"original_order_amount": 6270.0, "captured_amount": 0.0, "refunded_amount": 0.0, "remaining_authorized_amount": 6270.0,
		"purchase_country": "DE", "purchase_currency": "EUR", "locale": "de-DE",
		"created_at": "2026-03-01T12:00:00.000Z", "expires_at": "2026-03-29T00:00:00.000Z"}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("%s = %v, want %v", k, r.body[k], v)
		}
	}
	if ls, _ := r.body["order_lines"].([]any); len(ls) != 2 || ls[0].(map[string]any)["reference"] != "morning-blend" {
		t.Errorf("order_lines %v", r.body["order_lines"])
	}
	if pm, _ := r.body["initial_payment_method"].(map[string]any); pm["type"] != "INVOICE" || pm["description"] == "" {
		t.Errorf("initial_payment_method %v", r.body["initial_payment_method"])
	}
	// Only fields of the Order Management order object.
	fields := []string{"order_id", "status", "fraud_status", "order_amount", "original_order_amount", "captured_amount",
		"refunded_amount", "remaining_authorized_amount", "expires_at", "created_at", "captures", "refunds", "order_lines",
		"klarna_reference", "merchant_reference1", "merchant_reference2", "purchase_country", "purchase_currency", "locale",
		"billing_address", "shipping_address", "initial_payment_method", "shipping_info"}
	for k := range r.body {
		if !slices.Contains(fields, k) {
			t.Errorf("field %q is not in the order object", k)
		}
	}
	wantError(t, s.do("GET", omBase+"b5a2b7a4-0000-0000-0000-000000000000", nil), 404, "NO_SUCH_ORDER", "")
	wantError(t, s.doAuth("GET", omBase+id, nil, "", ""), 401, "UNAUTHORIZED", "")
	// The order belongs to Europe's merchant account.
	wantError(t, s.na("GET", "/ordermanagement/v1/orders/"+id, nil), 404, "NO_SUCH_ORDER", "")
}

// A customer-token order is an Order Management order too.
func TestTokenOrdersAreManagedOrders(t *testing.T) {
	s := newSB(t)
	tok := s.recurringToken("", nil)
	o := s.do("POST", "/klarna/api/customer-token/v1/tokens/"+tok+"/order", map[string]any{"purchase_currency": "EUR",
		"order_amount": 1800, "order_tax_amount": 287, "order_lines": []any{line(deSession(), 1)}})
	r := s.omOrder(o.str("order_id"))
	if r.str("status") != "AUTHORIZED" || r.num("order_amount") != 1800 || r.str("purchase_country") != "DE" || r.str("purchase_currency") != "EUR" {
		t.Errorf("token order read %s", r.raw)
	}
}

// step is one call in a state-rule case: an operation on the order
// ("capture", "refund", "cancel", "extend", "release", or "advance" to
// move the sandbox clock by body) and its expected answer.
type step struct {
	op     string
	body   any
	status int
	code   string // the error_code of a refusal
	msg    string // its first message's start
}

func (s *sb) run(id string, st step) reply {
	s.t.Helper()
	if st.op == "advance" {
		s.advance(st.body.(string))
		return reply{}
	}
	if st.op == "fraud" {
		return s.doAuth("POST", "/control/klarna/orders/"+id+"/fraud", map[string]any{"fraud_status": st.body}, "", "")
	}
	path := map[string]string{"capture": "/captures", "refund": "/refunds", "cancel": "/cancel",
		"extend": "/extend-authorization-time", "release": "/release-remaining-authorization"}[st.op]
	if path == "" {
		s.t.Fatalf("unknown step %q", st.op)
	}
	return s.do("POST", omBase+id+path, st.body)
}

func capture(n int64) map[string]any { return map[string]any{"captured_amount": n} }
func refund(n int64) map[string]any  { return map[string]any{"refunded_amount": n} }

// The state rules: each case runs its steps on a fresh 6270 EUR order and
// checks each answer, then the order's status and amounts.
func TestOrderManagementStateRules(t *testing.T) {
	cases := []struct {
		name    string
		persona string
		steps   []step
		status  string
		// captured, refunded, remaining
		amounts [3]int64
	}{
		{"full capture", "", []step{{op: "capture", body: capture(6270), status: 201}}, "CAPTURED", [3]int64{6270, 0, 0}},
		{"partial captures up to the whole", "", []step{
			{op: "capture", body: capture(2000), status: 201},
			{op: "capture", body: capture(4270), status: 201},
		}, "CAPTURED", [3]int64{6270, 0, 0}},
		{"partial capture", "", []step{{op: "capture", body: capture(2000), status: 201}}, "PART_CAPTURED", [3]int64{2000, 0, 4270}},
		{"over-capture refused", "", []step{
			{op: "capture", body: capture(6271), status: 403, code: "CAPTURE_NOT_ALLOWED", msg: "Capture not allowed"},
			{op: "capture", body: capture(2000), status: 201},
			{op: "capture", body: capture(4271), status: 403, code: "CAPTURE_NOT_ALLOWED", msg: "Capture not allowed"},
		}, "PART_CAPTURED", [3]int64{2000, 0, 4270}},
		{"refunds up to the captured amount", "", []step{
			{op: "capture", body: capture(2000), status: 201},
			{op: "refund", body: refund(2001), status: 403, code: "REFUND_NOT_ALLOWED", msg: "Over refund is not allowed. Refund not possible."},
			{op: "refund", body: refund(1500), status: 201},
			{op: "refund", body: refund(501), status: 403, code: "REFUND_NOT_ALLOWED", msg: "Over refund is not allowed."},
			{op: "refund", body: refund(500), status: 201},
		}, "PART_CAPTURED", [3]int64{2000, 2000, 4270}},
		{"refund without a capture refused", "", []step{
			{op: "refund", body: refund(1), status: 403, code: "REFUND_NOT_ALLOWED", msg: "Order has no captures. Refund not possible"},
		}, "AUTHORIZED", [3]int64{0, 0, 6270}},
		{"cancel before a capture", "", []step{{op: "cancel", status: 204}}, "CANCELLED", [3]int64{0, 0, 0}},
		{"cancel after a capture refused", "", []step{
			{op: "capture", body: capture(100), status: 201},
			{op: "cancel", status: 403, code: "CANCEL_NOT_ALLOWED", msg: "Order has previous captures. Cancel not possible."},
		}, "PART_CAPTURED", [3]int64{100, 0, 6170}},
		{"capture after cancel refused", "", []step{
			{op: "cancel", status: 204},
			{op: "capture", body: capture(100), status: 403, code: "CAPTURE_NOT_ALLOWED", msg: "Capture not allowed"},
			{op: "cancel", status: 403, code: "CANCEL_NOT_ALLOWED"},
			{op: "extend", status: 403, code: "NOT_ALLOWED", msg: "Order is cancelled."},
			{op: "release", status: 403, code: "NOT_ALLOWED", msg: "Order is cancelled."},
		}, "CANCELLED", [3]int64{0, 0, 0}},
		{"release after a partial capture", "", []step{
			{op: "capture", body: capture(2000), status: 201},
			{op: "release", status: 204},
			{op: "capture", body: capture(1), status: 403, code: "CAPTURE_NOT_ALLOWED"},
			{op: "release", status: 403, code: "NOT_ALLOWED", msg: "Order is fully captured. Remaining authorization cannot be released."},
			{op: "refund", body: refund(2000), status: 201},
		}, "CAPTURED", [3]int64{2000, 2000, 0}},
		{"release without a capture refused", "", []step{
			{op: "release", status: 403, code: "NOT_ALLOWED", msg: "Order has no captures."},
		}, "AUTHORIZED", [3]int64{0, 0, 6270}},
		{"extend a fully captured order refused", "", []step{
			{op: "capture", body: capture(6270), status: 201},
			{op: "extend", status: 403, code: "NOT_ALLOWED"},
		}, "CAPTURED", [3]int64{6270, 0, 0}},
		{"expired after 28 days", "", []step{
			{op: "advance", body: "659h59m"}, // 2026-03-28 23:59
			{op: "advance", body: "1m"},
			{op: "capture", body: capture(1), status: 403, code: "CAPTURE_NOT_ALLOWED", msg: "Capture not allowed"},
			{op: "extend", status: 403, code: "NOT_ALLOWED", msg: "Order is expired. Authorization time cannot be extended."},
			{op: "cancel", status: 403, code: "CANCEL_NOT_ALLOWED", msg: "Order is expired."},
		}, "EXPIRED", [3]int64{0, 0, 0}},
		{"captured in time, nothing left after expiry", "", []step{
			{op: "capture", body: capture(1000), status: 201},
			{op: "advance", body: "660h"},
			{op: "capture", body: capture(1), status: 403, code: "CAPTURE_NOT_ALLOWED"},
			{op: "refund", body: refund(1000), status: 201},
		}, "PART_CAPTURED", [3]int64{1000, 1000, 0}},
		{"pending fraud review holds the capture", "review@example.com", []step{
			{op: "capture", body: capture(6270), status: 403, code: "CAPTURE_NOT_ALLOWED", msg: "Capture not allowed"},
			{op: "fraud", body: "ACCEPTED", status: 200},
			{op: "capture", body: capture(6270), status: 201},
		}, "CAPTURED", [3]int64{6270, 0, 0}},
		{"a rejected order captured within 4 hours", "review@example.com", []step{
			{op: "fraud", body: "REJECTED", status: 200},
			{op: "advance", body: "3h59m"},
			{op: "capture", body: capture(6270), status: 201},
			{op: "advance", body: "1h"},
		}, "CAPTURED", [3]int64{6270, 0, 0}},
		{"a rejected order not captured is cancelled after 4 hours", "review@example.com", []step{
			{op: "fraud", body: "REJECTED", status: 200},
			{op: "advance", body: "4h"},
			{op: "capture", body: capture(1), status: 403, code: "CAPTURE_NOT_ALLOWED"},
		}, "CANCELLED", [3]int64{0, 0, 0}},
		{"bad bodies", "", []step{
			{op: "capture", body: map[string]any{}, status: 400, code: "BAD_VALUE", msg: "Bad value: captured_amount"},
			{op: "capture", body: map[string]any{"captured_amount": "100"}, status: 400, code: "BAD_VALUE", msg: "Bad value: captured_amount"},
			{op: "capture", body: capture(0), status: 400, code: "BAD_VALUE", msg: "Bad value: captured_amount"},
			{op: "capture", body: "{nope", status: 400, code: "BAD_VALUE", msg: "Bad value: request body"},
			{op: "capture", body: map[string]any{"captured_amount": 1, "description": strings.Repeat("x", 256)}, status: 400, code: "BAD_VALUE", msg: "Bad value: description"},
			{op: "refund", body: map[string]any{"refunded_amount": -1}, status: 400, code: "BAD_VALUE", msg: "Bad value: refunded_amount"},
		}, "AUTHORIZED", [3]int64{0, 0, 6270}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSB(t)
			auth := map[string]any{}
			if tc.persona != "" {
				auth["persona"] = tc.persona
			}
			id := s.placeOrder(auth)
			for i, st := range tc.steps {
				r := s.run(id, st)
				switch {
				case st.status == 0:
				case st.code != "":
					wantError(t, r, st.status, st.code, st.msg)
				case r.status != st.status:
					t.Fatalf("step %d %s: %d %s, want %d", i, st.op, r.status, r.raw, st.status)
				}
			}
			r := s.omOrder(id)
			got := [3]int64{r.num("captured_amount"), r.num("refunded_amount"), r.num("remaining_authorized_amount")}
			if r.str("status") != tc.status || got != tc.amounts {
				t.Errorf("order %s %v, want %s %v: %s", r.str("status"), got, tc.status, tc.amounts, r.raw)
			}
		})
	}
}

// A capture answers 201 with Capture-Id and Location and no body; the
// Location reads the capture back with the documented request's fields.
func TestCaptureAndRefundAnswersPointAtWhatTheyMade(t *testing.T) {
	s := newSB(t)
	id := s.placeOrder(nil)
	req := example(t, "om_capture_request.json")
	c := s.do("POST", omBase+id+"/captures", req)
	capID := c.header.Get("Capture-Id")
	if c.status != 201 || len(c.raw) != 0 || !uuidPattern.MatchString(capID) ||
		c.header.Get("Location") != s.url+omBase+id+"/captures/"+capID {
		t.Fatalf("capture: %d %v %s", c.status, c.header, c.raw)
	}
	got := s.do("GET", strings.TrimPrefix(c.header.Get("Location"), s.url), nil)
	if got.status != 200 || got.str("capture_id") != capID || got.num("captured_amount") != 6000 ||
		got.str("description") != "Shipped the full order" || got.str("reference") != req["reference"] {
		t.Errorf("capture read: %d %s", got.status, got.raw)
	}
	if si, _ := got.body["shipping_info"].([]any); len(si) != 1 {
		t.Errorf("shipping_info %v", got.body["shipping_info"])
	}
	if ls, _ := got.body["order_lines"].([]any); len(ls) != 1 {
		t.Errorf("order_lines %v", got.body["order_lines"])
	}
	rf := s.do("POST", omBase+id+"/refunds", map[string]any{"refunded_amount": 600, "description": "One kilo back"})
	refID := rf.header.Get("Refund-Id")
	if rf.status != 201 || !uuidPattern.MatchString(refID) || rf.header.Get("Location") != s.url+omBase+id+"/refunds/"+refID {
		t.Fatalf("refund: %d %v %s", rf.status, rf.header, rf.raw)
	}
	if r := s.do("GET", omBase+id+"/refunds/"+refID, nil); r.status != 200 || r.num("refunded_amount") != 600 {
		t.Errorf("refund read: %d %s", r.status, r.raw)
	}
	o := s.omOrder(id)
	caps := o.body["captures"].([]any)
	if len(caps) != 1 || caps[0].(map[string]any)["refunded_amount"] != 600.0 || len(o.body["refunds"].([]any)) != 1 {
		t.Errorf("order after capture and refund: %s", o.raw)
	}
	wantError(t, s.do("GET", omBase+id+"/captures/nope", nil), 404, "NO_SUCH_CAPTURE", "")
}

// Extending counts 28 days from the day of the extension, gives the same
// date when repeated that day, and never passes the 180th day after the
// order's creation.
func TestExtendAuthorizationTime(t *testing.T) {
	s := newSB(t)
	id := s.placeOrder(nil)
	expires := func() string { return s.omOrder(id).str("expires_at") }
	extend := func() {
		t.Helper()
		if r := s.do("POST", omBase+id+"/extend-authorization-time", nil); r.status != 204 {
			t.Fatalf("extend: %d %s", r.status, r.raw)
		}
	}
	s.advance("240h") // 2026-03-11 12:00
	extend()
	if got := expires(); got != "2026-04-08T00:00:00.000Z" {
		t.Errorf("extended on 11 March: expires %s, want 8 April", got)
	}
	extend()
	if got := expires(); got != "2026-04-08T00:00:00.000Z" {
		t.Errorf("extended twice on 11 March: expires %s", got)
	}
	// Every 20 days up to day 170 (2026-08-18): the order stays alive.
	for range 8 {
		s.advance("480h")
		extend()
	}
	if got := expires(); got != "2026-08-28T00:00:00.000Z" {
		t.Errorf("extended on 18 August: expires %s, want 28 August (180 days after 1 March), not 15 September", got)
	}
	s.advance("227h59m") // 2026-08-27 23:59
	if st := s.omOrder(id).str("status"); st != "AUTHORIZED" {
		t.Errorf("status on day 179 %s", st)
	}
	s.advance("1m")
	if st := s.omOrder(id).str("status"); st != "EXPIRED" {
		t.Errorf("status after 180 days %s", st)
	}
	wantError(t, s.do("POST", omBase+id+"/extend-authorization-time", nil), 403, "NOT_ALLOWED", "Order is expired.")
}

// The same Klarna-Idempotency-Key answers the first result again, headers
// included, whatever the body ("only the key matters"), for 24 hours; a
// refusal is not remembered.
func TestOrderManagementIdempotencyKeys(t *testing.T) {
	s := newSB(t)
	id := s.placeOrder(nil)
	path := omBase + id + "/captures"
	first := s.do("POST", path, capture(1000), "Klarna-Idempotency-Key", "cap-1")
	again := s.do("POST", path, capture(1000), "Klarna-Idempotency-Key", "cap-1")
	other := s.do("POST", path, capture(2500), "Klarna-Idempotency-Key", "cap-1")
	for _, r := range []reply{again, other} {
		if r.status != 201 || r.header.Get("Capture-Id") != first.header.Get("Capture-Id") ||
			r.header.Get("Location") != first.header.Get("Location") || r.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("repeat: %d %v, want the first capture %v", r.status, r.header, first.header)
		}
	}
	if o := s.omOrder(id); o.num("captured_amount") != 1000 || len(o.body["captures"].([]any)) != 1 {
		t.Errorf("after three calls with one key: %s", o.raw)
	}
	// A refused capture leaves nothing to replay.
	wantError(t, s.do("POST", path, capture(9999), "Klarna-Idempotency-Key", "cap-2"), 403, "CAPTURE_NOT_ALLOWED", "")
	if r := s.do("POST", path, capture(500), "Klarna-Idempotency-Key", "cap-2"); r.status != 201 {
		t.Errorf("the key of a refusal, with a capture that fits: %d %s", r.status, r.raw)
	}
	// The key is the operation's and the order's: on a refund it runs the refund.
	if r := s.do("POST", omBase+id+"/refunds", refund(100), "Klarna-Idempotency-Key", "cap-1"); r.status != 201 || r.header.Get("Refund-Id") == "" {
		t.Errorf("the capture's key on a refund: %d %v", r.status, r.header)
	}
	// After 24 hours the key is new again.
	s.advance("24h")
	if r := s.do("POST", path, capture(1000), "Klarna-Idempotency-Key", "cap-1"); r.header.Get("Capture-Id") == first.header.Get("Capture-Id") {
		t.Errorf("the key replayed after 24 hours")
	}
	if o := s.omOrder(id); o.num("captured_amount") != 2500 {
		t.Errorf("captured %d, want 2500", o.num("captured_amount"))
	}

	// A cancel repeated with its key answers 204 again; without one it is refused.
	id2 := s.placeOrder(nil)
	for range 2 {
		if r := s.do("POST", omBase+id2+"/cancel", nil, "Klarna-Idempotency-Key", "cancel-1"); r.status != 204 {
			t.Errorf("cancel with its key: %d %s", r.status, r.raw)
		}
	}
	wantError(t, s.do("POST", omBase+id2+"/cancel", nil), 403, "CANCEL_NOT_ALLOWED", "")
}

// Injected faults answer in Order Management's codes.
func TestOrderManagementFaults(t *testing.T) {
	s := newSB(t)
	id := s.placeOrder(nil)
	for _, tc := range []struct {
		op     string
		status int
		code   string
		path   string
	}{
		{"klarna.om_capture", 503, "TEMPORARILY_UNAVAILABLE", "/captures"},
		{"klarna.om_capture", 403, "CAPTURE_NOT_ALLOWED", "/captures"},
		{"klarna.om_refund", 403, "REFUND_NOT_ALLOWED", "/refunds"},
		{"klarna.om_cancel", 403, "CANCEL_NOT_ALLOWED", "/cancel"},
		{"klarna.om_extend", 500, "INTERNAL_SERVER_ERROR", "/extend-authorization-time"},
		{"klarna.om_release", 403, "NOT_ALLOWED", "/release-remaining-authorization"},
	} {
		s.s.Fault(t, tc.op, tc.status, 1)
		wantError(t, s.do("POST", omBase+id+tc.path, capture(1)), tc.status, tc.code, "")
	}
	s.s.Fault(t, "klarna.om_get_order", 404, 1)
	wantError(t, s.do("GET", omBase+id, nil), 404, "NO_SUCH_ORDER", "")
	if n := s.s.State.Calls("klarna.om_capture"); n != 2 {
		t.Errorf("om_capture counted %d", n)
	}
}

// An order's captures, refunds, extension and idempotency keys survive a
// restart.
func TestOrderManagementStateSurvivesARestart(t *testing.T) {
	s := newSB(t)
	id := s.placeOrder(nil)
	c := s.do("POST", omBase+id+"/captures", capture(2000), "Klarna-Idempotency-Key", "persist-cap")
	s.do("POST", omBase+id+"/refunds", refund(500), "Klarna-Idempotency-Key", "persist-ref")
	s.advance("12h") // 2 March: the extension moves expires_at a day on
	s.do("POST", omBase+id+"/extend-authorization-time", nil, "Klarna-Idempotency-Key", "persist-ext")
	before := s.omOrder(id)
	if before.str("expires_at") != "2026-03-30T00:00:00.000Z" {
		t.Fatalf("before the restart: %s", before.raw)
	}

	s.s.Restart(t)
	if after := s.omOrder(id); string(after.raw) != string(before.raw) {
		t.Errorf("after a restart:\n%s\nbefore:\n%s", after.raw, before.raw)
	}
	if again := s.do("POST", omBase+id+"/captures", capture(2000), "Klarna-Idempotency-Key", "persist-cap"); again.header.Get("Capture-Id") != c.header.Get("Capture-Id") {
		t.Errorf("the capture's key after a restart: %v", again.header)
	}
	if r := s.omOrder(id); r.num("captured_amount") != 2000 || r.str("status") != "PART_CAPTURED" {
		t.Errorf("after the replay: %s", r.raw)
	}
	wantError(t, s.do("POST", omBase+id+"/cancel", nil), 403, "CANCEL_NOT_ALLOWED", "")
	if n := s.s.State.Calls("klarna.om_capture"); n != 2 {
		t.Errorf("om_capture counted %d across the restart", n)
	}
	if http.StatusOK != s.do("GET", omBase+id+"/captures/"+c.header.Get("Capture-Id"), nil).status {
		t.Error("the capture is gone after a restart")
	}
}

// Each refusal Klarna documents an example of answers its code and, first,
// its message.
func TestRefusalsCarryTheDocumentedCodeAndMessage(t *testing.T) {
	s := newSB(t)
	captured := s.placeOrder(nil)
	s.do("POST", omBase+captured+"/captures", capture(1000))
	expired := s.placeOrder(nil)
	s.advance("672h")
	for file, r := range map[string]reply{
		"om_error_capture.json": s.do("POST", omBase+expired+"/captures", capture(1)),
		"om_error_refund.json":  s.do("POST", omBase+captured+"/refunds", refund(1001)),
		"om_error_cancel.json":  s.do("POST", omBase+captured+"/cancel", nil),
		"om_error_extend.json":  s.do("POST", omBase+expired+"/extend-authorization-time", nil),
	} {
		doc := example(t, file)
		first := doc["error_messages"].([]any)[0].(string)
		wantError(t, r, 403, doc["error_code"].(string), first)
		if got := r.body["error_messages"].([]any)[0]; got != first {
			t.Errorf("%s: first message %q, want %q", file, got, first)
		}
	}
}
