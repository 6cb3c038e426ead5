package vipps

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"refshop/web/outbound"
)

// Payment states (ePayment State). AUTHORIZED stays the state after
// captures, refunds and cancels of an authorized payment; the Aggregate says
// what happened to the money.
const (
	StateCreated    = "CREATED"
	StateAborted    = "ABORTED"
	StateExpired    = "EXPIRED"
	StateAuthorized = "AUTHORIZED"
	StateTerminated = "TERMINATED"
)

// Amount is minor units of NOK, DKK or EUR.
type Amount struct {
	Currency string `json:"currency"`
	Value    int64  `json:"value"`
}

// Customer is oneOf phone number, personal QR or customer token; the shop
// only sends the phone number (MSISDN: country code and number, digits only).
type Customer struct {
	PhoneNumber string `json:"phoneNumber,omitempty"`
}

// PaymentMethod is WALLET (the app) or CARD.
type PaymentMethod struct {
	Type string `json:"type"`
}

// CreatePaymentRequest is POST /epayment/v1/payments's body.
type CreatePaymentRequest struct {
	Amount             Amount        `json:"amount"`
	Customer           *Customer     `json:"customer,omitempty"`
	PaymentMethod      PaymentMethod `json:"paymentMethod"`
	Reference          string        `json:"reference"`
	ReturnURL          string        `json:"returnUrl,omitempty"`
	UserFlow           string        `json:"userFlow"`
	PaymentDescription string        `json:"paymentDescription,omitempty"`
}

// CreatePaymentResponse is create's 201 answer.
type CreatePaymentResponse struct {
	RedirectURL string `json:"redirectUrl"`
	Reference   string `json:"reference"`
}

// Aggregate is where the authorized money went.
type Aggregate struct {
	AuthorizedAmount Amount `json:"authorizedAmount"`
	CancelledAmount  Amount `json:"cancelledAmount"`
	CapturedAmount   Amount `json:"capturedAmount"`
	RefundedAmount   Amount `json:"refundedAmount"`
}

// Payment is GET /epayment/v1/payments/{reference}'s answer.
type Payment struct {
	Aggregate     Aggregate `json:"aggregate"`
	Amount        Amount    `json:"amount"`
	State         string    `json:"state"`
	PaymentMethod struct {
		Type    string `json:"type"`
		CardBin string `json:"cardBin,omitempty"`
	} `json:"paymentMethod"`
	Profile struct {
		Sub string `json:"sub,omitempty"`
	} `json:"profile"`
	PSPReference string            `json:"pspReference"`
	RedirectURL  string            `json:"redirectUrl,omitempty"`
	Reference    string            `json:"reference"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// Event is one entry of a payment's event log.
type Event struct {
	Reference      string    `json:"reference"`
	PSPReference   string    `json:"pspReference"`
	Name           string    `json:"name"` // CREATED, AUTHORIZED, CAPTURED, ...
	Amount         Amount    `json:"amount"`
	Timestamp      time.Time `json:"timestamp"`
	IdempotencyKey *string   `json:"idempotencyKey"`
	Success        bool      `json:"success"`
}

// Modification is capture's, refund's and cancel's 200 answer.
type Modification struct {
	Amount       Amount    `json:"amount"`
	State        string    `json:"state"`
	Aggregate    Aggregate `json:"aggregate"`
	PSPReference string    `json:"pspReference"`
	Reference    string    `json:"reference"`
}

func op(name, path string) outbound.Op { return outbound.Op{Provider: "vipps", Name: name, Path: path} }

func paymentPath(ref, suffix string) string {
	return "/epayment/v1/payments/" + url.PathEscape(ref) + suffix
}

// CreatePayment creates a payment. key is the Idempotency-Key for this
// payment attempt's create: the same key on every retry.
func (c *Client) CreatePayment(ctx context.Context, req CreatePaymentRequest, key string) (CreatePaymentResponse, error) {
	var out CreatePaymentResponse
	if err := checkKey(key); err != nil {
		return out, err
	}
	err := c.do(ctx, call{op: op("create_payment", "/epayment/v1/payments"), method: http.MethodPost,
		path: "/epayment/v1/payments", body: req, key: key}, &out)
	return out, err
}

// GetPayment reads a payment's state and aggregate.
func (c *Client) GetPayment(ctx context.Context, ref string) (Payment, error) {
	var out Payment
	err := c.do(ctx, call{op: op("get_payment", "/epayment/v1/payments/{reference}"), method: http.MethodGet,
		path: paymentPath(ref, "")}, &out)
	return out, err
}

// Events reads a payment's event log, oldest first.
func (c *Client) Events(ctx context.Context, ref string) ([]Event, error) {
	var out []Event
	err := c.do(ctx, call{op: op("events", "/epayment/v1/payments/{reference}/events"), method: http.MethodGet,
		path: paymentPath(ref, "/events")}, &out)
	return out, err
}

type modificationRequest struct {
	ModificationAmount Amount `json:"modificationAmount"`
}

// Capture takes amount of an authorized payment.
func (c *Client) Capture(ctx context.Context, ref string, amount Amount, key string) (Modification, error) {
	return c.modify(ctx, "capture", ref, modificationRequest{amount}, key)
}

// Refund pays back amount of what was captured.
func (c *Client) Refund(ctx context.Context, ref string, amount Amount, key string) (Modification, error) {
	return c.modify(ctx, "refund", ref, modificationRequest{amount}, key)
}

// Cancel ends a payment: before authorization it is TERMINATED; after, what
// is not captured is released.
func (c *Client) Cancel(ctx context.Context, ref string, key string) (Modification, error) {
	return c.modify(ctx, "cancel", ref, nil, key)
}

func (c *Client) modify(ctx context.Context, name, ref string, body any, key string) (Modification, error) {
	var out Modification
	if err := checkKey(key); err != nil {
		return out, err
	}
	err := c.do(ctx, call{op: op(name, "/epayment/v1/payments/{reference}/"+name), method: http.MethodPost,
		path: paymentPath(ref, "/"+name), body: body, key: key}, &out)
	return out, err
}

// ForceApprove approves a payment as the customer with phone would, without
// the app. Vipps offers it in the test environment only.
func (c *Client) ForceApprove(ctx context.Context, ref, phone string) error {
	body := map[string]any{"customer": Customer{PhoneNumber: phone}}
	return c.do(ctx, call{op: op("approve", "/epayment/v1/test/payments/{reference}/approve"), method: http.MethodPost,
		path: "/epayment/v1/test/payments/" + url.PathEscape(ref) + "/approve", body: body}, nil)
}

func checkKey(key string) error {
	if key == "" || len(key) > MaxKeyLength {
		return fmt.Errorf("vipps: Idempotency-Key must be 1 to %d characters, got %d", MaxKeyLength, len(key))
	}
	return nil
}
