package altpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Kind sorts the API's refusals by what the shop can do about them.
type Kind int

const (
	KindUnavailable Kind = iota + 1 // no answer, an unusable answer, 5xx, 429: try again later
	KindAuth                        // 401/403: the shop's credentials (403 "Invalid credentials" from /oauth/token)
	KindInvalid                     // another 4xx: the API refused what was sent
	KindNotFound                    // 404, or a search that found nothing: see ErrNotFound
)

// ErrNotFound is a customer or invoice the provider does not know. An *Error
// of KindNotFound matches it with errors.Is.
var ErrNotFound = errors.New("altpay: not found")

// Error is every failed call of this package. Its text is for logs (never
// for customers) and carries no credentials or URLs.
type Error struct {
	Op               string // the operation, as the sandbox names it: "create_invoice"
	Status           int    // the error answer's HTTP status; 0 when no answer came or it was unusable
	Kind             Kind
	Code             string            // the HttpError body's code ("bad_request")
	Message          string            // its message, or what went wrong when there was no such body
	ValidationErrors map[string]string // field -> message
	RequestID        string            // the provider's X-Request-Id, for support
	err              error
	retry            bool // worth another try: no answer, or a 5xx
	unknown          bool // the request may have been carried out: no answer, a 5xx, or an unreadable 2xx
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "altpay %s", e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if len(e.ValidationErrors) > 0 {
		var parts []string
		for _, f := range slices.Sorted(maps.Keys(e.ValidationErrors)) {
			parts = append(parts, f+": "+e.ValidationErrors[f])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, "; "))
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " request_id=%s", e.RequestID)
	}
	return b.String()
}

// Unwrap is the cause of an error that is not an error answer: a transport
// error (whose text, which holds the URL, Error leaves out) or a decoding
// error.
func (e *Error) Unwrap() error { return e.err }

// Is makes errors.Is(err, ErrNotFound) true for KindNotFound.
func (e *Error) Is(target error) bool { return target == ErrNotFound && e.Kind == KindNotFound }

// IsKind reports whether err is an Alternative Payments error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// decodeError reads an error answer in the API's HttpError shape {code,
// message, validation_errors}; other bodies leave the status's own text.
func decodeError(op string, status int, hdr http.Header, body []byte) *Error {
	var b struct {
		Code             string            `json:"code"`
		Message          string            `json:"message"`
		Error            string            `json:"error"` // the SDK's ApiErrorResponse names it so
		ValidationErrors map[string]string `json:"validation_errors"`
	}
	_ = json.Unmarshal(body, &b)
	// Only 5xx is tried again. A 4xx, 429 included, is the caller's to
	// handle: the shop's calls are not urgent enough to wait out a rate
	// limit inside a page request.
	e := &Error{Op: op, Status: status, Kind: kindOf(status), Code: b.Code, Message: b.Message,
		ValidationErrors: b.ValidationErrors, RequestID: hdr.Get("X-Request-Id"), retry: status >= 500, unknown: status >= 500}
	if e.Message == "" {
		e.Message = b.Error
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

func kindOf(status int) Kind {
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return KindUnavailable
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return KindAuth
	case status == http.StatusNotFound:
		return KindNotFound
	}
	return KindInvalid
}

// noAnswer is a call that got no answer (connection refused, timeout). The
// transport error's text, which holds the URL, stays out of the message.
func noAnswer(op string, err error) *Error {
	what := "network error"
	var ue *url.Error
	switch {
	case errors.Is(err, context.Canceled):
		what = "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ue) && ue.Timeout():
		what = "timeout"
	}
	// Even a canceled request may have reached the provider.
	return &Error{Op: op, Kind: KindUnavailable, Message: "no answer: " + what, err: err, retry: what != "canceled", unknown: true}
}

// OutcomeUnknown reports whether err leaves open whether the provider carried
// out the request: no answer came (a timeout, a connection closed with no
// reply), a 5xx, or a 2xx the client could not read. A 4xx, 429 included,
// is a refusal: nothing was done. An error before the request was sent
// (getting the OAuth token) is not unknown either. After an unknown outcome
// of a create that is not idempotent (CreateInvoice), look the object up
// before creating it again (FindInvoices).
func OutcomeUnknown(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.unknown
}

// retryable reports whether err is worth another try: no answer (unless the
// caller gave up), or a 5xx.
func retryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.retry
}

// notSent is err from a step before the call itself was sent (getting the
// OAuth token): whatever that step's own outcome, the call did nothing.
func notSent(err error) error {
	var e *Error
	if !errors.As(err, &e) || !e.unknown {
		return err
	}
	c := *e
	c.unknown = false
	return &c
}
