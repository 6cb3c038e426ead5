package vipps

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"refshop/web/sandbox/deliveries"
	"refshop/web/sandbox/exchanges"
)

// The Webhooks API (see doc.go, "Webhooks"): register, list and delete
// webhooks; the ePayment events go to every webhook registered for them.

// maxPerEvent is the documented limit: "Up to 25 webhook registrations per
// event type, per MSN" (https://developer.vippsmobilepay.com/docs/APIs/webhooks-api/api-guide/).
const maxPerEvent = 25

// webhook is one registration. The secret signs its deliveries; Vipps
// shows it once, in the register answer, and so does the sandbox.
type webhook struct {
	ID      string
	URL     string
	Events  []string
	Secret  string
	MSN     string // the Merchant-Serial-Number it was registered with ("": none sent)
	Created time.Time
	Seq     int // registration order, for lists
}

// eventTypes maps the ePayment event types a webhook can subscribe to onto
// the payload's name (https://developer.vippsmobilepay.com/docs/APIs/webhooks-api/events).
var eventTypes = map[string]string{
	"epayments.payment.created.v1":    evCreated,
	"epayments.payment.aborted.v1":    evAborted,
	"epayments.payment.expired.v1":    evExpired,
	"epayments.payment.cancelled.v1":  evCancelled,
	"epayments.payment.captured.v1":   evCaptured,
	"epayments.payment.refunded.v1":   evRefunded,
	"epayments.payment.authorized.v1": evAuthorized,
	"epayments.payment.terminated.v1": evTerminated,
}

// eventType is the webhook event type of a payment event name.
func eventType(name string) string { return "epayments.payment." + strings.ToLower(name) + ".v1" }

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

type hooksHandler func(w http.ResponseWriter, r *http.Request, msn string, body []byte)

// hooksAPI wraps a Webhooks API operation with what every call goes
// through, as api does for ePayment: the fault hook, the subscription key
// and the bearer token (API Management), then the headers.
// Merchant-Serial-Number is optional here (the Webhooks OpenAPI: "optional,
// and recommended, for regular Vipps merchants"); when sent it must be the
// configured sales unit's.
func (p *provider) hooksAPI(op string, h hooksHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p.st.Hit(w, r, op) {
			return
		}
		if !p.subscriptionOK(w, r) {
			return
		}
		if err := p.verify(r.Header.Get("Authorization"), p.st.Now()); err != nil {
			writeAzure(w, http.StatusUnauthorized, msgInvalidToken)
			return
		}
		msn, bad := headerProblems(r, false)
		if len(bad) > 0 {
			writeValidation(w, r, bad...)
			return
		}
		if msn != "" && msn != p.st.Config.Vipps.MSN {
			writeProblem(w, r, http.StatusForbidden, "Forbidden",
				"The Merchant-Serial-Number is not a sales unit these API keys may act for.")
			return
		}
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		h(w, r, msn, body)
	}
}

type registerRequest struct {
	URL    *string  `json:"url"`
	Events []string `json:"events"`
}

type registerResponse struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

