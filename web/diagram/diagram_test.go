package diagram

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"refshop/db"
	"refshop/views"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// fixture is an order's exchanges as the store lists them: a Vipps token
// fetch, a create answered 503 then retried, a get that timed out and its
// retry, a capture; and an Alternative Payments token and customer call on
// the same order, to draw two providers. Its secrets are in the fields the
// diagram must never draw.
func fixture() []db.Exchange {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	hdr := http.Header{"Authorization": {"Bearer eyJSECRETACCESSTOKEN"}, "Ocp-Apim-Subscription-Key": {"SUBKEYSECRET"}}
	x := func(ms int, dur time.Duration, provider, op, method, path, url string, status int, errKind string, try int,
		reason string) db.Exchange {
		return db.Exchange{ID: int64(ms), StartedAt: at(ms), Duration: dur, OrderID: 12, UserID: 3, RequestID: "req-SECRETREQ",
			Provider: provider, Operation: op, PathTemplate: path, Method: method, URL: url, Status: status, Error: errKind,
			Try: try, RetryReason: reason, IdempotencyKey: "idem-SECRETKEY", ReqHeaders: hdr,
			ReqBody: `{"client_secret":"BODYSECRET"}`, RespHeaders: hdr, RespBody: `{"access_token":"RESPSECRET"}`}
	}
	const vipps = "http://localhost:8081/vipps"
	const altpay = "http://localhost:8081/altpay"
	return []db.Exchange{
		x(0, 41*time.Millisecond, "vipps", "accesstoken", "POST", "/accesstoken/get", vipps+"/accesstoken/get", 200, "", 1, ""),
		x(60, 12*time.Millisecond, "vipps", "create_payment", "POST", "/epayment/v1/payments", vipps+"/epayment/v1/payments", 503, "", 1, ""),
		x(300, 85*time.Millisecond, "vipps", "create_payment", "POST", "/epayment/v1/payments", vipps+"/epayment/v1/payments", 201, "", 2, "503"),
		x(2400, 10*time.Second, "vipps", "get_payment", "GET", "/epayment/v1/payments/{reference}",
			vipps+"/epayment/v1/payments/ref-1?token=URLSECRET", 0, "timeout", 1, ""),
		x(12600, 33*time.Millisecond, "vipps", "get_payment", "GET", "/epayment/v1/payments/{reference}",
			vipps+"/epayment/v1/payments/ref-1?token=URLSECRET", 200, "", 2, "timeout"),
		x(12700, 58*time.Millisecond, "vipps", "capture", "POST", "/epayment/v1/payments/{reference}/capture",
			vipps+"/epayment/v1/payments/ref-1/capture", 200, "", 1, ""),
		x(13000, 140*time.Millisecond, "altpay", "oauth_token", "POST", "/oauth/token", altpay+"/oauth/token", 200, "", 1, ""),
		x(13200, 900*time.Microsecond, "altpay", "get_customer", "GET", "/customers/{id}", altpay+"/customers/cus_1", 404, "", 1, ""),
	}
}

func render(t *testing.T, v views.DiagramView) string {
	t.Helper()
	var b bytes.Buffer
	if err := views.SequenceDiagram(v).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	// One element a line: a diff then points at the arrow that changed.
	got = strings.ReplaceAll(got, "><", ">\n<") + "\n"
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./web/diagram -update to write it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from line %d:\n got: %s\nwant: %s\n(run go test ./web/diagram -update if the change is meant)",
					path, i+1, g, w)
			}
		}
	}
}

// The diagram of a fixed exchange list is the one in testdata: a token
// fetch, a 503 then its retry, a timeout then its retry, two providers.
func TestTheDiagramOfAFixedOrderIsTheGoldenOne(t *testing.T) {
	v := FromExchanges(fixture())
	golden(t, "vipps_altpay.html", render(t, v))

	if v.ID != "seq-order-12" {
		t.Errorf("id %q", v.ID)
	}
	var names []string
	for _, l := range v.Lifelines {
		names = append(names, l.Name)
	}
	if got := strings.Join(names, " | "); got != "Shop | Vipps MobilePay API | Alternative Payments API" {
		t.Errorf("lifelines %s", got)
	}
	want := "8 exchanges between the shop, Vipps MobilePay API and Alternative Payments API; 2 retries; 1 without an answer."
	if v.Desc != want {
		t.Errorf("desc %q, want %q", v.Desc, want)
	}
	r := v.Rows
	if r[2].Note != "try 2 after 503" || r[4].Note != "try 2 after timeout" || r[1].Note != "" {
		t.Errorf("notes %q %q %q", r[1].Note, r[2].Note, r[4].Note)
	}
	if r[3].Answer.Label != "no answer: timeout · 10.0 s" || !r[3].NoAnswer || r[3].Answer.Head {
		t.Errorf("the timeout's answer: %+v", r[3].Answer)
	}
	if r[1].Answer.Label != "503 · 12 ms" || !r[1].BadAnswer || r[0].BadAnswer {
		t.Errorf("the 503's answer: %+v", r[1])
	}
	if r[0].Request.Label != "accesstoken POST /accesstoken/get" || r[0].Answer.Label != "200 · 41 ms" {
		t.Errorf("the token fetch: %q, %q", r[0].Request.Label, r[0].Answer.Label)
	}
	// Request arrows go right to the provider, answers come back left.
	for i, row := range r {
		if row.Request.X1 != v.Lifelines[0].X || row.Request.X2 <= row.Request.X1 || row.Answer.X2 != row.Request.X1 {
			t.Errorf("row %d's arrows: %+v %+v", i, row.Request, row.Answer)
		}
	}
	if r[6].Request.X2 != v.Lifelines[2].X {
		t.Errorf("the Alternative Payments call ends at %d, its lifeline is at %d", r[6].Request.X2, v.Lifelines[2].X)
	}
}

