package vipps

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"refshop/web/sandbox/exchanges"
)

var phonePattern = regexp.MustCompile(`^\d{10,15}$`)

// minimum amounts per currency in minor units ("NOK 100 øre, DKK 1 øre,
// EUR 1 cent", the newer spec text); the maximum is the OpenAPI's.
var minimum = map[string]int64{"NOK": 100, "DKK": 1, "EUR": 1}

const maxAmount = 65000000

type createRequest struct {
	Amount              *amount                `json:"amount"`
	Customer            *customerRequest       `json:"customer"`
	CustomerInteraction string                 `json:"customerInteraction"`
	PaymentMethod       *struct{ Type string } `json:"paymentMethod"`
	Reference           string                 `json:"reference"`
	ReturnURL           string                 `json:"returnUrl"`
	UserFlow            string                 `json:"userFlow"`
	ExpiresAt           *string                `json:"expiresAt"`
	PaymentDescription  *string                `json:"paymentDescription"`
	Metadata            map[string]string      `json:"metadata"`
	Receipt             json.RawMessage        `json:"receipt"`
}

// customerRequest is oneOf phoneNumber | personalQr | customerToken.
type customerRequest struct {
	PhoneNumber   *string `json:"phoneNumber"`
	PersonalQr    *string `json:"personalQr"`
	CustomerToken *string `json:"customerToken"`
}

type createResponse struct {
	RedirectURL string `json:"redirectUrl,omitempty"`
	Reference   string `json:"reference"`
}

// decode reads a JSON body. Like the real API (ASP.NET), unknown fields are
// ignored; malformed JSON or a wrong type is a 400 naming the body.
func decode(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	if len(bytes.TrimSpace(body)) == 0 {
		writeValidation(w, r, detail{"body", "A non-empty request body is required."})
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeValidation(w, r, detail{"body", "The request body is not valid JSON for this operation: " + err.Error()})
		return false
	}
	return true
}

func checkAmount(field string, a *amount, bad *[]detail) {
	if a == nil {
		*bad = append(*bad, detail{field, "The " + field + " field is required."})
		return
	}
	min, ok := minimum[a.Currency]
	if !ok {
		*bad = append(*bad, detail{field + ".currency", "The currency must be one of NOK, DKK, EUR."})
		return
	}
	if a.Value < min || a.Value > maxAmount {
		*bad = append(*bad, detail{field + ".value", fmt.Sprintf("The value must be between %d and %d minor units of %s.", min, maxAmount, a.Currency)})
	}
}