type webhookView struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// register is POST /webhooks/v1/webhooks {url, events} -> 201 {id, secret}.
func (p *provider) register(w http.ResponseWriter, r *http.Request, msn string, body []byte) {
	var req registerRequest
	if len(bytes.TrimSpace(body)) == 0 {
		writeValidation(w, r, detail{"body", "A non-empty request body is required."})
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields() // RegisterRequest: additionalProperties false
	if err := dec.Decode(&req); err != nil {
		writeValidation(w, r, detail{"body", "The request body is not a valid RegisterRequest: " + err.Error()})
		return
	}
	var bad []detail
	switch {
	case req.URL == nil || *req.URL == "":
		bad = append(bad, detail{"url", "The property is required and cannot be null or empty."})
	case !p.st.Config.EndpointAllowed(*req.URL):
		bad = append(bad, detail{"url", "The url must be an absolute, world-reachable URL that uses HTTPS."})
	}
	var events []string
	if len(req.Events) == 0 {
		bad = append(bad, detail{"events", "The property is required and cannot be null or empty."})
	}
	for _, ev := range req.Events {
		if _, ok := eventTypes[ev]; !ok {
			bad = append(bad, detail{"events", "Unknown event type '" + ev + "'."})
			continue
		}
		if !slices.Contains(events, ev) {
			events = append(events, ev)
		}
	}
	if len(bad) > 0 {
		writeValidation(w, r, bad...)
		return
	}
	for _, ev := range events {
		n := 0
		for _, h := range p.hooks {
			if h.MSN == msn && slices.Contains(h.Events, ev) {
				n++
			}
		}
		if n >= maxPerEvent {
			// The status and body of this refusal are NOT FOUND in the
			// docs; register declares only 400 ProblemDetails.
			writeValidation(w, r, detail{"events", "At most 25 webhooks can be registered per event type per sales unit; '" + ev + "' has 25. Delete one first."})
			return
		}
	}
	seq := 0
	for _, o := range p.hooks {
		seq = max(seq, o.Seq)
	}
	h := &webhook{ID: uuid(), URL: *req.URL, Events: events, Secret: newWebhookSecret(), MSN: msn, Created: p.st.Now(), Seq: seq + 1}
	p.hooks[h.ID] = h
	exchanges.Ref(r.Context(), h.ID)
	exchanges.Secret(r.Context(), h.Secret) // the recorded answer must not show it
	writeJSON(w, http.StatusCreated, registerResponse{ID: h.ID, Secret: h.Secret})
}

// newWebhookSecret is an opaque secret of the shape the request
// authentication page shows (88 characters of base64).
func newWebhookSecret() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// listHooks is GET /webhooks/v1/webhooks: every registration, without its
// secret.
func (p *provider) listHooks(w http.ResponseWriter, r *http.Request, msn string, body []byte) {
	list := make([]*webhook, 0, len(p.hooks))
	for _, h := range p.hooks {
		list = append(list, h)
	}
	slices.SortFunc(list, func(a, b *webhook) int { return a.Seq - b.Seq })
	out := struct {
		Webhooks []webhookView `json:"webhooks"`
	}{Webhooks: []webhookView{}}
	for _, h := range list {
		out.Webhooks = append(out.Webhooks, webhookView{ID: h.ID, URL: h.URL, Events: h.Events})
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteHook is DELETE /webhooks/v1/webhooks/{id} -> 204. Deliveries still
// pending for it are abandoned.
func (p *provider) deleteHook(w http.ResponseWriter, r *http.Request, msn string, body []byte) {
	id := r.PathValue("id")
	if !uuidPattern.MatchString(id) {
		writeValidation(w, r, detail{"id", "The value '" + id + "' is not valid: the id is a UUID."})
		return
	}
	exchanges.Ref(r.Context(), id)
	if _, ok := p.hooks[id]; !ok {
		// NOT FOUND in the docs: the answer for an unknown id (delete
		// declares 204 and 400). The sandbox answers 404 problem+json.
		writeProblem(w, r, http.StatusNotFound, "Not Found", "No webhook with id "+id+" is registered.")
		return
	}
	delete(p.hooks, id)
	w.WriteHeader(http.StatusNoContent)
}

// webhookEvent is the ePayment WebhookEvent body.
type webhookEvent struct {
	MSN            string    `json:"msn"`
	Reference      string    `json:"reference"`
	PSPReference   string    `json:"pspReference"`
	Name           string    `json:"name"`
	Amount         amount    `json:"amount"`
	Timestamp      time.Time `json:"timestamp"`
	IdempotencyKey *string   `json:"idempotencyKey,omitempty"`
	Success        bool      `json:"success"`
}

// notify raises a webhook event for each of pay's events not raised yet: a
// delivery to every webhook registered for its type. Callers hold p.mu.
func (p *provider) notify(pay *payment) {
	eng := p.st.Deliveries
	if eng == nil || pay.Notified >= len(pay.Events) {
		pay.Notified = len(pay.Events)
		return
	}
	for _, e := range pay.Events[pay.Notified:] {
		typ := eventType(e.Name)
		body, err := json.Marshal(webhookEvent{
			MSN: p.st.Config.Vipps.MSN, Reference: e.Reference, PSPReference: e.PSPReference, Name: e.Name,
			Amount: e.Amount, Timestamp: e.Timestamp, IdempotencyKey: e.IdempotencyKey, Success: e.Success,
		})
		if err != nil {
			p.log.Error("sandbox vipps: encoding a webhook event failed", "error", err)
			continue
		}
		for _, h := range p.hooksFor(typ) {
			if _, err := eng.Enqueue(deliveries.Delivery{Provider: "vipps", Operation: opWebhookDelivery, Event: typ,
				Ref: pay.Reference, Target: h.ID, URL: h.URL, Body: string(body)}); err != nil {
				p.log.Error("sandbox vipps: storing a webhook delivery failed", "event", typ, "reference", pay.Reference, "error", err)
			}
		}
	}
	pay.Notified = len(pay.Events)
}

// hooksFor is the webhooks registered for typ, oldest first. The sandbox
// has one sales unit: a registration with its MSN and one without (a
// partner's, for every sales unit) both get its events.
func (p *provider) hooksFor(typ string) []*webhook {
	var out []*webhook
	for _, h := range p.hooks {
		if slices.Contains(h.Events, typ) {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b *webhook) int { return a.Seq - b.Seq })
	return out
}

// expireDue settles every payment whose time ran out, so that its EXPIRED
// event goes when the sandbox clock passes its expiry, not when someone
// next looks (the deliveries' worker calls it before each run).
func (p *provider) expireDue(now time.Time) {
	p.mu.Lock()
	changed := false
	for _, pay := range p.payments {
		if pay.State == stateCreated && !now.Before(pay.ExpiresAt) {
			pay.settle(now)
			p.notify(pay)
			changed = true
		}
	}
	p.mu.Unlock()
	if changed {
		p.st.Save(context.Background(), "vipps")
	}
}

// signDelivery signs a webhook delivery with its registration's secret
// (see signature.go).
func (p *provider) signDelivery(d deliveries.Delivery, req *http.Request, body []byte, now time.Time) error {
	p.mu.Lock()
	h, ok := p.hooks[d.Target]
	var secret string
	if ok {
		secret = h.Secret
	}
	p.mu.Unlock()
	if !ok {
		return deliveries.ErrGone
	}
	return signRequest(req, secret, body, now)
}

// webhookBackoff is the wait after the n-th failed attempt, per Vipps's
// agent toolkit (developer-owned, the one source that gives numbers):
// "about every 2 seconds for the first four attempts, then 60 seconds, then
// 120 seconds, then hourly through attempt 29, then daily".
func webhookBackoff(n int) time.Duration {
	switch {
	case n < 4:
		return 2 * time.Second
	case n == 4:
		return time.Minute
	case n == 5:
		return 2 * time.Minute
	case n < 29:
		return time.Hour
	}
	return 24 * time.Hour
}

// webhookRetryFor: "Failed webhook notifications are retried with an
// exponential backoff for up to 7 days."
const webhookRetryFor = 7 * 24 * time.Hour

// webhookTimeout: no answer within 10 seconds is a failure (the toolkit).
const webhookTimeout = 10 * time.Second
