package klarna

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"time"
)

// Order Management statuses (the order object's status enum). Klarna
// documents the values, not what moves an order between them.
const (
	StatusAuthorized   = "AUTHORIZED"
	StatusPartCaptured = "PART_CAPTURED"
	StatusCaptured     = "CAPTURED"
	StatusCancelled    = "CANCELLED"
	StatusExpired      = "EXPIRED"
	StatusClosed       = "CLOSED"
)

// ManagedOrder is an order as Order Management reads it (GET
// /ordermanagement/v1/orders/{order_id}). Amounts are minor units.
type ManagedOrder struct {
	OrderID                   string      `json:"order_id"`
	Status                    string      `json:"status"`
	FraudStatus               string      `json:"fraud_status"`
	OrderAmount               int64       `json:"order_amount"`
	OriginalOrderAmount       int64       `json:"original_order_amount"`
	CapturedAmount            int64       `json:"captured_amount"`
	RefundedAmount            int64       `json:"refunded_amount"`
	RemainingAuthorizedAmount int64       `json:"remaining_authorized_amount"`
	PurchaseCountry           string      `json:"purchase_country"`
	PurchaseCurrency          string      `json:"purchase_currency"`
	Locale                    string      `json:"locale"`
	KlarnaReference           string      `json:"klarna_reference"`
	MerchantReference1        string      `json:"merchant_reference1"`
	MerchantReference2        string      `json:"merchant_reference2"`
	OrderLines                []OrderLine `json:"order_lines"`
	Captures                  []Capture   `json:"captures"`
	Refunds                   []Refund    `json:"refunds"`
	// ExpiresAt: "The order can only be captured until this time".
	ExpiresAt            time.Time             `json:"expires_at"`
	CreatedAt            time.Time             `json:"created_at"`
	InitialPaymentMethod *InitialPaymentMethod `json:"initial_payment_method,omitempty"`
}

// Capture is one capture of an order.
type Capture struct {
	CaptureID      string    `json:"capture_id"`
	CapturedAmount int64     `json:"captured_amount"`
	CapturedAt     time.Time `json:"captured_at"`
	RefundedAmount int64     `json:"refunded_amount"`
	Description    string    `json:"description,omitempty"`
	Reference      string    `json:"reference,omitempty"`
}

// Refund is one refund of an order.
type Refund struct {
	RefundID       string    `json:"refund_id"`
	RefundedAmount int64     `json:"refunded_amount"`
	RefundedAt     time.Time `json:"refunded_at"`
	Description    string    `json:"description,omitempty"`
	Reference      string    `json:"reference,omitempty"`
}

// InitialPaymentMethod is how the customer chose to pay: {"type":
// "INVOICE", "description": "Pay later"}.
type InitialPaymentMethod struct {
	Type        string `json:"type"`
	Description string `json:"description"`
}

func omPath(orderID, rest string) string {
	return "/ordermanagement/v1/orders/" + url.PathEscape(orderID) + rest
}

const omTemplate = "/ordermanagement/v1/orders/{order_id}"

// GetOrder reads an order through Order Management: its status, fraud
// status, amounts, captures and refunds. 404 NO_SUCH_ORDER: IsNoSuchOrder.
func (c *Client) GetOrder(ctx context.Context, orderID string) (ManagedOrder, error) {
	var out ManagedOrder
	err := c.do(ctx, call{
		name: "om_get_order", method: http.MethodGet, template: omTemplate,
		path: omPath(orderID, ""), out: &out, ok: []int{http.StatusOK},
	})
	return out, err
}

