package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"refshop/web/outbound"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// MaxBodyBytes bounds request bodies; shop forms are small.
const MaxBodyBytes = 64 << 10

func (a *App) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = a.handleError
	e.IPExtractor = clientIP(a.Config)

	e.Use(middleware.RequestID())
	e.Use(carryRequestID)
	// Sessions wrap everything else, so that the central error handler can read
	// the session for the page frame.
	e.Use(echo.WrapMiddleware(a.Sessions.LoadAndSave))
	e.Use(a.logRequests())
	e.Use(a.renderErrors)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogLevel: 0,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			a.Log.Error("panic", "request_id", requestID(c), "error", err, "stack", string(stack))
			return err
		}}))
	e.Use(a.securityHeaders)
	e.Use(middleware.BodyLimit(fmt.Sprint(MaxBodyBytes/1024) + "K"))
	e.Use(a.refuseCrossOrigin())
	e.Use(a.loadUser)
	return e
}

// headAsGet routes a HEAD request as a GET, so that HEAD is answered wherever
// GET is served: Echo v4 routes HEAD only where it is registered. Only a copy
// says GET; the server keeps the HEAD it received and sends no body. The
// handler runs once, as for a GET (the shop's GET routes are safe to repeat).
func headAsGet(r *http.Request) *http.Request {
	if r.Method != http.MethodHead {
		return r
	}
	get := r.WithContext(r.Context())
	get.Method = http.MethodGet
	return get
}

// renderErrors turns a handler's error into the response right away, inside
// the request logger, so the logged status is the one sent.
func (a *App) renderErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := next(c); err != nil {
			a.handleError(err, c)
		}
		return nil
	}
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// carryRequestID puts the request's id on its context, where the outbound
// client's log line for every provider call it causes reads it
// (outbound.WithRequestID).
func carryRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		c.SetRequest(r.WithContext(outbound.WithRequestID(r.Context(), requestID(c))))
		return next(c)
	}
}

// logRequests writes one slog line per request. The query string is left out:
// provider callbacks carry codes and state in it.
func (a *App) logRequests() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogMethod: true, LogRoutePath: true, LogLatency: true, LogRequestID: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			a.Log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("method", v.Method), slog.String("route", v.RoutePath),
				slog.Int("status", v.Status), slog.Duration("latency", v.Latency),
				slog.String("request_id", v.RequestID))
			return nil
		},
	})
}

// cspPolicy is the Content-Security-Policy minus the per-request nonce. The
// only origins allowed besides 'self' are the providers' (their SDK, widget
// frames, API calls and hosted pages a form redirects to).
type cspPolicy struct {
	scriptSrc, frameSrc, connectSrc, imgSrc, formAction []string
}

func (p cspPolicy) header(nonce string) string {
	join := func(extra []string) string {
		if len(extra) == 0 {
			return ""
		}
		return " " + strings.Join(extra, " ")
	}
	frame := "'none'"
	if len(p.frameSrc) > 0 {
		frame = strings.Join(p.frameSrc, " ")
	}
	return "default-src 'self'" +
		"; script-src 'self' 'nonce-" + nonce + "'" + join(p.scriptSrc) +
		"; style-src 'self'" +
		"; img-src 'self' data:" + join(p.imgSrc) +
		"; connect-src 'self'" + join(p.connectSrc) +
		"; frame-src " + frame +
		"; form-action 'self'" + join(p.formAction) +
		"; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
}

// securityHeaders sets the nonce CSP and the other protective headers, and
// puts the nonce where templ finds it.
func (a *App) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		nonce := base64.RawURLEncoding.EncodeToString(b)
		h := c.Response().Header()
		h.Set("Content-Security-Policy", a.csp.header(nonce))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if strings.HasPrefix(a.Config.ShopBaseURL, "https://") {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		req := c.Request()
		c.SetRequest(req.WithContext(templ.WithNonce(req.Context(), nonce)))
		return next(c)
	}
}

// refuseCrossOrigin refuses unsafe requests from other origins with the
// standard library's CrossOriginProtection (Sec-Fetch-Site, then Origin).
func (a *App) refuseCrossOrigin() echo.MiddlewareFunc {
	cop := http.NewCrossOriginProtection()
	// Servers call these, not browsers, and each authenticates itself
	// otherwise than by a session cookie a forged form could ride on: the
	// deliberate exceptions, and only these.
	//   - Klarna's callbacks: the one-time token their URL carries
	//     (klarna_callbacks.go).
	//   - Vipps's webhook deliveries: their HMAC signature
	//     (vipps.VerifyWebhook).
	//   - Alternative Payments' deliveries: the subscription's bearer
	//     secret (altpay_webhook.go).
	cop.AddInsecureBypassPattern("POST " + klarnaCallbackPrefix)
	cop.AddInsecureBypassPattern("POST " + vippsWebhookPath)
	cop.AddInsecureBypassPattern("POST " + altpayWebhookPath)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := cop.Check(c.Request()); err != nil {
				return &UserError{Status: http.StatusForbidden, Title: "Request refused",
					Message: "This form was sent from another site, so the shop refused it. Go back, reload the page and try again."}
			}
			return next(c)
		}
	}
}

// staticCache lets browsers keep the embedded assets for an hour.
func staticCache(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return next(c)
	}
}

// render writes a templ component as an HTML page with status. The page is
// rendered whole before anything is written: a component that fails half
// way leaves the response untouched, so the error handler answers with an
// error page instead of half a page under a 200.
func render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}
