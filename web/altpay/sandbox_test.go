package altpay_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/web/altpay"
	"refshop/web/clock"
	"refshop/web/outbound"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
	"refshop/web/secret"
)

// These tests run the client against the embedded sandbox.

const (
	sbClientID     = "refshop-sandbox-altpay"
	sbClientSecret = "sandbox-altpay-client-secret"
)

type world struct {
	t      *testing.T
	clk    *clock.Manual // the client's clock and the sandbox's base clock
	sb     *sandboxtest.Server
	logs   *sandboxtest.SyncBuffer
	sleeps *[]time.Duration
}

func newWorld(t *testing.T) *world {
	clk := clock.NewManual(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	sb := sandboxtest.Start(t, control.Config{BaseURL: "http://sandbox.test", ShopBaseURL: "http://shop.test",
		Altpay: control.AltpayConfig{Enabled: true, ClientID: sbClientID, ClientSecret: sbClientSecret}}, clk)
	return &world{t: t, clk: clk, sb: sb, logs: &sandboxtest.SyncBuffer{}, sleeps: &[]time.Duration{}}
}

func (w *world) client(secretValue string) *altpay.Client {
	log := slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var mu sync.Mutex
	return altpay.New(altpay.Config{BaseURL: w.sb.URL + "/altpay", ClientID: sbClientID, ClientSecret: secret.New(secretValue),
		HTTP: outbound.NewClient(log, 5*time.Second, nil), Clock: w.clk, Log: log,
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			*w.sleeps = append(*w.sleeps, d)
			mu.Unlock()
			return nil
		}})
}

func (w *world) calls(op string) int { return w.sb.State.Calls(op) }

func (w *world) fault(op string, status, times int) {
	w.t.Helper()
	w.sb.Fault(w.t, op, status, times)
}

func (w *world) advanceSandbox(d string) {
	w.t.Helper()
	w.sb.Advance(w.t, d)
}

func itoa(n int) string { return strconv.Itoa(n) }

func (w *world) customerAndInvoice(c *altpay.Client, ext string) (altpay.Customer, altpay.Invoice) {
	w.t.Helper()
	ctx := w.t.Context()
	cu, err := c.CreateCustomer(ctx, altpay.NewCustomer{Email: "jane@example.com", ExternalID: ext, Name: "Jane Doe"})
	if err != nil {
		w.t.Fatal(err)
	}
	in, err := c.CreateInvoice(ctx, altpay.NewInvoice{Currency: "USD", CustomerID: cu.ID, DueDate: "2025-03-24",
		LineItems: []altpay.LineItem{{Description: "Stoneware Mug", Quantity: 2, Amount: 1800}}, Memo: "Refshop order " + ext})
	if err != nil {
		w.t.Fatal(err)
	}
	return cu, in
}

func TestOneTokenFetchFor100ConcurrentCallers(t *testing.T) {
	w := newWorld(t)
	c := w.client(sbClientSecret)
	_, in := w.customerAndInvoice(w.client(sbClientSecret), "setup") // another process's token
	before := w.calls("altpay.oauth_token")

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := c.GetInvoice(t.Context(), in.ID)
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := w.calls("altpay.oauth_token") - before; n != 1 {
		t.Errorf("100 concurrent callers made %d token requests, want 1", n)
	}
	if n := w.calls("altpay.get_invoice"); n != 100 {
		t.Errorf("%d invoice calls, want 100", n)
	}
}

func TestTokenIsRenewedBeforeItExpiresOnTheInjectedClock(t *testing.T) {
	w := newWorld(t) // altpay_oauth_token_ttl: 1h; renewal margin: 1 minute
	c := w.client(sbClientSecret)
	ctx := t.Context()
	first, err := c.Tokens().Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(58*time.Minute + 59*time.Second)
	same, _ := c.Tokens().Token(ctx)
	if same.Reveal() != first.Reveal() || w.calls("altpay.oauth_token") != 1 {
		t.Fatalf("token renewed %d times before the margin", w.calls("altpay.oauth_token")-1)
	}
	w.clk.Advance(time.Second) // 59m: one minute left
	renewed, _ := c.Tokens().Token(ctx)
	if renewed.Reveal() == first.Reveal() || w.calls("altpay.oauth_token") != 2 {
		t.Errorf("token not renewed a minute before expiry (%d fetches)", w.calls("altpay.oauth_token"))
	}
}