// Every coordinate stays inside the viewBox, which is the content column's
// width, whatever the number of lifelines.
func TestTheDiagramFitsTheContentColumn(t *testing.T) {
	providers := []struct{ p, url string }{{"vipps", ""}, {"altpay", ""}, {"klarna", "https://api.klarna.com/x"},
		{"klarna", "https://api-na.klarna.com/x"}, {"klarna", "https://login.klarna.com/x"}}
	var in Input
	in.Exchanges = append(in.Exchanges, Exchange{Origin: db.OriginBrowser, Provider: "altpay", Method: "GET", PathTemplate: "/checkout",
		Status: 401, StartedAt: t0})
	for i, p := range providers {
		in.Exchanges = append(in.Exchanges, Exchange{Provider: p.p, URL: p.url, Method: "POST", Operation: "op",
			PathTemplate: "/a/rather/long/path/template/{with}/{several}/segments", Status: 200,
			StartedAt: t0.Add(time.Duration(i+1) * time.Second)})
	}
	v := Layout(in)
	if v.Width != 960 || len(v.Lifelines) != 7 || v.Lifelines[0].Name != "Browser" || v.Lifelines[1].Name != "Shop" {
		t.Fatalf("width %d, lifelines %+v", v.Width, v.Lifelines)
	}
	for _, l := range v.Lifelines {
		if l.BoxX < Gutter || l.BoxX+l.BoxW > v.Width {
			t.Errorf("%s's head spans %d to %d", l.Name, l.BoxX, l.BoxX+l.BoxW)
		}
		for _, line := range l.Lines {
			if float64(runes(line))*headChar > float64(l.BoxW) {
				t.Errorf("%s's head line %q is wider than its box", l.Name, line)
			}
		}
	}
	for i, r := range v.Rows {
		for _, a := range []views.DiagramArrow{r.Request, r.Answer} {
			if a.X1 < 0 || a.X2 > v.Width || a.Y > v.Height {
				t.Errorf("row %d: %+v outside %dx%d", i, a, v.Width, v.Height)
			}
			if w := float64(runes(a.Label)) * labelChar; w > float64(abs(a.X2-a.X1)) {
				t.Errorf("row %d: %q (%.0f) is wider than its arrow (%d)", i, a.Label, w, abs(a.X2-a.X1))
			}
		}
	}
	if !v.Rows[0].FromBrowser || v.Rows[0].Request.X1 != v.Lifelines[0].X {
		t.Errorf("the browser's call starts at %d", v.Rows[0].Request.X1)
	}
	if !strings.Contains(v.Desc, "between the browser, the shop, ") {
		t.Errorf("desc %q", v.Desc)
	}
}

// No browser lifeline is drawn without the browser's calls.
func TestNoBrowserLifelineWithoutItsCalls(t *testing.T) {
	v := FromExchanges(fixture())
	for _, l := range v.Lifelines {
		if l.Browser || l.Name == "Browser" {
			t.Fatalf("lifeline %q", l.Name)
		}
	}
	if strings.Contains(render(t, v), "Browser") {
		t.Error("the SVG names a browser")
	}
}