// create is POST /epayment/v1/payments.
func (p *provider) create(w http.ResponseWriter, r *http.Request, c call) {
	var req createRequest
	if !decode(w, r, c.Body, &req) {
		return
	}
	exchanges.Ref(r.Context(), req.Reference)
	var bad []detail
	checkAmount("amount", req.Amount, &bad)
	flows := map[string]bool{"PUSH_MESSAGE": true, "NATIVE_REDIRECT": true, "WEB_REDIRECT": true, "QR": true}
	if !flows[req.UserFlow] {
		bad = append(bad, detail{"userFlow", "The userFlow must be one of PUSH_MESSAGE, NATIVE_REDIRECT, WEB_REDIRECT, QR."})
	}
	switch {
	case req.PaymentMethod == nil:
		bad = append(bad, detail{"paymentMethod", "The paymentMethod field is required."})
	case req.PaymentMethod.Type == "CARD":
		// Card payments are not available in the test environment (the
		// ePayment reference, https://developer.vippsmobilepay.com/api/epayment);
		// the sandbox stands in for the test environment.
		bad = append(bad, detail{"paymentMethod.type", "CARD payments are not available in the test environment."})
	case req.PaymentMethod.Type != "WALLET":
		bad = append(bad, detail{"paymentMethod.type", "The paymentMethod.type must be one of WALLET, CARD."})
	}
	if !referencePattern.MatchString(req.Reference) {
		bad = append(bad, detail{"reference", "The field Reference must match the regular expression '^[a-zA-Z0-9-]{8,64}$'."})
	}
	if req.UserFlow == "WEB_REDIRECT" || req.UserFlow == "NATIVE_REDIRECT" {
		if req.ReturnURL == "" {
			bad = append(bad, detail{"returnUrl", "The returnUrl is required when userFlow is " + req.UserFlow + "."})
		} else if !p.returnURLAllowed(req.ReturnURL) {
			bad = append(bad, detail{"returnUrl", "The returnUrl must use the https:// scheme or a custom URL scheme."})
		}
	}
	phone := ""
	if cu := req.Customer; cu != nil {
		n := 0
		for _, v := range []*string{cu.PhoneNumber, cu.PersonalQr, cu.CustomerToken} {
			if v != nil {
				n++
			}
		}
		if n != 1 {
			bad = append(bad, detail{"customer", "Specify exactly one of customer.phoneNumber, customer.personalQr, customer.customerToken."})
		}
		if cu.PhoneNumber != nil {
			if !phonePattern.MatchString(*cu.PhoneNumber) {
				bad = append(bad, detail{"customer.phoneNumber", "The phone number must be an MSISDN: country code and number, 10 to 15 digits, no + or spaces."})
			}
			phone = *cu.PhoneNumber
		}
	} else if req.UserFlow == "PUSH_MESSAGE" {
		bad = append(bad, detail{"customer", "The customer is required when userFlow is PUSH_MESSAGE."})
	}
	if ci := req.CustomerInteraction; ci != "" && ci != "CUSTOMER_PRESENT" && ci != "CUSTOMER_NOT_PRESENT" {
		bad = append(bad, detail{"customerInteraction", "The customerInteraction must be CUSTOMER_PRESENT or CUSTOMER_NOT_PRESENT."})
	}
	expires := c.Now.Add(paymentTimeout)
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		switch {
		case req.UserFlow != "PUSH_MESSAGE" && req.UserFlow != "QR":
			bad = append(bad, detail{"expiresAt", "The expiresAt can only be combined with userFlow PUSH_MESSAGE or QR."})
		case err != nil:
			bad = append(bad, detail{"expiresAt", "The expiresAt must be an RFC 3339 date and time."})
		case t.Sub(c.Now) <= 10*time.Minute || t.Sub(c.Now) >= 28*24*time.Hour:
			bad = append(bad, detail{"expiresAt", "The expiresAt must be more than 10 minutes and less than 28 days in the future."})
		case len(req.Receipt) == 0:
			bad = append(bad, detail{"receipt", "The receipt is required when expiresAt is set."})
		default:
			expires = t
		}
	}
	desc := ""
	if d := req.PaymentDescription; d != nil {
		if n := len([]rune(*d)); n < 3 || n > 100 {
			bad = append(bad, detail{"paymentDescription", "The paymentDescription must be 3 to 100 characters."})
		}
		desc = *d
	}
	if len(req.Metadata) > 5 {
		bad = append(bad, detail{"metadata", "The metadata can hold at most 5 key-value pairs."})
	}
	for k, v := range req.Metadata {
		if len(k) > 100 || len(v) > 500 {
			bad = append(bad, detail{"metadata", "Metadata keys are at most 100 characters and values at most 500."})
			break
		}
	}
	if len(bad) > 0 {
		writeValidation(w, r, bad...)
		return
	}
	// The fields are well formed; now what the sales unit allows. Its
	// currency follows its country (NOK, DKK, EUR): ErrorCode 5040. Its test
	// users are in its own market: a number of another country, or of the
	// wrong length for this one, is ErrorCode 4070.
	su := p.salesUnit()
	if req.Amount.Currency != su.Currency {
		writeDomain(w, r, http.StatusBadRequest, errCurrency.withDetail(fmt.Sprintf(
			"The currency %s is not valid for this sales unit, which is registered in %s and takes payments in %s.",
			req.Amount.Currency, su.Country, su.Currency)))
		return
	}
	if phone != "" {
		if why := su.phoneProblem(phone); why != "" {
			writeDomain(w, r, http.StatusBadRequest, errInvalidPhone.withDetail(why))
			return
		}
	}
	if _, ok := p.payments[req.Reference]; ok {
		writeDomain(w, r, http.StatusConflict, errReferenceExists)
		return
	}

	pay := &payment{
		Reference: req.Reference, PSPReference: uuid(), Amount: *req.Amount, State: stateCreated,
		Method: req.PaymentMethod.Type, UserFlow: req.UserFlow, ReturnURL: req.ReturnURL, Phone: phone,
		Description: desc, Metadata: req.Metadata, ExpiresAt: expires,
	}
	if req.UserFlow != "PUSH_MESSAGE" {
		// The landing page stands in for landing.vipps.no (and for the app
		// behind NATIVE_REDIRECT and QR): one unguessable token per payment.
		tok := make([]byte, 24)
		_, _ = rand.Read(tok)
		pay.LandingToken = base64.RawURLEncoding.EncodeToString(tok)
		pay.RedirectURL = p.baseURL(r) + "/vipps/landing?token=" + pay.LandingToken
		p.landing[pay.LandingToken] = pay.Reference
	}
	pay.record(evCreated, pay.Amount.Value, c.Now, c.Key)
	p.payments[pay.Reference] = pay
	p.notify(pay)
	writeJSON(w, http.StatusCreated, createResponse{RedirectURL: pay.RedirectURL, Reference: pay.Reference})
}

