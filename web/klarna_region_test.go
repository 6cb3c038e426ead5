package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"refshop/db/dbtest"
	"refshop/web/klarna"
)

// recorded is one request as Klarna received it.
type recorded struct {
	Method, Path string
	User, Pass   string
	Body         map[string]any
}

// klarnaRecorder stands in front of a Klarna API (a sandbox) and records
// every request it forwards: what Klarna receives, byte for byte decoded.
type klarnaRecorder struct {
	URL  string
	mu   sync.Mutex
	reqs []recorded
}

func newKlarnaRecorder(t *testing.T, target string) *klarnaRecorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &klarnaRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		user, pass, _ := r.BasicAuth()
		got := recorded{Method: r.Method, Path: r.URL.Path, User: user, Pass: pass}
		_ = json.Unmarshal(body, &got.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, got)
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

// calls are the recorded requests to paths with prefix.
func (r *klarnaRecorder) calls(prefix string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, c := range r.reqs {
		if strings.HasPrefix(c.Path, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// regionalKlarna is the shop with each Klarna region behind its own
// recorder: Europe in front of the sandbox; North America in front of a
// stand-in that checks the North American merchant account's credentials
// and answers with Klarna's documented examples, offering two payment method
// categories: the request is checked against Klarna's documents, not against
// the sandbox's reading of them.
type regionalKlarna struct {
	*klarnaApp
	eu, na *klarnaRecorder
}

// naSession is the stand-in's session: its client token carries the
// session id as the SDK reads it.
const naSession = "0b1d9815-165e-42e2-8867-35bc03789e00"

func naKlarna(t *testing.T, user, pass string) *httptest.Server {
	t.Helper()
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"session_id":"` + naSession + `"}`))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/klarna/api/payments/v1/sessions":
			_ = json.NewEncoder(w).Encode(map[string]any{"session_id": naSession, "client_token": "eyJhbGciOiJIUzI1NiJ9." + payload + ".c2ln",
				"payment_method_categories": []map[string]any{
					{"identifier": "pay_later", "name": "Pay in 30 days", "asset_urls": map[string]string{"descriptive": "", "standard": ""}},
					{"identifier": "pay_over_time", "name": "Pay in 4", "asset_urls": map[string]string{"descriptive": "", "standard": ""}}}})
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/klarna/api/payments/v1/authorizations/"):
			_, _ = w.Write([]byte(`{"order_id":"3eaeb557-5e30-47f8-b840-b8d987f5945d","redirect_url":"https://payments.klarna.com/redirect/...","fraud_status":"ACCEPTED","authorized_payment_method":"invoice"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"correlation_id":"c","error_code":"NOT_FOUND","error_messages":["not in this stand-in"]}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newRegionalKlarna(t *testing.T) *regionalKlarna {
	t.Helper()
	euSB := startKlarnaSandbox(t)
	eu := newKlarnaRecorder(t, euSB.URL)
	var na *klarnaRecorder
	k := klarnaAppOn(t, dbtest.Open(t), euSB, func(d *Deps) {
		n := d.Config.Klarna.NA
		na = newKlarnaRecorder(t, naKlarna(t, n.Username, n.Password.Reveal()).URL)
		d.Config.Klarna.APIURL = eu.URL + "/klarna/api"
		d.Config.Klarna.NA.APIURL = na.URL + "/klarna/api"
		d.KlarnaNA = klarna.New(klarna.Config{BaseURL: na.URL + "/klarna/api", Username: n.Username, Password: n.Password, HTTP: d.HTTP,
			Log: d.Log, Sleep: func(context.Context, time.Duration) error { return nil }})
	})
	return &regionalKlarna{klarnaApp: k, eu: eu, na: na}
}

// payIn buys two Sencha Green Tea with Klarna in market m as a guest,
// approving in the widget (the sandbox's control call in Europe; any token
// at the North American stand-in), and returns the attempt's order id and
// its payment page.
func (k *regionalKlarna) payIn(t *testing.T, m string) (string, page) {
	t.Helper()
	b := k.browser(t)
	b.inMarket(m)
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"2"}})
	id, sid, pay := k.startKlarna(t, b)
	auth := "na-authorization"
	if m != "us" {
		auth = k.approve(t, sid, false)
	}
	if p := b.post("/checkout/klarna/"+id+"/authorize", url.Values{"authorization_token": {auth}}); p.status != 303 || p.location != "/orders/"+id {
		t.Fatalf("place in %s: %d %q %s", m, p.status, p.location, p.body)
	}
	return id, pay
}

