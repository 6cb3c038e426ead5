package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// benchPage measures one page served straight by the handler (no network),
// with the session cookie of a browser that has a cart.
func benchPage(b *testing.B, path string) {
	app := newTestApp(b)
	br := app.browser(b)
	for _, p := range []string{"sencha", "carafe", "hand-grinder"} {
		br.post("/cart/items", url.Values{"product_id": {p}, "quantity": {"2"}})
	}
	cookie := "refshop_session=" + br.sessionCookie()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "</html>") {
			b.Fatalf("%s: %d", path, rec.Code)
		}
	}
}

func BenchmarkHomePage(b *testing.B)    { benchPage(b, "/") }
func BenchmarkProductPage(b *testing.B) { benchPage(b, "/products/pour-over") }
func BenchmarkCartPage(b *testing.B)    { benchPage(b, "/cart") }
