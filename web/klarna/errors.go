package klarna

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Error is every failed Klarna call: an error answer (ErrorV2:
// correlation_id, error_code, error_messages), an answer that could not be
// read, or no answer at all. CorrelationID is what Klarna's support asks
// for: the shop logs it and shows it on the error page as the support
// reference. Its text never contains the URL (Klarna puts tokens in paths).
type Error struct {
	Op string // create_order, ... (the operation name the sandbox counts)
	// Answered: Klarna answered, with Status. False: the call got no answer
	// (Kind says how it failed) and Status is 0.
	Answered      bool
	Status        int
	CorrelationID string
	Code          string   // ALL_CAPS_SNAKE_CASE, e.g. BAD_VALUE
	Messages      []string // e.g. "Bad value: purchase_country"
	// Lost: an earlier try got no answer at all, so it may have done the
	// work even though this answer says otherwise.
	Lost bool
	Kind string // without an answer: timeout, canceled or network
	err  error  // why there was no answer, or why the answer was unreadable
}

func (e *Error) Error() string {
	if !e.Answered {
		return "klarna " + e.Op + ": no answer (" + e.Kind + ")"
	}
	s := fmt.Sprintf("klarna %s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if len(e.Messages) > 0 {
		s += ": " + strings.Join(e.Messages, "; ")
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	if e.CorrelationID != "" {
		s += " (correlation id " + e.CorrelationID + ")"
	}
	return s
}

// Unwrap exposes context errors (so callers can tell a cancelled request)
// but not a *url.Error, whose text holds the URL.
func (e *Error) Unwrap() error {
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(e.err, ctxErr) {
			return ctxErr
		}
	}
	return nil
}

// decodeError reads an error answer. Klarna's body is ErrorV2; a body that is
// not (a proxy's HTML page, an empty 401) still gives an Error with the
// status and the Klarna-Correlation-Id header.
func decodeError(op string, resp *http.Response, body []byte) *Error {
	e := &Error{Op: op, Answered: true, Status: resp.StatusCode}
	var w struct {
		CorrelationID string   `json:"correlation_id"`
		ErrorCode     string   `json:"error_code"`
		ErrorMessages []string `json:"error_messages"`
	}
	if json.Unmarshal(body, &w) == nil {
		e.CorrelationID, e.Code, e.Messages = w.CorrelationID, w.ErrorCode, w.ErrorMessages
	}
	if e.CorrelationID == "" {
		e.CorrelationID = resp.Header.Get("Klarna-Correlation-Id")
	}
	return e
}

// CorrelationID returns the Klarna correlation id carried by err, if any.
func CorrelationID(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.CorrelationID
	}
	return ""
}

// StatusOf returns the HTTP status of Klarna's answer, 0 for a call that got
// none and for other errors.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// NeedsReapproval reports whether a create-order error means the customer
// must approve again: 409 (the order no longer matches the authorized
// session: the cart changed) or 404 (the authorization is unknown, used,
// cancelled or older than 60 minutes: Klarna answers NOT_FOUND "Invalid
// authorization token").
func NeedsReapproval(err error) bool {
	s := StatusOf(err)
	return s == http.StatusConflict || s == http.StatusNotFound
}

// CartChanged reports a 409 from create order: the cart changed since the
// customer approved.
func CartChanged(err error) bool { return StatusOf(err) == http.StatusConflict }

// TokenGone reports that a Customer Token API token (a token_id) can no
// longer be charged by this merchant: 404 TOKEN_NOT_FOUND, or 403
// TOKEN_CANCELLED, TOKEN_SUSPENDED or TOKEN_FORBIDDEN ("usage forbidden, e.g.
// by this merchant ID"). Other 403s (PAYMENT_METHOD_CURRENCY_MISMATCH,
// UNAVAILABLE_PAYMENT_METHOD, PAYMENT_METHOD_FAILED) leave the token as it
// is. Error table:
// https://docs.klarna.com/kco/use-cases/place-order-token
func TokenGone(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status == http.StatusNotFound ||
		(e.Status == http.StatusForbidden && (e.Code == "TOKEN_CANCELLED" || e.Code == "TOKEN_SUSPENDED" || e.Code == "TOKEN_FORBIDDEN"))
}

