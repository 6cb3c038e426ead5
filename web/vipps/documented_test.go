package vipps

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"refshop/web/clock"
	"refshop/web/secret"
)

// These tests hold the client to Vipps's documented JSON examples
// (testdata/), served as they are by a stub server.

func readDoc(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseTokenDocumentedExample(t *testing.T) {
	doc := readDoc(t, "accesstoken_response.json")
	// Fetched at not_before: expires_in (86398 s) ends before expires_on.
	sent := time.Unix(1495184574, 0)
	tr, exp, err := parseToken(doc, sent)
	if err != nil {
		t.Fatal(err)
	}
	if tr.ExpiresIn != 86398 || tr.ExpiresOn != 1495271273 || tr.NotBefore != 1495184574 || tr.ExtExpiresIn != 0 {
		t.Errorf("string-typed numbers: %+v", tr)
	}
	if tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.Resource != "00000002-0000-0000-c000-000000000000" {
		t.Errorf("fields: %+v", tr)
	}
	if want := sent.Add(86398 * time.Second); !exp.Equal(want) {
		t.Errorf("expiry %v, want the earlier of expires_on and sent+expires_in = %v", exp, want)
	}
	// Fetched with the shop's clock an hour ahead of Vipps's: expires_on wins.
	late := time.Unix(1495184574+3600, 0)
	if _, exp, _ := parseToken(doc, late); !exp.Equal(time.Unix(1495271273, 0)) {
		t.Errorf("expiry %v, want expires_on", exp)
	}
}

func TestParseTokenAcceptsNumbers(t *testing.T) {
	body := []byte(`{"token_type":"Bearer","expires_in":3600,"ext_expires_in":0,"expires_on":1700003600,
		"not_before":1700000000,"resource":"00000002-0000-0000-c000-000000000000","access_token":"eyJabc"}`)
	tr, exp, err := parseToken(body, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if tr.ExpiresIn != 3600 || !exp.Equal(time.Unix(1700003600, 0)) {
		t.Errorf("numbers: %+v expiry %v", tr, exp)
	}
}

func TestParseTokenRefusesUnusableAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"no access_token": `{"token_type":"Bearer","expires_in":"3600","expires_on":"1700003600"}`,
		"not Bearer":      `{"token_type":"MAC","expires_in":"3600","expires_on":"1700003600","access_token":"x"}`,
		"no lifetime":     `{"token_type":"Bearer","access_token":"x"}`,
		"bad number":      `{"token_type":"Bearer","expires_in":"soon","access_token":"x"}`,
		"not JSON":        `<html>`,
	} {
		if _, _, err := parseToken([]byte(body), time.Unix(1700000000, 0)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// stub serves documented examples: route "METHOD path" -> status, content
// type and testdata file.
type stubRoute struct {
	status int
	ctype  string
	file   string
}

func stubClient(t *testing.T, routes map[string]stubRoute) *Client {
	t.Helper()
	tok := readDoc(t, "accesstoken_response.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/accesstoken/get" {
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			_, _ = w.Write(tok)
			return
		}
		rt, ok := routes[r.Method+" "+r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", rt.ctype)
		w.WriteHeader(rt.status)
		_, _ = w.Write(readDoc(t, rt.file))
	}))
	t.Cleanup(srv.Close)
	// The documented token expired in 2017: the client's clock sits before it.
	return New(Config{
		BaseURL: srv.URL, ClientID: "fb492b5e-7907-4d83-ba20-c7fb60ca35de", ClientSecret: secret.New("Y8Kteew6GE2ZmeycEt6egg=="),
		SubscriptionKey: secret.New("0f14ebcab0ec4b29ae0cb90d91b4a84a"), MSN: "123456",
		Clock: clock.NewManual(time.Unix(1495184574, 0)),
		Sleep: func(context.Context, time.Duration) error { return nil },
	})
}

func TestDecodesDocumentedAnswers(t *testing.T) {
	const ref = "acme-shop-123-1234589"
	c := stubClient(t, map[string]stubRoute{
		"POST /epayment/v1/payments":                   {201, "application/json", "create_response.json"},
		"GET /epayment/v1/payments/" + ref:             {200, "application/json", "get_payment_response.json"},
		"GET /epayment/v1/payments/" + ref + "/events": {200, "application/json", "events_response.json"},
		// The OpenAPI declares application/problem+json for capture's 200.
		"POST /epayment/v1/payments/" + ref + "/capture": {200, "application/problem+json", "modification_response.json"},
	})
	ctx := context.Background()
	var req CreatePaymentRequest
	cr, err := c.CreatePayment(ctx, req, "fb492b5e-7907-4d83-ba20-c7fb60ca35de")
	if err != nil || cr.Reference != "acme-shop-123-order123abc" || !strings.HasPrefix(cr.RedirectURL, "https://landing.vipps.no?token=") {
		t.Errorf("create: %+v %v", cr, err)
	}
	p, err := c.GetPayment(ctx, ref)
	if err != nil || p.State != StateAuthorized || p.Aggregate.AuthorizedAmount.Value != 6000 || p.PSPReference == "" || p.PaymentMethod.Type != "WALLET" {
		t.Errorf("get: %+v %v", p, err)
	}
	ev, err := c.Events(ctx, ref)
	if err != nil || len(ev) != 2 || ev[0].Name != "CREATED" || ev[0].IdempotencyKey == nil || ev[1].IdempotencyKey != nil || ev[1].Timestamp.IsZero() {
		t.Errorf("events: %+v %v", ev, err)
	}
	m, err := c.Capture(ctx, ref, Amount{"NOK", 6000}, "capture-key")
	if err != nil || m.Aggregate.CapturedAmount.Value != 6000 || m.State != StateAuthorized {
		t.Errorf("capture: %+v %v", m, err)
	}
}

func TestDecodesDocumentedErrors(t *testing.T) {
	const ref = "577531734343670112"
	c := stubClient(t, map[string]stubRoute{
		"POST /epayment/v1/payments":                     {400, "application/problem+json", "problem_validation.json"},
		"POST /epayment/v1/payments/" + ref + "/capture": {400, "application/problem+json", "problem_domain.json"},
		"GET /epayment/v1/payments/" + ref:               {403, "application/json", "azure_invalid_subscription_key.json"},
	})
	ctx := context.Background()

	_, err := c.CreatePayment(ctx, CreatePaymentRequest{}, "k1")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalid || !e.Field("reference") || e.Code() != "" {
		t.Fatalf("validation problem: %#v", err)
	}
	if e.TraceID != "00-6614b5c7ea5c404b17e45c3a398c4754-5ca6de688e27022d-01" || !strings.Contains(err.Error(), e.TraceID) {
		t.Errorf("traceId not surfaced: %v", err)
	}

	_, err = c.Capture(ctx, ref, Amount{"NOK", 100}, "k2")
	if !errors.As(err, &e) || e.Kind != KindState || e.Code() != "6080" || e.Problem.Title != "Cannot capture before reservation" {
		t.Fatalf("domain problem: %#v", err)
	}
	if e.TraceID != "00-813b63975adcaaeef2b0ec7c103c40e3-706492e906541d31-01" {
		t.Errorf("traceId %q", e.TraceID)
	}

	_, err = c.GetPayment(ctx, ref)
	if !errors.As(err, &e) || e.Kind != KindAuth || !strings.Contains(e.Message, "invalid subscription key") {
		t.Fatalf("azure body: %#v", err)
	}
}

func TestDecodesDocumentedEntraError(t *testing.T) {
	e := decodeError("accesstoken", 400, http.Header{"Content-Type": {"application/json"}}, readDoc(t, "entra_unknown_client.json"))
	if e.Kind != KindAuth || e.Message != "unauthorized_client (AADSTS700016)" || e.TraceID != "xxx" {
		t.Errorf("%+v", e)
	}
}

// Vipps documents a problem's status both as a number (the ePayment errors
// page, problem_domain.json) and as a string (the knowledge base's common
// error format, problem_knowledge_base.json). Either way the whole body is
// read: title, detail, the fields in extraDetails, and the status itself.
func TestProblemStatusIsReadAsAStringOrANumber(t *testing.T) {
	h := http.Header{"Content-Type": {"application/problem+json"}}
	kb := decodeError("create_payment", 400, h, readDoc(t, "problem_knowledge_base.json"))
	if kb.Problem == nil {
		t.Fatalf("the knowledge base's example (status \"400\") lost its body: %+v", kb)
	}
	if kb.Problem.Status != 400 || kb.Problem.Title != "Your request parameters didn't validate." ||
		!kb.Field("amount") || !kb.Field("URL") || kb.Kind != KindInvalid {
		t.Errorf("string status: %+v", kb.Problem)
	}
	num := decodeError("capture", 400, h, readDoc(t, "problem_domain.json"))
	if num.Problem == nil || num.Problem.Status != 400 || num.Code() != "6080" || num.Kind != KindState {
		t.Errorf("number status: %+v", num)
	}
	// A status that is neither (or missing) still keeps the body, with the
	// response's own status in its place.
	for _, status := range []string{`"Bad Request"`, `null`} {
		body := []byte(`{"type":"https://httpstatuses.io/400","title":"Invalid currency for merchant","status":` + status +
			`,"traceId":"00-1-2-01","extraDetails":[{"name":"ErrorCode","reason":"5040"}]}`)
		e := decodeError("create_payment", 400, h, body)
		if e.Problem == nil || e.Problem.Status != 400 || e.Code() != CodeInvalidCurrency || e.TraceID != "00-1-2-01" {
			t.Errorf("status %s: %+v", status, e)
		}
	}
}

// The documented answer to a cancel before authorization: TERMINATED, the
// whole amount in cancelledAmount and nothing authorized.
func TestDecodesDocumentedCancelBeforeAuthorization(t *testing.T) {
	const ref = "UNIQUE-PAYMENT-REFERENCE"
	c := stubClient(t, map[string]stubRoute{
		"POST /epayment/v1/payments/" + ref + "/cancel": {200, "application/json", "cancel_before_authorization_response.json"},
	})
	m, err := c.Cancel(context.Background(), ref, "cancel-key")
	if err != nil {
		t.Fatal(err)
	}
	if m.State != StateTerminated || m.Aggregate.CancelledAmount != (Amount{"NOK", 1000}) ||
		m.Aggregate.AuthorizedAmount.Value != 0 || m.Amount.Value != 1000 {
		t.Errorf("cancel before authorization: %+v", m)
	}
}

// The Webhooks API's documented answers (the API guide's register and
// list, the OpenAPI's 400 ProblemDetails, which has no type) and the
// ePayment WebhookEvent example.
func TestDecodesDocumentedWebhooksAnswers(t *testing.T) {
	const id = "497f6eca-6276-4993-bfeb-53cbbbba6f08"
	c := stubClient(t, map[string]stubRoute{
		"POST /webhooks/v1/webhooks":         {201, "application/json", "webhook_register_response.json"},
		"GET /webhooks/v1/webhooks":          {200, "application/json", "webhook_list_response.json"},
		"DELETE /webhooks/v1/webhooks/" + id: {400, "application/problem+json", "webhook_problem.json"},
	})
	ctx := context.Background()
	reg, err := c.RegisterWebhook(ctx, "https://example.com/mystore_website_backend", []string{EventAuthorized})
	if err != nil || reg.ID != id || reg.Secret.Reveal() != "090a478d-37ff-4e77-970e-d457aeb26a3a" {
		t.Fatalf("register: %+v %v", reg, err)
	}
	list, err := c.ListWebhooks(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].URL != "https://example.com/mystore_website_backend" ||
		len(list[0].Events) != 1 || list[0].Events[0] != EventAuthorized {
		t.Fatalf("list: %+v %v", list, err)
	}
	err = c.DeleteWebhook(ctx, id)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalid || e.Problem == nil || e.Problem.Title != "Bad Request" || !e.Field("url") {
		t.Fatalf("the documented 400 lost its body: %#v", err)
	}
}

func TestParsesTheDocumentedWebhookEvent(t *testing.T) {
	ev, err := ParseWebhookEvent(readDoc(t, "webhook_event.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2023, 8, 14, 12, 48, 46, 260e6, time.UTC)
	if ev.MSN != "123456" || ev.Reference != "24ab7cd6ef658155992" || ev.PSPReference != "1234567891" || ev.Name != "AUTHORIZED" ||
		ev.Amount != (Amount{"NOK", 35000}) || !ev.Timestamp.Equal(want) || ev.IdempotencyKey == nil ||
		*ev.IdempotencyKey != "49ca711a9487112e1def" || !ev.Success {
		t.Errorf("event: %+v", ev)
	}
	// "some webhooks (e.g., CANCELLED) may not supply" idempotencyKey.
	noKey := strings.Replace(string(readDoc(t, "webhook_event.json")), `"idempotencyKey": "49ca711a9487112e1def",`, "", 1)
	if ev, err := ParseWebhookEvent([]byte(noKey)); err != nil || ev.IdempotencyKey != nil {
		t.Errorf("without idempotencyKey: %+v %v", ev, err)
	}
	// An old page shows "amount": 35000, a number: not the documented shape.
	for name, body := range map[string]string{
		"amount as a number": strings.Replace(string(readDoc(t, "webhook_event.json")), `{"currency": "NOK", "value": 35000}`, "35000", 1),
		"no reference":       strings.Replace(string(readDoc(t, "webhook_event.json")), `"reference": "24ab7cd6ef658155992",`, "", 1),
		"not JSON":           "<html>",
	} {
		if _, err := ParseWebhookEvent([]byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
