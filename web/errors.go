package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"refshop/views"
)

// UserError is an error whose text is safe to show the customer: a provider
// refusal, a refused request. Reference is a support reference to show (a
// provider correlation id); the request id is shown when it is empty.
type UserError struct {
	Status    int
	Title     string
	Message   string
	Reference string
	Err       error // the cause, for the log only
}

func (e *UserError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *UserError) Unwrap() error { return e.Err }

// pageFor returns the title and message the customer sees for a status.
func pageFor(status int) (string, string) {
	switch status {
	case http.StatusNotFound:
		return "Page not found", "We could not find that page. It may have moved, or the link may be mistyped."
	case http.StatusMethodNotAllowed:
		return "Not allowed here", "That action is not available on this page."
	case http.StatusRequestEntityTooLarge:
		return "Too much data", "What you sent was larger than the shop accepts. Nothing was saved; go back and try with less."
	case http.StatusUnprocessableEntity:
		return "Please check the form", "Some of what you entered could not be used. Go back and try again."
	case http.StatusForbidden:
		return "Not allowed", "You do not have access to this."
	case http.StatusUnauthorized:
		return "Please sign in", "Sign in to continue."
	case http.StatusTooManyRequests:
		return "Slow down", "Too many requests. Please wait a moment and try again."
	case http.StatusBadRequest:
		return "Bad request", "The shop could not understand that request."
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return "Temporarily unavailable", "A service the shop depends on is not answering. Nothing was charged; please try again in a moment."
	}
	return "Something went wrong", "The shop hit an unexpected problem. Nothing was charged. Please try again."
}

// handleError is the one place errors become responses: an HTML error page, or
// JSON for API routes. Internal error text never reaches the customer; 5xx
// are logged with the request id.
func (a *App) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		a.Log.Error("error after response started", "request_id", requestID(c), "error", err)
		return
	}
	status := http.StatusInternalServerError
	title, msg := "", ""
	ref := ""
	var ue *UserError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ue):
		status, title, msg, ref = ue.Status, ue.Title, ue.Message, ue.Reference
	case errors.As(err, &he):
		status = he.Code
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	dt, dm := pageFor(status)
	if title == "" {
		title = dt
	}
	if msg == "" {
		msg = dm
	}
	if status >= 500 {
		a.Log.Error("request failed", "request_id", requestID(c), "status", status, "error", err)
		if ref == "" {
			ref = requestID(c)
		}
	}
	if isAPI(c) {
		body := map[string]string{"error": title, "message": msg}
		if ref != "" {
			body["reference"] = ref
		}
		_ = c.JSON(status, body)
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if rerr := render(c, status, views.Error(a.chrome(c, title), views.ErrorView{
		Status: status, Title: title, Message: msg, Reference: ref,
	})); rerr != nil {
		a.Log.Error("rendering error page", "request_id", requestID(c), "error", rerr)
	}
}

// isAPI reports whether the request is for a JSON endpoint.
func isAPI(c echo.Context) bool {
	return strings.HasPrefix(c.Request().URL.Path, "/api/")
}