// TokenOrderFallback reports the token-order refusal Klarna documents as the
// trigger of its fallback purchase flow: 403 UNAVAILABLE_PAYMENT_METHOD (the
// token cannot be charged because of a funding source issue). With the
// customer present, the shop creates a new session with intent buy and lets
// the customer pay in the widget
// (https://docs.klarna.com/payments/web-payments/integrate-with-klarna-payments/tokenized-payments/handle-token-order-failure).
func TokenOrderFallback(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusForbidden && e.Code == "UNAVAILABLE_PAYMENT_METHOD"
}

// TokenOrderRetryable reports a token-order refusal Klarna says may succeed
// when tried again later: 403 PAYMENT_METHOD_FAILED ("a temporary issue with
// the payment method"), 500 and 503 SERVICE_UNAVAILABLE.
func TokenOrderRetryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) || !e.Answered {
		return false
	}
	return (e.Status == http.StatusForbidden && e.Code == "PAYMENT_METHOD_FAILED") ||
		e.Status == http.StatusInternalServerError || e.Status == http.StatusServiceUnavailable
}

// Unanswered reports a Klarna call that got no answer (a timeout, a refused
// or broken connection): Klarna may be down, or may not have heard.
func Unanswered(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.Answered
}

// AnsweredEveryTry reports a failed call whose every try Klarna answered
// (with an error): none of them can have done the work unseen. False for a
// call with a try that got no answer, and for other errors.
func AnsweredEveryTry(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Answered && !e.Lost
}

// noAnswer is the error of a call that got no answer.
func noAnswer(op string, err error) *Error {
	kind := "network"
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		kind = "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		kind = "timeout"
	}
	return &Error{Op: op, Kind: kind, err: err}
}

// Order Management's refusals: 403 with one of these error_codes
// (https://docs.klarna.com/resources/developer-tools/error-handling/error-codes-and-messages-for-order-management).
const (
	CaptureNotAllowed = "CAPTURE_NOT_ALLOWED" // cancelled, expired, or more than remains authorized
	RefundNotAllowed  = "REFUND_NOT_ALLOWED"  // more than captured, or nothing captured
	CancelNotAllowed  = "CANCEL_NOT_ALLOWED"  // the order has captures (refund instead), or is closed
	NotAllowed        = "NOT_ALLOWED"         // extend or release refused (expired, cancelled, fully captured, ...)
)

// IsRefused reports a 403 refusal: Klarna understood the request and the
// order's state does not allow it, so trying again will not help. With
// codes, only a refusal with one of those error_codes counts:
// IsRefused(err, klarna.CaptureNotAllowed).
func IsRefused(err error, codes ...string) bool {
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusForbidden {
		return false
	}
	if len(codes) == 0 {
		return true
	}
	for _, c := range codes {
		if e.Code == c {
			return true
		}
	}
	return false
}

// IsNoSuchOrder reports an Order Management call for an order Klarna does
// not know: 404 NO_SUCH_ORDER (NOT_FOUND on the refunds endpoint), also
// the answer for an order of the other region's account.
func IsNoSuchOrder(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound && strings.HasPrefix(e.Op, "om_")
}

// ErrorCode returns Klarna's error_code carried by err ("" for none).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Reason returns Klarna's error_messages as sentences a person can read
// ("Order has previous captures. Cancel not possible."), "" when Klarna
// gave none. Show it next to the shop's own words, never instead of
// acting on the code.
func Reason(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return ""
	}
	var parts []string
	for _, m := range e.Messages {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if !strings.HasSuffix(m, ".") && !strings.HasSuffix(m, "!") && !strings.HasSuffix(m, "?") {
			m += "."
		}
		parts = append(parts, m)
	}
	return strings.Join(parts, " ")
}
