package vipps

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Vipps answers in three error shapes, depending on which layer refuses:
//   - Azure API Management (subscription key, bearer token, rate limits):
//     {"statusCode": 401, "message": "..."} with application/json;
//   - Microsoft Entra ID behind POST /accesstoken/get (client_id, secret):
//     {"error", "error_description", "error_codes", "timestamp", "trace_id",
//     "correlation_id", "error_uri"};
//   - the ePayment API itself: RFC 7807 application/problem+json with
//     type, title, status, detail, instance, traceId and extraDetails.

// detail is one entry of a problem's extraDetails.
type detail struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// problem is the ePayment error body (Problem in the OpenAPI, plus the
// documented instance and extraDetails).
type problem struct {
	Type         string   `json:"type"`
	Title        string   `json:"title"`
	Status       int      `json:"status"`
	Detail       string   `json:"detail,omitempty"`
	Instance     string   `json:"instance,omitempty"`
	TraceID      string   `json:"traceId"`
	ExtraDetails []detail `json:"extraDetails,omitempty"`
}

// newTraceID returns a W3C traceparent-shaped id, the form of the documented
// traceIds ("00-6614b5c7ea5c404b17e45c3a398c4754-5ca6de688e27022d-01").
func newTraceID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}

// instance is the request path as the API names it in problems: below its
// own base ("/v1/payments/{reference}/capture", "/v1/webhooks").
func instance(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, "/vipps/epayment")
	return strings.TrimPrefix(p, "/vipps/webhooks")
}

// writeProblem answers an ePayment error. extraDetails carries field errors
// (validation) or {"name": "ErrorCode", "reason": "6080"} (domain errors).
func writeProblem(w http.ResponseWriter, r *http.Request, status int, title, detailText string, extra ...detail) {
	pr := problem{
		Type:         fmt.Sprintf("https://httpstatuses.io/%d", status),
		Title:        title,
		Status:       status,
		Detail:       detailText,
		Instance:     instance(r),
		TraceID:      newTraceID(),
		ExtraDetails: extra,
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(pr)
}

// writeValidation answers a request whose fields are malformed: "a HTTP 400 Bad
// request without an error code", the fields named in extraDetails.
func writeValidation(w http.ResponseWriter, r *http.Request, fields ...detail) {
	writeProblem(w, r, http.StatusBadRequest, "Bad Request", "See extraDetails for further details", fields...)
}

// writeDomain answers a request the payment's state refuses, with the
// documented title/detail/ErrorCode form.
func writeDomain(w http.ResponseWriter, r *http.Request, status int, e domainError) {
	writeProblem(w, r, status, e.Title, e.Detail, detail{Name: "ErrorCode", Reason: e.Code})
}

// domainError is one row of the ePayment error-code table
// (https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/errors#domain-errors).
// Every code and title below is one that table documents; the sandbox
// answers no code of its own. Where the table's detail text was readable it
// is used word for word (6080, 6040, 6020, 4010); the other details are the
// sandbox's own wording of the row's meaning. Vipps says titles and details
// may be reworded at any time: a client keys on the HTTP status and the
// ErrorCode, never on the text.
type domainError struct {
	Code, Title, Detail string
}

var (
	// Create.
	errReferenceExists = domainError{"4150", "Reference already exists",
		"A payment with this reference already exists for this sales unit. Use a new reference for a new payment."}
	errInvalidPhone = domainError{"4070", "Invalid phone number", ""} // detail: what is wrong, per market
	errCurrency     = domainError{"5040", "Invalid currency for merchant", ""}
	// Idempotency: the same key with another body.
	errCaptureIdempotency = domainError{"4010", "Capture idempotency conflict",
		"The capture request in an idempotent retry must be identical to the previous request(s)."}
	errIdempotency = domainError{"4020", "Idempotency error", ""} // detail names the key
	// Capture.
	errCaptureBeforeReservation = domainError{"6080", "Cannot capture before reservation",
		"The amount you tried to capture is not reserved. The user must accept the payment before capture can be done."}
	errCaptureTooHigh = domainError{"6090", "Capture amount too high",
		"The amount you tried to capture is higher than the reserved amount that is left to capture."}
	errCaptureCancelled = domainError{"6070", "Cannot capture a cancelled payment",
		"The rest of this payment was cancelled; nothing is left to capture."}
	errCapturePeriodExpired = domainError{"6100", "Capture period expired",
		"The reservation was not captured within the sales unit's capture period and was cancelled."}
	errCannotCapture = domainError{"6200", "Payment cannot be captured",
		"The payment is aborted, expired or terminated: there is nothing to capture."}
	// Refund.
	errRefundBeforeReservation = domainError{"6020", "Attempted refund before reservation",
		"Cannot refund a payment that is not reserved. Check the payment event log."}
	errNotEnoughRefundable = domainError{"6150", "Not enough refundable",
		"You cannot refund more than the captured amount that is not already refunded."}
	errCannotRefund = domainError{"6210", "Payment cannot be refunded",
		"The payment is aborted, expired or terminated: nothing was captured to refund."}
	// Cancel.
	errCancelCaptured = domainError{"6040", "Cannot cancel a captured payment",
		"Cannot cancel a payment that has been captured. Check the payment event log."}
	errCancelAuthorized = domainError{"6060", "Cannot cancel authorized payment",
		"cancelTransactionOnly was set, but the user has already authorized the payment."}
	errCannotCancel = domainError{"6190", "Payment cannot be cancelled",
		"The payment is already terminated, aborted, expired or fully cancelled."}
	// Force approve (test environment only).
	errApproveNotAllowed = domainError{"10020", "Approve not allowed",
		"Only a payment that is waiting for the user (state CREATED) can be approved."}
)

// withDetail is e with an occurrence-specific detail.
func (e domainError) withDetail(d string) domainError { e.Detail = d; return e }

// writeNotFound answers an unknown reference.
func writeNotFound(w http.ResponseWriter, r *http.Request, ref string) {
	writeProblem(w, r, http.StatusNotFound, "Not Found", fmt.Sprintf("No payment with reference %q was found for this merchant.", ref))
}

// azureError is API Management's own body.
type azureError struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
}

