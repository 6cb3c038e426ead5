package klarna

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"refshop/web/sandbox/exchanges"
)

// Order Management (/ordermanagement/v1/orders/{order_id}/...): the orders
// create order and customer-token orders place, read, captured, refunded,
// cancelled, extended and released. The shapes and refusals are those of
// Klarna's Order Management pages and OpenAPI (doc.go, "Order Management");
// the state rules they leave open are chosen here and said so.

// Order Management's periods: an authorization lasts "the standard 28
// days" unless the account was set up with a longer one, an extension
// counts that period again from the day it is made, and an order can only
// be extended "within 180 days of its creation". A rejected order may still
// be captured for 4 hours after the decision, then Klarna cancels it.
const (
	AuthorizationPeriod   = 28 * 24 * time.Hour
	MaxAuthorizationAge   = 180 * 24 * time.Hour
	RejectedCaptureWindow = 4 * time.Hour
)

// Order Management's order statuses. CLOSED is in the enum but its meaning
// is not documented; the sandbox never answers it.
const (
	omAuthorized   = "AUTHORIZED"
	omPartCaptured = "PART_CAPTURED"
	omCaptured     = "CAPTURED"
	omCancelled    = "CANCELLED"
	omExpired      = "EXPIRED"
)

// capture is one capture of an order.
type capture struct {
	ID             string
	Amount         int64
	Reference      string
	Description    string
	Lines          []wireLine
	ShippingInfo   json.RawMessage `json:",omitempty"`
	CapturedAt     time.Time
	RefundedAmount int64 // the part of the order's refunds taken from this capture
}

// refund is one refund of an order.
type refund struct {
	ID          string
	Amount      int64
	Reference   string
	Description string
	Lines       []wireLine
	RefundedAt  time.Time
}

// newOrder is the order create order or a customer-token order places.
func newOrder(reg region, now time.Time, b wireBody, country string, m paymentMethod, category, fraud string) *order {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	o := &order{ID: newID(), Region: string(reg), CreatedAt: now,
		Country: strings.ToUpper(country), Currency: strings.ToUpper(str(b.PurchaseCurrency)), Locale: str(b.Locale),
		MerchantReference1: str(b.MerchantReference1), MerchantReference2: str(b.MerchantReference2),
		Method: m, Category: category, FraudStatus: fraud}
	if b.PurchaseCountry != nil {
		o.Country = strings.ToUpper(*b.PurchaseCountry)
	}
	if b.OrderAmount != nil {
		o.Amount = *b.OrderAmount
	}
	if b.OrderLines != nil {
		o.Lines = *b.OrderLines
	}
	o.KlarnaReference = strings.ToUpper(strings.ReplaceAll(o.ID, "-", "")[:10])
	o.ExpiresAt = expiryFrom(now)
	return o
}

// expiryFrom is an authorization period counted from the day of t: Klarna's
// example order of 2022-07-08T09:48 expires at 2022-08-05T00:00:00Z. (The
// extension guide's example, extended on 15 January with 28 days, says 13
// February, one day later than this rule; the order example is followed.)
func expiryFrom(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour).Add(AuthorizationPeriod)
}

func (o *order) expiresAt() time.Time {
	if o.ExpiresAt.IsZero() {
		return expiryFrom(o.CreatedAt)
	}
	return o.ExpiresAt
}

func (o *order) captured() (n int64) {
	for _, c := range o.Captures {
		n += c.Amount
	}
	return n
}

func (o *order) refunded() (n int64) {
	for _, r := range o.Refunds {
		n += r.Amount
	}
	return n
}

// rejectedAndLapsed: Klarna rejected the order after its review and the
// merchant did not capture it within 4 hours ("to accept a rejected order,
// capture it within 4 hours ... else Klarna cancels it").
func (o *order) rejectedAndLapsed(now time.Time) bool {
	return o.FraudStatus == "REJECTED" && len(o.Captures) == 0 && !now.Before(o.FraudDecidedAt.Add(RejectedCaptureWindow))
}

