package web

import (
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/static"
)

// routes is every route the shop serves, in one place: the shop's own pages
// first, then each flow's block.
func (a *App) routes() {
	e := a.echo
	assets := e.Group("/static", staticCache)
	for _, dir := range []string{"css", "img", "js"} {
		assets.StaticFS("/"+dir, echo.MustSubFS(static.FS, dir))
	}
	e.GET("/healthz", a.healthz)

	e.GET("/", a.home)
	e.GET("/products/:id", a.product)

	e.POST("/market", a.chooseMarket)
	e.GET("/cart", a.cart)
	e.POST("/cart/items", a.addToCart)
	e.POST("/cart/items/:id", a.updateCartItem)
	e.POST("/cart/items/:id/remove", a.removeCartItem)

	e.GET("/signup", a.signUpForm)
	e.POST("/signup", a.signUp)
	e.GET("/signin", a.signInForm)
	e.POST("/signin", a.signIn)
	e.POST("/signout", a.signOut)
	e.GET("/account", a.account, a.requireUser)

	e.GET("/checkout", a.checkout)
	// GET, though viewing may move the order (paymentFlow.refresh): it only
	// records what the provider reports, so a repeat or a prefetch changes
	// nothing more.
	e.GET("/orders/:id", a.order)
	e.GET("/orders/:id/exchanges.har", a.orderHAR)

	// The back office, for administrators only: web/admin.go, and each
	// flow's part (vipps_admin.go, klarna_admin.go, altpay_admin.go).
	admin := e.Group("/admin", a.requireAdmin)
	admin.GET("", a.adminOrders)
	admin.GET("/orders/:id", a.adminOrder)
	admin.POST("/orders/:id/capture", a.adminOperate(db.OpCapture))
	admin.POST("/orders/:id/refund", a.adminOperate(db.OpRefund))
	admin.POST("/orders/:id/cancel", a.adminOperate(db.OpCancel))
	admin.POST("/orders/:id/release", a.adminOperate(db.OpRelease))
	admin.POST("/orders/:id/extend", a.adminOperate(db.OpExtend))

	// --- the flows: one block each, built in New ---

	// Vipps MobilePay: web/vipps_*.go
	e.POST("/checkout/vipps", a.vipps.checkout)
	// GET: Vipps sends the browser back with a redirect; the handler trusts
	// only the order id and records what Vipps reports (capture uses the stored key).
	e.GET("/checkout/vipps/return", a.vipps.returned)
	// Vipps's signed ePayment events (vipps_webhook_receive.go): no session,
	// checked by HMAC, exempt from the cross-origin check (server.go).
	// Every call a provider makes to the shop is recorded for its order's
	// page (recordInbound: inbound_routes.go).
	e.POST(vippsWebhookPath, a.vipps.webhook, a.recordInbound(vippsWebhookRoute))

	// Alternative Payments, pay by invoice: web/altpay_*.go
	e.POST("/checkout/altpay", a.altpay.checkout)
	e.GET("/invoices/:id", a.altpay.invoicePage)
	e.POST("/invoices/:id/confirm", a.altpay.confirm)
	e.POST("/api/altpay/invoices/:id/token", a.altpay.token)
	// Server to server: authenticated by the webhook's bearer secret, so
	// exempt from the cross-origin check (server.go).
	e.POST(altpayWebhookPath, a.altpay.webhook, a.recordInbound(altpayWebhookRoute))

	// Klarna Payments with account linking: web/klarna_*.go
	e.POST("/checkout/klarna", a.klarna.start)
	// GET, though it cancels an attempt whose Klarna session has expired:
	// that records a fact the clock decided, the same on every repeat.
	e.GET("/checkout/klarna/:id", a.klarna.payPage)
	e.POST("/checkout/klarna/:id/authorize", a.klarna.authorized)
	e.POST("/orders/:id/klarna/buy-again", a.klarna.buyAgain, a.requireUser)
	e.POST("/account/klarna/unlink", a.klarna.unlink, a.requireUser)
	// Klarna's server-to-server calls, authenticated by the attempt's
	// one-time token in the URL (klarna_callbacks.go; exempt from the
	// cross-origin check in server.go).
	e.POST(klarnaCallbackPrefix+klarnaAuthorizationCallback+"/:order", a.klarna.authorizationCallback,
		a.recordInbound(klarnaAuthorizationRoute))
	e.POST(klarnaCallbackPrefix+klarnaNotificationCallback+"/:order", a.klarna.notification,
		a.recordInbound(klarnaNotificationRoute))

	// Sign in with Klarna: web/klarnasignin*.go. The paths keep /auth/klarna:
	// the callback is the redirect_uri registered with Klarna.
	e.POST("/auth/klarna/start", a.klarnaSignIn.start)
	// GET: the OpenID Connect redirect; the state in the session makes it work once.
	e.GET("/auth/klarna/callback", a.klarnaSignIn.callback)
	// The next look at a sign-in whose code exchange outlived the callback.
	e.GET("/auth/klarna/resume", a.klarnaSignIn.resume)
	e.POST("/account/klarna/connect", a.klarnaSignIn.connect, a.requireUser)
	e.POST("/account/klarna/disconnect", a.klarnaSignIn.disconnect, a.requireUser)
}