// Messages from Vipps MobilePay's errors FAQ
// (https://developer.vippsmobilepay.com/docs/knowledge-base/errors/).
const (
	msgMissingSubscriptionKey = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
	msgInvalidSubscriptionKey = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."
	// The body of a 401 for a missing, malformed or expired bearer token is NOT
	// FOUND in Vipps's documentation. The sandbox answers with API Management's
	// shape and the message of its validate-jwt policy; the client treats any
	// 401 from an API call alike (drop the token, fetch once, retry once).
	msgInvalidToken = "Unauthorized. Access token is missing or invalid."
)

func writeAzure(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(azureError{StatusCode: status, Message: msg})
}

// entraError is Microsoft Entra ID's OAuth error body, which
// POST /accesstoken/get passes through for an unknown client_id, as reported
// in https://github.com/vippsas/vipps-ecom-api/issues/183.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

func writeEntra(w http.ResponseWriter, now time.Time, status int, errName string, code int, text string) {
	trace, corr := uuid(), uuid()
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(entraError{
		Error:            errName,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", code, text, trace, corr, ts),
		ErrorCodes:       []int{code},
		Timestamp:        ts,
		TraceID:          trace,
		CorrelationID:    corr,
		ErrorURI:         fmt.Sprintf("https://login.windows.net/error?code=%d", code),
	})
}

// writeFault is the error shape for injected faults: API Management's body for
// the token endpoint, problem+json for the ePayment API.
func (p *provider) writeFault(w http.ResponseWriter, r *http.Request, status int) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/vipps/landing"):
		http.Error(w, "The Vipps MobilePay landing page is not available right now ("+http.StatusText(status)+").", status)
		return
	case strings.HasPrefix(r.URL.Path, "/vipps/accesstoken/"):
		writeAzure(w, status, http.StatusText(status))
		return
	}
	writeProblem(w, r, status, http.StatusText(status), "Injected by the sandbox control API.")
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