// status is the order's Order Management status at now. Klarna documents
// the enum, not the transitions; the sandbox's: CANCELLED after a cancel
// (or a lapsed rejection), EXPIRED when nothing was captured before
// expires_at, CAPTURED when the captures reach order_amount or the rest was
// released, PART_CAPTURED below that, AUTHORIZED before any capture. A
// partly captured order stays PART_CAPTURED after expires_at, with nothing
// left to capture.
func (o *order) status(now time.Time) string {
	captured := o.captured()
	switch {
	case o.Cancelled || o.rejectedAndLapsed(now):
		return omCancelled
	case captured == 0 && !now.Before(o.expiresAt()):
		return omExpired
	case captured > 0 && (captured >= o.Amount || o.Released):
		return omCaptured
	case captured > 0:
		return omPartCaptured
	}
	return omAuthorized
}

// remaining is remaining_authorized_amount: what may still be captured.
func (o *order) remaining(now time.Time) int64 {
	switch o.status(now) {
	case omAuthorized, omPartCaptured:
		if now.Before(o.expiresAt()) {
			return o.Amount - o.captured()
		}
	}
	return 0
}

// omTime is Order Management's timestamp form (2022-07-08T09:48:16.680Z).
func omTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func lines(ls []wireLine) []wireLine {
	if ls == nil {
		return []wireLine{}
	}
	return ls
}

func (c *capture) wire() map[string]any {
	out := map[string]any{"capture_id": c.ID, "captured_amount": c.Amount, "captured_at": omTime(c.CapturedAt),
		"refunded_amount": c.RefundedAmount, "order_lines": lines(c.Lines), "shipping_info": json.RawMessage("[]")}
	if c.Reference != "" {
		out["reference"] = c.Reference
	}
	if c.Description != "" {
		out["description"] = c.Description
	}
	if len(c.ShippingInfo) > 0 {
		out["shipping_info"] = c.ShippingInfo
	}
	return out
}

func (r *refund) wire() map[string]any {
	out := map[string]any{"refund_id": r.ID, "refunded_amount": r.Amount, "refunded_at": omTime(r.RefundedAt),
		"order_lines": lines(r.Lines)}
	if r.Reference != "" {
		out["reference"] = r.Reference
	}
	if r.Description != "" {
		out["description"] = r.Description
	}
	return out
}

// wire is the order as GET /ordermanagement/v1/orders/{order_id} answers
// it (the OpenAPI's order object, the fields the sandbox has).
func (p *provider) wireOrder(o *order) map[string]any {
	now := p.st.Now()
	captures, refunds := []map[string]any{}, []map[string]any{}
	for _, c := range o.Captures {
		captures = append(captures, c.wire())
	}
	for _, r := range o.Refunds {
		refunds = append(refunds, r.wire())
	}
	out := map[string]any{
		"order_id": o.ID, "status": o.status(now), "fraud_status": o.FraudStatus,
		"order_amount": o.Amount, "original_order_amount": o.Amount,
		"captured_amount": o.captured(), "refunded_amount": o.refunded(), "remaining_authorized_amount": o.remaining(now),
		"purchase_country": o.Country, "purchase_currency": o.Currency,
		"order_lines": lines(o.Lines), "klarna_reference": o.KlarnaReference,
		"created_at": omTime(o.CreatedAt), "expires_at": omTime(o.expiresAt()),
		"captures": captures, "refunds": refunds,
	}
	if o.Locale != "" {
		out["locale"] = o.Locale
	}
	if o.MerchantReference1 != "" {
		out["merchant_reference1"] = o.MerchantReference1
	}
	if o.MerchantReference2 != "" {
		out["merchant_reference2"] = o.MerchantReference2
	}
	if o.Method.Type != "" {
		out["initial_payment_method"] = map[string]any{"type": strings.ToUpper(o.Method.Type), "description": categoryName(o.Country, o.Category)}
	}
	if out["fraud_status"] == "" {
		out["fraud_status"] = "ACCEPTED"
	}
	return out
}