// A label too long for its arrow is shortened with an ellipsis, and the
// arrow's <title> carries it in full.
func TestLongLabelsAreShortenedAndTitledInFull(t *testing.T) {
	long := Exchange{Provider: "klarna", URL: "https://api-na.playground.klarna.com/payments/v1/authorizations/x/order",
		Operation: "create_order_from_authorization", Method: "POST", StartedAt: t0, Status: 200, Duration: time.Second,
		PathTemplate: "/payments/v1/authorizations/{authorizationToken}/order"}
	// Four more providers narrow the columns.
	in := Input{Exchanges: []Exchange{long,
		{Provider: "vipps", Method: "GET", PathTemplate: "/x", StartedAt: t0.Add(time.Second)},
		{Provider: "altpay", Method: "GET", PathTemplate: "/x", StartedAt: t0.Add(2 * time.Second)},
		{Provider: "klarnasignin", Method: "GET", PathTemplate: "/x", StartedAt: t0.Add(3 * time.Second)}}}
	v := Layout(in)
	full := "create_order_from_authorization POST /payments/v1/authorizations/{authorizationToken}/order"
	req := v.Rows[0].Request
	if req.Label == full || !strings.Contains(req.Label, "…") {
		t.Fatalf("label %q not shortened", req.Label)
	}
	if !strings.Contains(req.Title, full) || !strings.Contains(req.Title, "Klarna Payments API (North America)") {
		t.Errorf("title %q", req.Title)
	}
	if l := v.Lifelines[1]; l.Name != "Klarna Payments API (North America)" || len(l.Lines) != 2 || l.Lines[1] != "(North America)" {
		t.Errorf("head %+v", v.Lifelines[1])
	}
	html := render(t, v)
	if !strings.Contains(html, ">"+req.Label+"</text>") {
		t.Errorf("the SVG draws no %q", req.Label)
	}
	if !strings.Contains(html, "<title>"+req.Title+"</title>") {
		t.Errorf("the SVG has no title %q", req.Title)
	}
	// With room enough, the path's leading segments give way first.
	mid, _ := requestLabel(Exchange{Operation: "capture", Method: "POST", PathTemplate: "/epayment/v1/payments/{reference}/capture"}, 46)
	if mid != "capture POST /…/payments/{reference}/capture" {
		t.Errorf("shortened path %q", mid)
	}
}

// Klarna's lifelines are named for the region or service the URL shows, on
// the real hosts and on the sandbox's paths.
func TestKlarnaLifelinesNameTheRegion(t *testing.T) {
	for url, want := range map[string]string{
		"https://api.playground.klarna.com/payments/v1/sessions":    "Klarna Payments API (Europe)",
		"https://api-na.playground.klarna.com/payments/v1/sessions": "Klarna Payments API (North America)",
		"http://localhost:8081/klarna/api/payments/v1/sessions":     "Klarna Payments API (Europe)",
		"http://localhost:8081/klarna/api-na/payments/v1/sessions":  "Klarna Payments API (North America)",
		"http://localhost:8081/klarna/login/oauth2/token":           "Klarna identity",
		"https://login.playground.klarna.com/.well-known/jwks.json": "Klarna identity",
		"": "Klarna Payments API",
	} {
		if got := LifelineName("klarna", url); got != want {
			t.Errorf("%s: %q, want %q", url, got, want)
		}
	}
}

// The diagram draws the method, the path template and the status: never
// the URL as sent, its query, a header, a body, the idempotency key or the
// request id, even when a path template were to carry a query.
func TestTheDiagramShowsNoSecret(t *testing.T) {
	xs := fixture()
	xs = append(xs, db.Exchange{StartedAt: t0.Add(time.Minute), Provider: "vipps", Operation: "events", Method: "GET",
		PathTemplate: "/epayment/v1/payments/{reference}/events?token=TEMPLATESECRET", Status: 200,
		URL: "http://user:URLPASSWORD@localhost/x?token=URLSECRET", Error: "BODYSECRET in an error", Try: 2,
		RetryReason: "token=REASONSECRET"})
	xs = append(xs, db.Exchange{StartedAt: t0.Add(2 * time.Minute), Provider: "vipps", Method: "GET", Status: 0,
		Error: "dial tcp: ERRORSECRET", URL: "http://localhost/epayment/v1/payments/URLPATHSECRET"})
	html := render(t, FromExchanges(xs))
	for _, s := range []string{"SECRET", "PASSWORD", "eyJ", "idem-", "req-", "localhost", "https:", "?", "cus_1", "ref-1"} {
		if strings.Contains(html, s) {
			i := strings.Index(html, s)
			t.Errorf("the SVG holds %q: …%s…", s, html[max(0, i-80):min(len(html), i+40)])
		}
	}
	if !strings.Contains(html, "(path not recorded)") || !strings.Contains(html, "try 2<") {
		t.Error("the exchange with no path template or an odd retry reason is not drawn as expected")
	}
}

