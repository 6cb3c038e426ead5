package vipps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"refshop/web/outbound"
)

// Kind sorts Vipps's refusals by what the shop can do about them.
type Kind int

const (
	KindUnavailable Kind = iota + 1 // network errors, 5xx, 429: try again later
	KindAuth                        // 401/403: the shop's credentials or configuration
	KindInvalid                     // 400 without an error code: a field Vipps refused
	KindState                       // a domain error: the payment's state refuses the operation
	KindNotFound                    // 404: no such payment
	KindConflict                    // 409: reference or Idempotency-Key already used
)

// ExtraDetail is one entry of a problem's extraDetails.
type ExtraDetail struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Problem is the ePayment API's application/problem+json error body.
type Problem struct {
	Type         string        `json:"type"`
	Title        string        `json:"title"`
	Status       ProblemStatus `json:"status"`
	Detail       string        `json:"detail"`
	Instance     string        `json:"instance"`
	TraceID      string        `json:"traceId"`
	ExtraDetails []ExtraDetail `json:"extraDetails"`
}

// ProblemStatus is a problem's status: the HTTP status code, which Vipps
// documents both ways. The ePayment OpenAPI and its errors page send a
// number ("status": 400); the knowledge base's common error format shows a
// string ("status": "400",
// https://developer.vippsmobilepay.com/docs/knowledge-base/errors). It reads
// either, and a value it cannot read as 0 rather than failing, so the rest of
// the body (title, traceId, extraDetails) is never lost over this field;
// decodeError then uses the response's own status.
type ProblemStatus int

func (p *ProblemStatus) UnmarshalJSON(b []byte) error {
	var f flexInt
	if err := f.UnmarshalJSON(b); err != nil {
		*p = 0
		return nil
	}
	*p = ProblemStatus(f)
	return nil
}

// Documented ErrorCodes (extraDetails {"name": "ErrorCode", "reason": ...})
// the shop acts on; the full table is at
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/errors.
// Vipps may reword titles at any time, so the shop keys on these codes.
const (
	CodeInvalidPhoneNumber       = "4070" // Invalid phone number
	CodeReferenceExists          = "4150" // the reference is already used for this sales unit
	CodeInvalidCurrency          = "5040" // Invalid currency for merchant: not the sales unit's country's
	CodeCaptureBeforeReservation = "6080" // the customer has not approved yet
)

// azureBody is Azure API Management's error body ({"statusCode", "message"}),
// which answers for the subscription key and the bearer token.
type azureBody struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
}

// entraBody is Microsoft Entra ID's OAuth error body, passed through by
// POST /accesstoken/get for a wrong client_id or client_secret.
type entraBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

// Error is a failed Vipps call. Its text is for logs, never for customers,
// and carries no credentials.
type Error struct {
	Op      string // the operation, e.g. "create_payment"
	Status  int    // HTTP status; 0 when no answer arrived
	Kind    Kind
	Problem *Problem // the ePayment body, when there was one
	Message string   // Azure's message or Entra's error, when that layer answered
	TraceID string   // problem traceId or Entra trace_id, for Vipps support
	err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vipps %s", e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d", e.Status)
	}
	if e.Problem != nil {
		fmt.Fprintf(&b, " %s", e.Problem.Title)
		if c := e.Code(); c != "" {
			fmt.Fprintf(&b, " (ErrorCode %s)", c)
		}
	} else if e.Message != "" {
		fmt.Fprintf(&b, " %s", e.Message)
	}
	if e.err != nil {
		fmt.Fprintf(&b, ": %v", e.err)
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, " traceId=%s", e.TraceID)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.err }

// Code is the domain error code from extraDetails ("6080"), if any.
func (e *Error) Code() string {
	if e.Problem == nil {
		return ""
	}
	for _, d := range e.Problem.ExtraDetails {
		if d.Name == "ErrorCode" {
			return d.Reason
		}
	}
	return ""
}

// Field reports whether a validation problem names field (e.g.
// "customer.phoneNumber"), compared without case.
func (e *Error) Field(field string) bool {
	if e.Problem == nil {
		return false
	}
	for _, d := range e.Problem.ExtraDetails {
		if strings.EqualFold(d.Name, field) {
			return true
		}
	}
	return false
}

// IsKind reports whether err is a Vipps error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// fail decodes a refusal into an *Error and logs it once with its traceId.
func (c *Client) fail(ctx context.Context, op outbound.Op, res response) error {
	e := decodeError(op.Name, res.status, res.header, res.body)
	level := slog.LevelWarn
	if e.Kind == KindState || e.Kind == KindNotFound || e.Kind == KindInvalid {
		level = slog.LevelInfo // an answer about the payment, not a fault
	}
	attrs := []any{"operation", op.Name, "status", e.Status, "trace_id", e.TraceID}
	if e.Problem != nil {
		attrs = append(attrs, "title", e.Problem.Title, "detail", e.Problem.Detail, "extra_details", e.Problem.ExtraDetails)
	} else if e.Message != "" {
		attrs = append(attrs, "message", e.Message)
	}
	c.log.Log(ctx, level, "vipps refused a call", attrs...)
	return e
}

// decodeError reads whichever of the three error shapes came back.
func decodeError(op string, status int, h http.Header, body []byte) *Error {
	e := &Error{Op: op, Status: status, Kind: kindOf(status)}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	var pr Problem
	var az azureBody
	var en entraBody
	switch {
	// A title makes it a problem: the Webhooks API's documented 400 has no
	// type (every ProblemDetails field is nullable there).
	case (mt == "application/problem+json" || mt == "application/json") && json.Unmarshal(body, &pr) == nil && pr.Title != "":
		if pr.Status == 0 {
			pr.Status = ProblemStatus(status)
		}
		e.Problem = &pr
		e.TraceID = pr.TraceID
		if status == http.StatusBadRequest && e.Code() != "" {
			e.Kind = KindState // domain errors carry a code; malformed fields do not
		}
	case json.Unmarshal(body, &en) == nil && en.Error != "":
		e.Message = en.Error
		if len(en.ErrorCodes) > 0 {
			e.Message = fmt.Sprintf("%s (AADSTS%d)", en.Error, en.ErrorCodes[0])
		}
		e.TraceID = en.TraceID
		e.Kind = KindAuth // a wrong client_id or secret, whatever the status
	case json.Unmarshal(body, &az) == nil && az.Message != "":
		e.Message = az.Message
	default:
		e.Message = http.StatusText(status)
	}
	if e.TraceID == "" {
		e.TraceID = h.Get("traceparent")
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
	case status == http.StatusConflict:
		return KindConflict
	case status == http.StatusBadRequest:
		return KindInvalid
	}
	return KindInvalid
}
