package web

import (
	"net/http"

	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// The same cart in each market: its own prices, its own tax rule and only
// that market's payment methods.
func TestSwitchingMarketRepricesTheCartAndTheMethods(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
	b.post("/cart/items", url.Values{"product_id": {"slow-mornings"}, "quantity": {"1"}})

	for _, tc := range []struct {
		market, total, tax, taxLabel string
		methods                      []string
	}{
		// A first visit shops in Germany: 2 × 18.00 at 19% VAT, 16.00 at 7%.
		{"", "€52.00", "€6.80", "Included VAT", []string{"/checkout/klarna"}},
		// Norway: 2 × 229 at 25%; books are zero-rated.
		{"no", "NOK 657.00", "NOK 91.60", "Included VAT", []string{"/checkout/vipps", "/checkout/klarna"}},
		// The United States: prices exclude tax; 8.25% on 56.00 is 4.62.
		{"us", "$60.62", "$4.62", "Sales tax (8.25%)", []string{"/checkout/altpay", "/checkout/klarna"}},
		{"de", "€52.00", "€6.80", "Included VAT", []string{"/checkout/klarna"}},
	} {
		name := tc.market
		if name == "" {
			name = "first visit"
		} else {
			b.inMarket(tc.market)
		}
		t.Run(name, func(t *testing.T) {
			doc := b.get("/cart").doc(t)
			if got := doc.Find("[data-testid=total]").Text(); got != tc.total {
				t.Errorf("cart total %q, want %q", got, tc.total)
			}
			if got := doc.Find("[data-testid=tax]").Text(); got != tc.tax {
				t.Errorf("tax %q, want %q", got, tc.tax)
			}
			if got := doc.Find("[data-testid=tax]").Parent().Find("dt").Text(); got != tc.taxLabel {
				t.Errorf("tax label %q, want %q", got, tc.taxLabel)
			}
			co := b.get("/checkout").doc(t)
			var methods []string
			co.Find(".payment-methods form[action^='/checkout/']").Each(func(_ int, f *goquery.Selection) {
				methods = append(methods, f.AttrOr("action", ""))
			})
			if strings.Join(methods, " ") != strings.Join(tc.methods, " ") {
				t.Errorf("checkout offers %v, want %v", methods, tc.methods)
			}
		})
	}
}

func TestProductPagesShowTheMarketsPriceAndTaxRule(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	doc := b.get("/products/sencha").doc(t)
	if got, note := doc.Find(".price").Text(), doc.Find("[data-testid=tax-note]").Text(); got != "€8.50" || note != "Includes 7% VAT." {
		t.Errorf("Germany: %q %q", got, note)
	}
	b.inMarket("us")
	doc = b.get("/products/sencha").doc(t)
	if got, note := doc.Find(".price").Text(), doc.Find("[data-testid=tax-note]").Text(); got != "$8.99" || note != "Plus sales tax, added at checkout." {
		t.Errorf("United States: %q %q", got, note)
	}
	if got := doc.Find("#market-select option[selected]").AttrOr("value", ""); got != "us" {
		t.Errorf("the header's picker shows %q, want us", got)
	}
}

func TestUnknownMarketIsRefusedAndChangesNothing(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	b.inMarket("no")
	p := b.post("/market", url.Values{"market": {"se"}, "next": {"/cart"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Choose one of the markets listed") {
		t.Fatalf("unknown market: %d", p.status)
	}
	if got := b.get("/").doc(t).Find("#market-select option[selected]").AttrOr("value", ""); got != "no" {
		t.Errorf("after a refused switch the market is %q, want no", got)
	}
	// The form comes back to a local page only.
	if p := b.post("/market", url.Values{"market": {"de"}, "next": {"https://evil.example/"}}); p.status != http.StatusSeeOther || p.location != "/" {
		t.Errorf("switch with a foreign next: %d %q", p.status, p.location)
	}
}

// A form from another tab, made before the person switched market, cannot
// pay with a method the market does not offer.
func TestAMethodTheMarketDoesNotOfferIsRefused(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	for path, want := range map[string]string{
		"/checkout/vipps":  "Vipps MobilePay is not offered in Germany",
		"/checkout/altpay": "is not offered in Germany",
	} {
		p := b.post(path, url.Values{"phone": {"4791234567"}, "email": {"a@example.com"}, "name": {"A"}})
		if p.status != http.StatusConflict || !strings.Contains(p.body, want) {
			t.Errorf("%s in Germany: %d, want 409 %q", path, p.status, want)
		}
	}
	var n int
	if err := app.DB.Read.QueryRow(`SELECT COUNT(*) FROM orders`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d orders were made (%v), want none", n, err)
	}
}