// categoryName is the name the country's category is shown by ("Pay in 30
// days"), the category's id when it is not offered there.
func categoryName(country, id string) string {
	for _, c := range categoriesOf(country) {
		if c.ID == id {
			return c.Name
		}
	}
	return id
}

var noSuchOrder = &apiError{http.StatusNotFound, "NO_SUCH_ORDER", []string{"Order not found"}}

// omOrder returns the region's order; an order of the other region is as
// unknown as any. Callers hold p.mu.
func (p *provider) omOrder(reg region, id string) (*order, *apiError) {
	o := p.orders[id]
	if o == nil || regionOf(o.Region) != reg {
		return nil, noSuchOrder
	}
	return o, nil
}

// notAllowed is a 403 with Klarna's documented message first and the
// sandbox's reason after it.
func notAllowed(code, documented, why string) *apiError {
	msgs := []string{documented}
	if why != "" {
		msgs = append(msgs, why)
	}
	return &apiError{http.StatusForbidden, code, msgs}
}

// omBody decodes an Order Management request body. Unknown fields are
// ignored; a field of the wrong type, or a body that is not JSON, is 400
// BAD_VALUE naming it.
func omBody(data []byte, v any) *apiError {
	if len(strings.TrimSpace(string(data))) == 0 {
		return badValue("request body: missing")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return badValue(te.Field + ": want " + te.Type.String())
		}
		return badValue("request body: not a JSON object")
	}
	return nil
}

// amountBody is the part captures and refunds share.
type amountBody struct {
	Reference   *string     `json:"reference"`
	Description *string     `json:"description"`
	OrderLines  *[]wireLine `json:"order_lines"`
}