// The SVG is one accessible image: named by its title, described by its
// desc, with no script, no style attribute and no presentation colour.
func TestTheSVGIsAnAccessibleImageWithoutInlineStyle(t *testing.T) {
	v := FromExchanges(fixture())
	html := render(t, v)
	for _, want := range []string{`role="img"`, `aria-labelledby="seq-order-12-title"`, `aria-describedby="seq-order-12-desc"`,
		`<title id="seq-order-12-title">`, `<desc id="seq-order-12-desc">` + v.Desc + `</desc>`, `viewBox="0 0 960 `,
		`width="100%"`} {
		if !strings.Contains(html, want) {
			t.Errorf("no %s in the SVG", want)
		}
	}
	for _, bad := range []string{"style=", "<style", "<script", "fill=", "stroke=", "on" + "load", "on" + "click"} {
		if strings.Contains(html, bad) {
			t.Errorf("the SVG has %s", bad)
		}
	}
	// Every id is unique on the page and every reference points at one.
	ids := regexp.MustCompile(` id="([^"]+)"`).FindAllStringSubmatch(html, -1)
	seen := map[string]bool{}
	for _, m := range ids {
		if seen[m[1]] {
			t.Errorf("id %s twice", m[1])
		}
		seen[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`aria-(?:labelledby|describedby)="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		if !seen[m[1]] {
			t.Errorf("aria reference to %s, no such id", m[1])
		}
	}
}

// With no exchange the component says so and draws no empty image.
func TestNoExchangesDrawNoDiagram(t *testing.T) {
	html := render(t, FromExchanges(nil))
	if strings.Contains(html, "<svg") || !strings.Contains(html, "No exchange with a provider has been recorded.") {
		t.Errorf("empty: %s", html)
	}
}

// A provider's call to the shop is drawn from the provider's lifeline (the
// one the shop's own calls to it use: Klarna's region, not its identity
// service) to the shop's, its answer back, labelled with the event it
// delivered; the description counts it.
func TestAProvidersCallToTheShopRunsFromItsLifelineToTheShop(t *testing.T) {
	in := Input{Exchanges: []Exchange{
		{Provider: "klarna", URL: "https://login.playground.klarna.com/eu/lp/idp/oauth2/token", Operation: "token_refresh",
			Method: "POST", PathTemplate: "/oauth2/token", Status: 200, StartedAt: t0},
		{Provider: "klarna", URL: "https://api.playground.klarna.com/payments/v1/sessions", Operation: "create_session",
			Method: "POST", PathTemplate: "/payments/v1/sessions", Status: 200, StartedAt: t0.Add(time.Second)},
		{Origin: db.OriginProvider, Provider: "klarna", URL: "https://shop.example/callbacks/klarna/notification/o1?token=x",
			Operation: "fraud_notification", Event: "FRAUD_RISK_ACCEPTED", Method: "POST",
			PathTemplate: "/callbacks/klarna/notification/{order}", Status: 200, StartedAt: t0.Add(2 * time.Second)},
	}}
	v := Layout(in)
	var names []string
	for _, l := range v.Lifelines {
		names = append(names, l.Name)
	}
	if got := strings.Join(names, " | "); got != "Shop | Klarna identity | Klarna Payments API (Europe)" {
		t.Fatalf("lifelines %s", got)
	}
	shopX, klarnaX := v.Lifelines[0].X, v.Lifelines[2].X
	r := v.Rows[2]
	if !r.FromProvider || r.FromBrowser || r.Request.X1 != klarnaX || r.Request.X2 != shopX || !r.Request.Head {
		t.Errorf("the notification's request runs %d to %d (provider %v), want %d to %d", r.Request.X1, r.Request.X2,
			r.FromProvider, klarnaX, shopX)
	}
	if r.Answer.X1 != shopX || r.Answer.X2 != klarnaX {
		t.Errorf("its answer runs %d to %d", r.Answer.X1, r.Answer.X2)
	}
	if !strings.HasPrefix(r.Request.Label, "FRAUD_RISK_ACCEPTED POST /") {
		t.Errorf("label %q", r.Request.Label)
	}
	if want := "3. fraud_notification FRAUD_RISK_ACCEPTED POST /callbacks/klarna/notification/{order}, from Klarna Payments API (Europe) to the shop"; r.Request.Title != want {
		t.Errorf("title %q, want %q", r.Request.Title, want)
	}
	if v.Rows[1].FromProvider || v.Rows[1].Request.X1 != shopX {
		t.Errorf("the shop's own call: %+v", v.Rows[1])
	}
	if !strings.HasSuffix(v.Desc, "; 1 call from a provider to the shop.") {
		t.Errorf("desc %q", v.Desc)
	}
	if html := render(t, v); !strings.Contains(html, "seq-from-provider") || strings.Contains(html, "token=x") {
		t.Errorf("the SVG lacks the provider's row class or shows the URL:\n%s", html)
	}

	// Alone (no call of the shop's to that provider on the order), the call
	// comes from the provider's API by name.
	alone := Layout(Input{Exchanges: in.Exchanges[2:]})
	if len(alone.Lifelines) != 2 || alone.Lifelines[1].Name != "Klarna Payments API" {
		t.Errorf("lifelines %+v", alone.Lifelines)
	}
}