func TestA401DropsTheTokenAndRetriesOnceWithANewOne(t *testing.T) {
	w := newWorld(t)
	c := w.client(sbClientSecret)
	_, in := w.customerAndInvoice(c, "ext-1")
	w.advanceSandbox("2h") // the provider expires the token; our clock has not moved
	got, err := c.GetInvoice(t.Context(), in.ID)
	if err != nil || got.ID != in.ID {
		t.Fatalf("GetInvoice after the provider expired our token: %v", err)
	}
	if n := w.calls("altpay.oauth_token"); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
	if n := w.calls("altpay.get_invoice"); n != 2 {
		t.Errorf("%d invoice calls, want 2 (the 401 and the retry)", n)
	}
	// The log tells the token's life: two fetched, the first dropped.
	if logs := w.logs.String(); strings.Count(logs, "altpay: OAuth token fetched") != 2 || !strings.Contains(logs, "OAuth token dropped after the API refused it (401)") {
		t.Errorf("the token's life is not in the log:\n%s", logs)
	}

	w.fault("altpay.get_invoice", 401, 2)
	_, err = c.GetInvoice(t.Context(), in.ID)
	var e *altpay.Error
	if !errors.As(err, &e) || e.Status != 401 || e.Kind != altpay.KindAuth {
		t.Errorf("err %v, want the second 401 returned (one re-authentication per call)", err)
	}
}

func TestNetworkErrorsAnd5xxAreRetriedWithBackoff(t *testing.T) {
	w := newWorld(t)
	c := w.client(sbClientSecret)
	_, in := w.customerAndInvoice(c, "ext-1")

	w.fault("altpay.get_invoice", 503, 2)
	if _, err := c.GetInvoice(t.Context(), in.ID); err != nil {
		t.Fatalf("two 503s then success: %v", err)
	}
	if got := *w.sleeps; len(got) != 2 || got[0] != 250*time.Millisecond || got[1] != 500*time.Millisecond {
		t.Errorf("backoff %v, want [250ms 500ms]", got)
	}

	*w.sleeps = nil
	w.fault("altpay.get_invoice", 500, 3)
	_, err := c.GetInvoice(t.Context(), in.ID)
	var e *altpay.Error
	if !errors.As(err, &e) || e.Status != 500 || e.Kind != altpay.KindUnavailable || len(*w.sleeps) != 2 {
		t.Errorf("three 500s: err %v after %d waits, want the 500 after 2 retries", err, len(*w.sleeps))
	}

	*w.sleeps = nil
	w.fault("altpay.oauth_token", 502, 1)
	c2 := w.client(sbClientSecret)
	if _, err := c2.GetInvoice(t.Context(), in.ID); err != nil || len(*w.sleeps) != 1 {
		t.Errorf("token 502 then success: %v, %d waits", err, len(*w.sleeps))
	}

	*w.sleeps = nil
	w.fault("altpay.get_invoice", 429, 1)
	if _, err := c.GetInvoice(t.Context(), in.ID); !errors.As(err, &e) || e.Status != 429 || len(*w.sleeps) != 0 {
		t.Errorf("429: err %v, %d waits; want it returned at once", err, len(*w.sleeps))
	}

	*w.sleeps = nil
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c3 := altpay.New(altpay.Config{BaseURL: dead.URL, ClientID: "x", ClientSecret: secret.New("y"),
		HTTP: outbound.NewClient(slog.New(slog.DiscardHandler), time.Second, nil), Clock: w.clk,
		Sleep: func(context.Context, time.Duration) error { *w.sleeps = append(*w.sleeps, 0); return nil }})
	_, err = c3.GetInvoice(t.Context(), "inv_1")
	if !errors.As(err, &e) || e.Status != 0 || e.Kind != altpay.KindUnavailable || len(*w.sleeps) != 2 {
		t.Errorf("connection refused: err %v after %d waits, want no answer (status 0) after 2 retries", err, len(*w.sleeps))
	}
}