func (b amountBody) check(field string, amount *int64) *apiError {
	var bad []string
	if amount == nil {
		bad = append(bad, field+": required")
	} else if *amount <= 0 {
		bad = append(bad, field+": must be positive")
	}
	if b.Reference != nil && len(*b.Reference) > 255 {
		bad = append(bad, "reference: at most 255 characters")
	}
	if b.Description != nil && len(*b.Description) > 255 {
		bad = append(bad, "description: at most 255 characters")
	}
	if b.OrderLines != nil && len(*b.OrderLines) > 1000 {
		bad = append(bad, "order_lines: at most 1000")
	}
	if len(bad) > 0 {
		return badValue(bad...)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefLines(l *[]wireLine) []wireLine {
	if l == nil {
		return nil
	}
	return *l
}

func (p *provider) omPath(reg region, orderID, rest string) string {
	return p.st.Config.BaseURL + reg.base() + "/ordermanagement/v1/orders/" + orderID + rest
}

// omGetOrder is GET /ordermanagement/v1/orders/{order_id}.
func (p *provider) omGetOrder(w http.ResponseWriter, r *http.Request, reg region) {
	if p.st.Hit(w, r, opOMGetOrder) || !p.authorized(w, r, reg) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, e := p.omOrder(reg, r.PathValue("order_id"))
	if e != nil {
		writeResponse(w, fail(e))
		return
	}
	writeJSON(w, http.StatusOK, p.wireOrder(o))
}

// omGetCapture is GET .../captures/{capture_id}, counted as a read of the
// order.
func (p *provider) omGetCapture(w http.ResponseWriter, r *http.Request, reg region) {
	if p.st.Hit(w, r, opOMGetOrder) || !p.authorized(w, r, reg) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, e := p.omOrder(reg, r.PathValue("order_id"))
	if e != nil {
		writeResponse(w, fail(e))
		return
	}
	for _, c := range o.Captures {
		if c.ID == r.PathValue("capture_id") {
			writeJSON(w, http.StatusOK, c.wire())
			return
		}
	}
	writeResponse(w, fail(&apiError{http.StatusNotFound, "NO_SUCH_CAPTURE", []string{"Capture not found"}}))
}

// omGetRefund is GET .../refunds/{refund_id}, where a refund's Location
// points; counted as a read of the order.
func (p *provider) omGetRefund(w http.ResponseWriter, r *http.Request, reg region) {
	if p.st.Hit(w, r, opOMGetOrder) || !p.authorized(w, r, reg) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, e := p.omOrder(reg, r.PathValue("order_id"))
	if e != nil {
		writeResponse(w, fail(e))
		return
	}
	for _, rf := range o.Refunds {
		if rf.ID == r.PathValue("refund_id") {
			writeJSON(w, http.StatusOK, rf.wire())
			return
		}
	}
	writeResponse(w, fail(&apiError{http.StatusNotFound, "NOT_FOUND", []string{"Refund not found"}}))
}

// omCapture is POST .../captures: 201 with Capture-Id and Location and no
// body. Refused (403 CAPTURE_NOT_ALLOWED, "The order might be cancelled or
// expired, or the captured amount might be higher than the remaining
// authorized amount") as documented, and, a choice, while Klarna's fraud
// review holds the order (fraud_status PENDING: "do not ship").
func (p *provider) omCapture(w http.ResponseWriter, r *http.Request, reg region) {
	body, proceed := p.begin(w, r, opOMCapture, reg)
	if !proceed {
		return
	}
	id := r.PathValue("order_id")
	p.omIdempotent(w, r, reg, func() response {
		var req struct {
			amountBody
			CapturedAmount *int64          `json:"captured_amount"`
			ShippingInfo   json.RawMessage `json:"shipping_info"`
		}
		if e := omBody(body, &req); e != nil {
			return fail(e)
		}
		if e := req.check("captured_amount", req.CapturedAmount); e != nil {
			return fail(e)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		o, e := p.omOrder(reg, id)
		if e != nil {
			return fail(e)
		}
		now, amount := p.st.Now(), *req.CapturedAmount
		const msg = "Capture not allowed"
		switch st := o.status(now); {
		case st == omCancelled:
			return fail(notAllowed("CAPTURE_NOT_ALLOWED", msg, "The order is cancelled."))
		case st == omExpired || (st == omPartCaptured && !now.Before(o.expiresAt())):
			return fail(notAllowed("CAPTURE_NOT_ALLOWED", msg, "The order's authorization expired at "+omTime(o.expiresAt())+"."))
		case o.FraudStatus == "PENDING":
			return fail(notAllowed("CAPTURE_NOT_ALLOWED", msg, "The order is pending Klarna's fraud review (fraud_status PENDING): wait for the notification."))
		case amount > o.remaining(now):
			return fail(notAllowed("CAPTURE_NOT_ALLOWED", msg, "The captured amount "+strconv.FormatInt(amount, 10)+
				" is higher than the remaining authorized amount "+strconv.FormatInt(o.remaining(now), 10)+"."))
		}
		c := &capture{ID: newID(), Amount: amount, Reference: deref(req.Reference), Description: deref(req.Description),
			Lines: derefLines(req.OrderLines), CapturedAt: now}
		if t := strings.TrimSpace(string(req.ShippingInfo)); t != "" && t != "null" {
			c.ShippingInfo = req.ShippingInfo
		}
		o.Captures = append(o.Captures, c)
		exchanges.Ref(r.Context(), c.ID)
		return response{status: http.StatusCreated,
			header: map[string]string{"Capture-Id": c.ID, "Location": p.omPath(reg, o.ID, "/captures/"+c.ID)}}
	})
}

// omRefund is POST .../refunds: 201 with Refund-Id and Location. The
// refunded amount "must be less or equal to the captured_amount" (minus
// what was refunded before): 403 REFUND_NOT_ALLOWED otherwise, with
// Klarna's messages for an over-refund and for an order with no captures.
func (p *provider) omRefund(w http.ResponseWriter, r *http.Request, reg region) {
	body, proceed := p.begin(w, r, opOMRefund, reg)
	if !proceed {
		return
	}
	id := r.PathValue("order_id")
	p.omIdempotent(w, r, reg, func() response {
		var req struct {
			amountBody
			RefundedAmount *int64 `json:"refunded_amount"`
		}
		if e := omBody(body, &req); e != nil {
			return fail(e)
		}
		if e := req.check("refunded_amount", req.RefundedAmount); e != nil {
			return fail(e)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		o, e := p.omOrder(reg, id)
		if e != nil {
			return fail(e)
		}
		amount := *req.RefundedAmount
		if len(o.Captures) == 0 {
			return fail(notAllowed("REFUND_NOT_ALLOWED", "Order has no captures. Refund not possible", ""))
		}
		if left := o.captured() - o.refunded(); amount > left {
			return fail(notAllowed("REFUND_NOT_ALLOWED", "Over refund is not allowed. Refund not possible.",
				"At most "+strconv.FormatInt(left, 10)+" can be refunded."))
		}
		rf := &refund{ID: newID(), Amount: amount, Reference: deref(req.Reference), Description: deref(req.Description),
			Lines: derefLines(req.OrderLines), RefundedAt: p.st.Now()}
		o.Refunds = append(o.Refunds, rf)
		// Each capture's refunded_amount: the refunds taken from the
		// captures in order (Klarna does not say how it splits them).
		left := amount
		for _, c := range o.Captures {
			take := min(left, c.Amount-c.RefundedAmount)
			c.RefundedAmount += take
			left -= take
		}
		exchanges.Ref(r.Context(), rf.ID)
		return response{status: http.StatusCreated,
			header: map[string]string{"Refund-Id": rf.ID, "Location": p.omPath(reg, o.ID, "/refunds/"+rf.ID)}}
	})
}

// omChange answers a bodiless change to one order (cancel, extend,
// release): the request's checks and faults, then change under the lock
// with the order, its answer kept for the idempotency key.
func (p *provider) omChange(w http.ResponseWriter, r *http.Request, reg region, op string, change func(o *order) response) {
	if _, proceed := p.begin(w, r, op, reg); !proceed {
		return
	}
	id := r.PathValue("order_id")
	p.omIdempotent(w, r, reg, func() response {
		p.mu.Lock()
		defer p.mu.Unlock()
		o, e := p.omOrder(reg, id)
		if e != nil {
			return fail(e)
		}
		return change(o)
	})
}

// omCancel is POST .../cancel: 204, for an order nothing was captured
// from ("To successfully cancel the order, don't capture any items listed
// in it"): 403 CANCEL_NOT_ALLOWED otherwise. Chosen: a cancelled or expired
// order cannot be cancelled either.
func (p *provider) omCancel(w http.ResponseWriter, r *http.Request, reg region) {
	p.omChange(w, r, reg, opOMCancel, func(o *order) response {
		switch o.status(p.st.Now()) {
		case omCancelled:
			return fail(notAllowed("CANCEL_NOT_ALLOWED", "Order is cancelled. Cancel not possible.", ""))
		case omExpired:
			return fail(notAllowed("CANCEL_NOT_ALLOWED", "Order is expired. Cancel not possible.", ""))
		}
		if len(o.Captures) > 0 {
			return fail(notAllowed("CANCEL_NOT_ALLOWED", "Order has previous captures. Cancel not possible.", ""))
		}
		o.Cancelled = true
		return ok(http.StatusNoContent, nil)
	})
}

// omExtend is POST .../extend-authorization-time: 204; the new expiry is
// the day of the extension plus the account's period (28 days), never past
// 180 days from the order's creation day and never earlier than it was (so
// a repeat on the same day gives the same date). 403 NOT_ALLOWED for an
// expired or cancelled order (documented) and an order with nothing left
// to capture (chosen). As the expiry never passes the 180th day, an order
// that old is expired, which is the documented limit.
func (p *provider) omExtend(w http.ResponseWriter, r *http.Request, reg region) {
	p.omChange(w, r, reg, opOMExtend, func(o *order) response {
		now := p.st.Now()
		limit := o.CreatedAt.UTC().Truncate(24 * time.Hour).Add(MaxAuthorizationAge)
		switch st := o.status(now); {
		case st == omCancelled:
			return fail(notAllowed("NOT_ALLOWED", "Order is cancelled. Authorization time cannot be extended.", ""))
		case !now.Before(o.expiresAt()):
			return fail(notAllowed("NOT_ALLOWED", "Order is expired. Authorization time cannot be extended.", ""))
		case st == omCaptured:
			return fail(notAllowed("NOT_ALLOWED", "Order is fully captured. Authorization time cannot be extended.", ""))
		}
		next := expiryFrom(now)
		if next.After(limit) {
			next = limit
		}
		if next.After(o.expiresAt()) {
			o.ExpiresAt = next
		}
		return ok(http.StatusNoContent, nil)
	})
}

// omRelease is POST .../release-remaining-authorization: 204 for a partly
// captured order; the rest can no longer be captured and the order reads
// CAPTURED (chosen: Klarna does not say). 403 NOT_ALLOWED otherwise: the
// OpenAPI's "Can not release when order is cancelled or has no captures"
// and the guide's "Order is fully captured".
func (p *provider) omRelease(w http.ResponseWriter, r *http.Request, reg region) {
	p.omChange(w, r, reg, opOMRelease, func(o *order) response {
		now := p.st.Now()
		switch st := o.status(now); {
		case st == omCancelled:
			return fail(notAllowed("NOT_ALLOWED", "Order is cancelled. Remaining authorization cannot be released.", ""))
		case len(o.Captures) == 0:
			return fail(notAllowed("NOT_ALLOWED", "Order has no captures. Remaining authorization cannot be released.", ""))
		case st == omCaptured:
			return fail(notAllowed("NOT_ALLOWED", "Order is fully captured. Remaining authorization cannot be released.", ""))
		case !now.Before(o.expiresAt()):
			return fail(notAllowed("NOT_ALLOWED", "Order is expired. Remaining authorization cannot be released.", ""))
		}
		o.Released = true
		return ok(http.StatusNoContent, nil)
	})
}

// controlFraud is POST /control/klarna/orders/{order_id}/fraud
// {"fraud_status": "ACCEPTED" | "REJECTED"}: what Klarna's fraud review
// decides for a PENDING order. It answers the order as Order Management
// reads it, and sends the pending-order notification (FRAUD_RISK_ACCEPTED
// or FRAUD_RISK_REJECTED) to the order's merchant_urls.notification
// (callbacks.go).
func (p *provider) controlFraud(w http.ResponseWriter, r *http.Request) {
	var body struct {
		FraudStatus string `json:"fraud_status"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); (err != nil && !errors.Is(err, io.EOF)) ||
		(body.FraudStatus != "ACCEPTED" && body.FraudStatus != "REJECTED") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"fraud_status": "ACCEPTED" or "REJECTED"}`})
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o := p.orders[r.PathValue("order_id")]
	if o == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
		return
	}
	if o.FraudStatus != "PENDING" {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "the order is not pending: fraud_status is " + o.FraudStatus})
		return
	}
	o.FraudStatus, o.FraudDecidedAt = body.FraudStatus, p.st.Now()
	event := eventFraudAccepted
	if o.FraudStatus == "REJECTED" {
		event = eventFraudRejected
	}
	p.notifyFraudDecision(o, event)
	writeJSON(w, http.StatusOK, p.wireOrder(o))
}
