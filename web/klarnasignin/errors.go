package klarnasignin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/oauth2"
)

var (
	// ErrSignInAgain means Klarna ended the grant: 400 invalid_grant (an
	// expired, revoked or reused refresh token, fosite >= 0.49) or 401
	// token_inactive (older fosite, providers.md 1.4). Only a new Sign in with
	// Klarna helps; the shop never retries it.
	ErrSignInAgain = errors.New("klarnasignin: Klarna ended the grant; sign in with Klarna again")
	// ErrOutcomeUnknown means a token request may have reached Klarna but
	// its answer was lost or unusable: the refresh token may be spent, and
	// sending it again would trip reuse detection and revoke the grant.
	ErrOutcomeUnknown = errors.New("klarnasignin: the token request may have been used; its outcome is unknown")
)

// Error is an OAuth 2.0 error answer from Klarna. Its text is Klarna's
// error code and description, which never carry tokens.
type Error struct {
	Status      int
	Code        string // "invalid_grant", "invalid_client", ...
	Description string
	kind        error // ErrSignInAgain, ErrOutcomeUnknown or nil
}

func (e *Error) Error() string {
	return fmt.Sprintf("klarnasignin: %d %s: %s", e.Status, e.Code, e.Description)
}

func (e *Error) Unwrap() error { return e.kind }

// classify turns a token call's error into Error, ErrSignInAgain or
// ErrOutcomeUnknown (see Refresh).
func classify(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		e := &Error{Status: status, Code: re.ErrorCode, Description: re.ErrorDescription}
		if e.Code == "" {
			e.Code = http.StatusText(status)
		}
		e.kind = kindOf(status, e.Code)
		return e
	}
	if unsent(err) {
		return fmt.Errorf("klarnasignin: token request not sent: %w", err)
	}
	// A timeout or a broken connection after sending, or a 200 answer that
	// could not be read.
	return fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
}

func kindOf(status int, code string) error {
	switch {
	case status == http.StatusBadRequest && code == "invalid_grant",
		status == http.StatusUnauthorized && code == "token_inactive":
		return ErrSignInAgain
	case status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		return ErrOutcomeUnknown
	}
	return nil
}

// readError reads an OAuth 2.0 error answer.
func readError(res *http.Response) error {
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&body)
	if body.Error == "" {
		body.Error = http.StatusText(res.StatusCode)
	}
	return &Error{Status: res.StatusCode, Code: body.Error, Description: body.Description, kind: kindOf(res.StatusCode, body.Error)}
}