// returnURLAllowed: the real API requires https:// or a custom scheme. The
// sandbox also accepts plain http on the shop's own configured origin
// (SHOP_BASE_URL, e.g. http://localhost:8080), because a shop run locally
// has no TLS; any other http URL is refused as the real API refuses it.
func (p *provider) returnURLAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u.Host != ""
	case "http":
		return p.st.Config.ShopHTTP(u)
	case "javascript", "data", "file", "vbscript":
		return false
	}
	return true // a custom scheme (an app's deep link)
}

// paymentHandler is an ePayment operation on one payment.
type paymentHandler func(w http.ResponseWriter, r *http.Request, c call, pay *payment)

// onPayment finds the payment the path's reference names, settles its expiry
// and hands it to h; it answers 404 when there is none.
func (p *provider) onPayment(h paymentHandler) handler {
	return func(w http.ResponseWriter, r *http.Request, c call) {
		ref := r.PathValue("reference")
		pay := p.payments[ref]
		if pay == nil {
			writeNotFound(w, r, ref)
			return
		}
		pay.settle(c.Now)
		h(w, r, c, pay)
		p.notify(pay) // what settle and h changed
	}
}

type getResponse struct {
	Aggregate     aggregate `json:"aggregate"`
	Amount        amount    `json:"amount"`
	State         string    `json:"state"`
	PaymentMethod struct {
		Type string `json:"type"`
	} `json:"paymentMethod"`
	Profile      struct{}          `json:"profile"`
	PSPReference string            `json:"pspReference"`
	RedirectURL  string            `json:"redirectUrl,omitempty"`
	Reference    string            `json:"reference"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// get is GET /epayment/v1/payments/{reference}.
func (p *provider) get(w http.ResponseWriter, r *http.Request, c call, pay *payment) {
	resp := getResponse{
		Aggregate: pay.aggregate(), Amount: pay.Amount, State: pay.State,
		PSPReference: pay.PSPReference, Reference: pay.Reference, Metadata: pay.Metadata,
	}
	resp.PaymentMethod.Type = pay.Method
	if pay.State == stateCreated {
		resp.RedirectURL = pay.RedirectURL
	}
	writeJSON(w, http.StatusOK, resp)
}

// events is GET /epayment/v1/payments/{reference}/events.
func (p *provider) events(w http.ResponseWriter, r *http.Request, c call, pay *payment) {
	writeJSON(w, http.StatusOK, pay.Events)
}

type modificationRequest struct {
	ModificationAmount *amount `json:"modificationAmount"`
}

type modificationResponse struct {
	Amount       amount    `json:"amount"`
	State        string    `json:"state"`
	Aggregate    aggregate `json:"aggregate"`
	PSPReference string    `json:"pspReference"`
	Reference    string    `json:"reference"`
}

func modified(w http.ResponseWriter, pay *payment) {
	writeJSON(w, http.StatusOK, modificationResponse{
		Amount: pay.Amount, State: pay.State, Aggregate: pay.aggregate(),
		PSPReference: pay.PSPReference, Reference: pay.Reference,
	})
}

// modify adds v to one of pay's totals (captured, refunded, cancelled),
// records the event with the call's idempotency key and answers the
// modification response.
func modify(w http.ResponseWriter, c call, pay *payment, total *int64, ev string, v int64) {
	*total += v
	pay.record(ev, v, c.Now, c.Key)
	modified(w, pay)
}

// modification reads capture's and refund's body: an amount in the payment's
// currency, at least one minor unit.
func modification(w http.ResponseWriter, r *http.Request, c call, pay *payment) (int64, bool) {
	var req modificationRequest
	if !decode(w, r, c.Body, &req) {
		return 0, false
	}
	var bad []detail
	checkAmount("modificationAmount", req.ModificationAmount, &bad)
	if len(bad) == 0 && req.ModificationAmount.Currency != pay.Amount.Currency {
		bad = append(bad, detail{"modificationAmount.currency", "The currency must be the payment's currency, " + pay.Amount.Currency + "."})
	}
	if len(bad) == 0 && req.ModificationAmount.Value < 1 {
		bad = append(bad, detail{"modificationAmount.value", "The value must be at least 1."})
	}
	if len(bad) > 0 {
		writeValidation(w, r, bad...)
		return 0, false
	}
	return req.ModificationAmount.Value, true
}

// capture is POST /epayment/v1/payments/{reference}/capture.
func (p *provider) capture(w http.ResponseWriter, r *http.Request, c call, pay *payment) {
	v, ok := modification(w, r, c, pay)
	if !ok {
		return
	}
	left := pay.Authorized - pay.Captured - pay.Cancelled
	switch {
	case pay.State == stateCreated:
		writeDomain(w, r, http.StatusBadRequest, errCaptureBeforeReservation)
	case pay.final():
		writeDomain(w, r, http.StatusBadRequest, errCannotCapture)
	case pay.capturePassed(c.Now):
		writeDomain(w, r, http.StatusBadRequest, errCapturePeriodExpired)
	case left == 0 && pay.Cancelled > 0:
		writeDomain(w, r, http.StatusBadRequest, errCaptureCancelled)
	case v > left:
		writeDomain(w, r, http.StatusBadRequest, errCaptureTooHigh)
	default:
		modify(w, c, pay, &pay.Captured, evCaptured, v)
	}
}

// refund is POST /epayment/v1/payments/{reference}/refund.
func (p *provider) refund(w http.ResponseWriter, r *http.Request, c call, pay *payment) {
	v, ok := modification(w, r, c, pay)
	if !ok {
		return
	}
	switch {
	case pay.State == stateCreated:
		writeDomain(w, r, http.StatusBadRequest, errRefundBeforeReservation)
	case pay.final():
		writeDomain(w, r, http.StatusBadRequest, errCannotRefund)
	case v > pay.Captured-pay.Refunded: // nothing captured yet included
		writeDomain(w, r, http.StatusBadRequest, errNotEnoughRefundable)
	default:
		modify(w, c, pay, &pay.Refunded, evRefunded, v)
	}
}

// cancel is POST /epayment/v1/payments/{reference}/cancel: before
// authorization it TERMINATES the payment, and the answer's aggregate counts
// the whole amount as cancelled (cancelledAmount = amount, authorizedAmount
// 0), as the documented example shows
// (https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/operations/cancel);
// after, it releases what is not captured (the state stays AUTHORIZED). The
// body is optional ({"cancelTransactionOnly": true}: only cancel if not yet
// authorized).
func (p *provider) cancel(w http.ResponseWriter, r *http.Request, c call, pay *payment) {
	var req struct {
		CancelTransactionOnly bool `json:"cancelTransactionOnly"`
	}
	if len(bytes.TrimSpace(c.Body)) > 0 && !decode(w, r, c.Body, &req) {
		return
	}
	left := pay.Authorized - pay.Captured - pay.Cancelled
	switch {
	case pay.State == stateCreated:
		pay.State = stateTerminated
		pay.Cancelled = pay.Amount.Value
		pay.record(evTerminated, pay.Amount.Value, c.Now, c.Key)
		modified(w, pay)
	case pay.final(): // terminated, aborted or expired
		writeDomain(w, r, http.StatusBadRequest, errCannotCancel)
	case req.CancelTransactionOnly:
		writeDomain(w, r, http.StatusBadRequest, errCancelAuthorized)
	case pay.Captured == pay.Authorized:
		writeDomain(w, r, http.StatusBadRequest, errCancelCaptured)
	case left == 0:
		writeDomain(w, r, http.StatusBadRequest, errCannotCancel)
	default:
		modify(w, c, pay, &pay.Cancelled, evCancelled, left)
	}
}

// approve is the test-only POST /epayment/v1/test/payments/{reference}/approve:
// the body names the user ({"customer": {"phoneNumber": ...}}) or carries the
// token from the redirectUrl ({"token": ...}). It answers 200 with no body.
func (p *provider) approve(w http.ResponseWriter, r *http.Request, c call, pay *payment) {
	var req struct {
		Customer *customerRequest `json:"customer"`
		Token    *string          `json:"token"`
	}
	if len(bytes.TrimSpace(c.Body)) > 0 && !decode(w, r, c.Body, &req) {
		return
	}
	switch {
	case req.Token != nil:
		if *req.Token != pay.LandingToken || pay.LandingToken == "" {
			writeValidation(w, r, detail{"token", "The token is not the one from this payment's redirectUrl."})
			return
		}
	case req.Customer != nil && req.Customer.PhoneNumber != nil:
		if !phonePattern.MatchString(*req.Customer.PhoneNumber) {
			writeValidation(w, r, detail{"customer.phoneNumber", "The phone number must be an MSISDN: 10 to 15 digits."})
			return
		}
		if why := p.salesUnit().phoneProblem(*req.Customer.PhoneNumber); why != "" {
			writeDomain(w, r, http.StatusBadRequest, errInvalidPhone.withDetail(why))
			return
		}
	default:
		writeValidation(w, r, detail{"body", "Give customer.phoneNumber or the token from the redirectUrl."})
		return
	}
	if pay.State != stateCreated {
		writeDomain(w, r, http.StatusBadRequest, errApproveNotAllowed)
		return
	}
	pay.authorize(c.Now, p.salesUnit())
	w.WriteHeader(http.StatusOK)
}