func TestWrongSecretIsRefusedBySandbox(t *testing.T) {
	w := newWorld(t)
	_, err := w.client("wrong").GetInvoice(t.Context(), "inv_1")
	var e *altpay.Error
	if !errors.As(err, &e) || e.Status != 403 || e.Kind != altpay.KindAuth {
		t.Fatalf("err %v, want 403 Invalid credentials", err)
	}
	if n := w.calls("altpay.oauth_token"); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

func TestCheckoutTokenFromTheSandbox(t *testing.T) {
	w := newWorld(t)
	c := w.client(sbClientSecret)
	cu, in := w.customerAndInvoice(c, "ext-1")
	tok, err := c.CheckoutToken(t.Context(), cu.ID, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := w.clk.Now().Add(15 * time.Minute); !tok.ExpiresAt.Equal(want) {
		t.Errorf("expires %v, want %v (altpay_checkout_token_ttl 15m)", tok.ExpiresAt, want)
	}
	_, other := w.customerAndInvoice(c, "ext-2")
	_, err = c.CheckoutToken(t.Context(), cu.ID, other.ID)
	var e *altpay.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Kind != altpay.KindInvalid {
		t.Errorf("token for another customer's invoice: %v, want 400", err)
	}
}

// The sandbox refuses an invoice in euros as the API's currency enum (USD
// only) does, with 422, and the client surfaces it as a refusal naming the
// field; the same invoice in dollars is made.
func TestInvoiceInEurosIsRefusedAndInDollarsMade(t *testing.T) {
	w := newWorld(t)
	c := w.client(sbClientSecret)
	cu, err := c.CreateCustomer(t.Context(), altpay.NewCustomer{Email: "jane@example.com", ExternalID: "ext-1", Name: "Jane Doe"})
	if err != nil {
		t.Fatal(err)
	}
	n := altpay.NewInvoice{Currency: "EUR", CustomerID: cu.ID, DueDate: "2025-03-24",
		LineItems: []altpay.LineItem{{Description: "Stoneware Mug", Quantity: 2, Amount: 1800}}}
	_, err = c.CreateInvoice(t.Context(), n)
	var e *altpay.Error
	if !errors.As(err, &e) || e.Status != 422 || e.Kind != altpay.KindInvalid || e.ValidationErrors["currency"] != "currency must be USD" || altpay.OutcomeUnknown(err) {
		t.Fatalf("EUR invoice: %v, want a 422 refusal naming currency", err)
	}
	n.Currency = "USD"
	in, err := c.CreateInvoice(t.Context(), n)
	if err != nil || in.Total != 3600 || in.TotalAmount().Format() != "$36.00" {
		t.Errorf("USD invoice %+v, %v", in, err)
	}
	if n := w.calls("altpay.create_invoice"); n != 2 {
		t.Errorf("create_invoice called %d times, want 2 (no retry of either)", n)
	}
}

// A lost answer to POST /invoices (the sandbox made the invoice, then closed
// the connection): the client does not send it again, says the outcome is
// unknown, and the invoice is found by the caller's reference in its memo.
func TestALostCreateIsNotRetriedAndIsFoundByItsReference(t *testing.T) {
	w := newWorld(t)
	c := w.client(sbClientSecret)
	cu, _ := w.customerAndInvoice(c, "older") // another invoice of the same customer
	w.sb.Control(t, "/control/faults", map[string]any{"operation": "altpay.create_invoice", "lose_answer": true, "times": 1})
	before := w.clk.Now()
	_, err := c.CreateInvoice(t.Context(), altpay.NewInvoice{Currency: "USD", CustomerID: cu.ID, DueDate: "2025-03-24", Memo: "Refshop order o-2",
		LineItems: []altpay.LineItem{{Description: "Stoneware Mug", Quantity: 2, Amount: 1800}}})
	if err == nil || !altpay.OutcomeUnknown(err) {
		t.Fatalf("lost answer: %v, want an unknown outcome", err)
	}
	if n := w.calls("altpay.create_invoice"); n != 2 {
		t.Errorf("create_invoice called %d times, want 2 (the setup's and one try)", n)
	}
	found, err := c.FindInvoices(t.Context(), altpay.InvoiceFilter{CustomerID: cu.ID, CreatedAtStart: before.Add(-time.Hour)},
		func(in altpay.Invoice) bool { return in.Memo == "Refshop order o-2" })
	if err != nil || len(found) != 1 || found[0].Total != 3600 {
		t.Fatalf("found %+v, %v; want the one invoice the lost call made", found, err)
	}
	all, err := c.FindInvoices(t.Context(), altpay.InvoiceFilter{CustomerID: cu.ID}, func(altpay.Invoice) bool { return true })
	if err != nil || len(all) != 2 {
		t.Errorf("the customer has %d invoices, %v; want 2", len(all), err)
	}
}

func TestEnsureCustomerRecoversAnExistingExternalID(t *testing.T) {
	w := newWorld(t)
	c := w.client(sbClientSecret)
	for i := range 3 {
		if _, err := c.CreateCustomer(t.Context(), altpay.NewCustomer{Email: "a@example.com", ExternalID: "other-" + itoa(i), Name: "A"}); err != nil {
			t.Fatal(err)
		}
	}
	n := altpay.NewCustomer{Email: "jane@example.com", ExternalID: "refshop-abc", Name: "Jane"}
	a, err := c.EnsureCustomer(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.EnsureCustomer(t.Context(), n)
	if err != nil || b.ID != a.ID {
		t.Errorf("second EnsureCustomer gave %q (err %v), want %q", b.ID, err, a.ID)
	}
}

func TestSecretsNeverReachTheLog(t *testing.T) {
	w := newWorld(t)
	c := w.client(sbClientSecret)
	cu, in := w.customerAndInvoice(c, "ext-1")
	tok, err := c.Tokens().Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	checkout, err := c.CheckoutToken(t.Context(), cu.ID, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetInvoice(t.Context(), in.ID); err != nil {
		t.Fatal(err)
	}
	_, _ = w.client("wrong-secret-value").GetInvoice(t.Context(), in.ID)
	logs := w.logs.String()
	for name, s := range map[string]string{"client secret": sbClientSecret, "wrong secret": "wrong-secret-value",
		"access token": tok.Reveal(), "checkout token": checkout.Token.Reveal()} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", name)
		}
	}
	for _, op := range []string{"operation=oauth_token", "operation=create_invoice", "operation=checkout_auth_init", "path=/invoices/{id}"} {
		if !strings.Contains(logs, op) {
			t.Errorf("the log has no %s line:\n%s", op, logs)
		}
	}
}