// Capture captures amount of the order (all of what remains, or part of
// it: "the same endpoint") and returns the capture's id. reference (at most
// 255 characters, "" for none) is kept on the capture and shown in the
// order's captures, so a capture whose answer was lost can be recognized
// there. Klarna answers 201
// with no body and the id in the Capture-Id header (the Location header's
// last segment, should that header be missing). Refused with 403
// CAPTURE_NOT_ALLOWED when the order is cancelled or expired or the amount
// is more than remains authorized (IsRefused).
func (c *Client) Capture(ctx context.Context, orderID string, amount int64, reference, idemKey string) (string, error) {
	var h http.Header
	err := c.do(ctx, call{
		name: "om_capture", method: http.MethodPost, template: omTemplate + "/captures",
		path: omPath(orderID, "/captures"), header: headerKlarnaIdempotencyKey, key: idemKey,
		body: amountBody{CapturedAmount: amount, Reference: reference}, respHeader: &h, ok: []int{http.StatusCreated},
	})
	if err != nil {
		return "", err
	}
	return createdID(h, "Capture-Id"), nil
}

// Refund refunds amount of what was captured and returns the refund's id
// (Refund-Id); reference is kept on the refund, as Capture's. Refused with 403 REFUND_NOT_ALLOWED when it is more than
// was captured and not yet refunded, or nothing was captured.
func (c *Client) Refund(ctx context.Context, orderID string, amount int64, reference, idemKey string) (string, error) {
	var h http.Header
	err := c.do(ctx, call{
		name: "om_refund", method: http.MethodPost, template: omTemplate + "/refunds",
		path: omPath(orderID, "/refunds"), header: headerKlarnaIdempotencyKey, key: idemKey,
		body: amountBody{RefundedAmount: amount, Reference: reference}, respHeader: &h, ok: []int{http.StatusCreated},
	})
	if err != nil {
		return "", err
	}
	return createdID(h, "Refund-Id"), nil
}

// Cancel cancels an order nothing was captured from (204). After a
// capture Klarna refuses with 403 CANCEL_NOT_ALLOWED: refund instead.
func (c *Client) Cancel(ctx context.Context, orderID, idemKey string) error {
	return c.do(ctx, call{
		name: "om_cancel", method: http.MethodPost, template: omTemplate + "/cancel",
		path: omPath(orderID, "/cancel"), header: headerKlarnaIdempotencyKey, key: idemKey, ok: []int{http.StatusNoContent},
	})
}

// ExtendAuthorization extends the time the order can be captured in: the
// account's period (28 days by default) from today, at most 180 days from
// the order's creation (204). 403 NOT_ALLOWED for an expired or cancelled
// order.
func (c *Client) ExtendAuthorization(ctx context.Context, orderID, idemKey string) error {
	return c.do(ctx, call{
		name: "om_extend", method: http.MethodPost, template: omTemplate + "/extend-authorization-time",
		path: omPath(orderID, "/extend-authorization-time"), header: headerKlarnaIdempotencyKey, key: idemKey,
		ok: []int{http.StatusNoContent},
	})
}

// ReleaseRemaining gives up the part of a partly captured order that will
// not be captured (204). 403 NOT_ALLOWED for an order that is fully
// captured, cancelled or has no captures.
func (c *Client) ReleaseRemaining(ctx context.Context, orderID, idemKey string) error {
	return c.do(ctx, call{
		name: "om_release", method: http.MethodPost, template: omTemplate + "/release-remaining-authorization",
		path: omPath(orderID, "/release-remaining-authorization"), header: headerKlarnaIdempotencyKey, key: idemKey,
		ok: []int{http.StatusNoContent},
	})
}

// amountBody is a capture's or a refund's request (CaptureObject,
// RefundObject): the amount, and the merchant's reference when there is one.
type amountBody struct {
	CapturedAmount int64  `json:"captured_amount,omitempty"`
	RefundedAmount int64  `json:"refunded_amount,omitempty"`
	Reference      string `json:"reference,omitempty"`
}

// createdID is the id header of a 201, else the last segment of its
// Location.
func createdID(h http.Header, name string) string {
	if id := h.Get(name); id != "" {
		return id
	}
	if loc := h.Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil {
			return path.Base(u.Path)
		}
	}
	return ""
}