// For each market, the exact purchase Klarna receives in the session and
// in the order, at the region's API with the region's credentials; the
// other region hears nothing.
func TestKlarnaEachMarketsRequestGoesToItsRegion(t *testing.T) {
	cases := []struct {
		market, country, currency, locale string
		amount, tax                       int64
		region                            string // eu or na
		lines                             []map[string]any
	}{
		{"de", "DE", "EUR", "en-DE", 1700, 111, "eu", []map[string]any{
			{"type": "physical", "reference": "sencha", "name": "Sencha Green Tea", "quantity": 2.0, "quantity_unit": "pcs",
				"unit_price": 850.0, "tax_rate": 700.0, "total_amount": 1700.0, "total_discount_amount": 0.0, "total_tax_amount": 111.0}}},
		{"no", "NO", "NOK", "en-NO", 19800, 2583, "eu", []map[string]any{
			{"type": "physical", "reference": "sencha", "name": "Sencha Green Tea", "quantity": 2.0, "quantity_unit": "pcs",
				"unit_price": 9900.0, "tax_rate": 1500.0, "total_amount": 19800.0, "total_discount_amount": 0.0, "total_tax_amount": 2583.0}}},
		{"us", "US", "USD", "en-US", 1798 + 148, 148, "na", []map[string]any{
			{"type": "physical", "reference": "sencha", "name": "Sencha Green Tea", "quantity": 2.0, "quantity_unit": "pcs",
				"unit_price": 899.0, "total_amount": 1798.0, "total_discount_amount": 0.0},
			{"type": "sales_tax", "reference": "sales-tax", "name": "Sales Tax", "quantity": 1.0, "quantity_unit": "pcs",
				"unit_price": 148.0, "total_amount": 148.0, "total_discount_amount": 0.0}}},
	}
	for _, tc := range cases {
		t.Run(tc.market, func(t *testing.T) {
			k := newRegionalKlarna(t)
			rec, other, user := k.eu, k.na, k.Config.Klarna.Username
			if tc.region == "na" {
				rec, other, user = k.na, k.eu, k.Config.Klarna.NA.Username
			}
			id, _ := k.payIn(t, tc.market)
			if n := len(other.calls("/")); n != 0 {
				t.Errorf("the other region's API got %d calls", n)
			}
			sessions, orders := rec.calls("/klarna/api/payments/v1/sessions"), rec.calls("/klarna/api/payments/v1/authorizations/")
			if len(sessions) != 1 || len(orders) != 1 {
				t.Fatalf("%d sessions and %d orders at the region's API", len(sessions), len(orders))
			}
			for name, c := range map[string]recorded{"session": sessions[0], "order": orders[0]} {
				if c.User != user {
					t.Errorf("%s sent as %q, want the region's merchant account %q", name, c.User, user)
				}
				want := map[string]any{"purchase_country": tc.country, "purchase_currency": tc.currency, "locale": tc.locale,
					"order_amount": float64(tc.amount), "order_tax_amount": float64(tc.tax)}
				for f, v := range want {
					if c.Body[f] != v {
						t.Errorf("%s %s = %v, want %v", name, f, c.Body[f], v)
					}
				}
				got, _ := json.Marshal(c.Body["order_lines"])
				wantLines, _ := json.Marshal(tc.lines)
				if !jsonEqual(got, wantLines) {
					t.Errorf("%s order_lines\n got %s\nwant %s", name, got, wantLines)
				}
			}
			if sessions[0].Body["intent"] != "buy" || sessions[0].Body["customer"] != nil {
				t.Errorf("a guest's session: intent %v customer %v", sessions[0].Body["intent"], sessions[0].Body["customer"])
			}
			o := orderStatus(t, k.testApp, id)
			if o.TotalAmount != tc.amount || o.Currency != tc.currency {
				t.Errorf("the shop's order: %d %s, Klarna's %d %s", o.TotalAmount, o.Currency, tc.amount, tc.currency)
			}
		})
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	ax, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return bytes.Equal(ax, by)
}

// The payment page lists the ways to pay the session offers, with Klarna's
// names, in Klarna's order, the first picked: a labelled group of radio
// buttons whose values are what load and authorize take. Nothing on the
// page or in its script names a category of its own.
func TestKlarnaPayPageOffersTheSessionsCategories(t *testing.T) {
	k := newRegionalKlarna(t)
	_, pay := k.payIn(t, "us")
	doc := pay.doc(t)
	group := doc.Find("fieldset[data-testid=klarna-categories]")
	if group.Find("legend").Text() != "How would you like to pay?" {
		t.Errorf("no labelled group of categories: %q", group.Find("legend").Text())
	}
	var got []string
	group.Find("label").Each(func(_ int, l *goquery.Selection) {
		in := l.Find("input[type=radio][name=payment_method_category]")
		_, checked := in.Attr("checked")
		got = append(got, in.AttrOr("value", "")+"="+strings.TrimSpace(l.Text())+map[bool]string{true: "*", false: ""}[checked])
	})
	if want := []string{"pay_later=Pay in 30 days*", "pay_over_time=Pay in 4"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("categories %v, want %v", got, want)
	}
	if !strings.Contains(pay.body, "Sales tax") || strings.Contains(pay.body, "Included VAT") {
		t.Error("a US payment page does not say sales tax")
	}
	js := k.browser(t).get("/static/js/klarna-checkout.js").body
	for _, c := range []string{"'klarna'", "'pay_later'", "'pay_now'", "'pay_over_time'"} {
		if strings.Contains(js, c) {
			t.Errorf("the page script hard-codes the category %s", c)
		}
	}
	// The attempt keeps them: a later view of the page asks Klarna nothing.
	if n := len(k.na.calls("/klarna/api/payments/v1/sessions/")); n != 0 {
		t.Errorf("the session was read %d times for its categories", n)
	}
}
