package klarnasignin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/oauth2"
)

// Operations, as an Error names them (and the sandbox counts them, with
// "klarna." before).
const (
	opDiscovery = "discovery"
	opCode      = "token_code"
	opRefresh   = "token_refresh"
	opRevoke    = "revoke"
	opUserinfo  = "userinfo"
)

// Error is every failed call to Klarna's identity provider: an OAuth 2.0
// error answer, an answer the shop refuses (an ID token that does not
// verify, a token response it cannot use), or no answer at all. Its text is
// the operation, Klarna's error code and description or the cause, which
// never carry tokens.
type Error struct {
	Op string // discovery, token_code, token_refresh, revoke, userinfo
	// Answered: Klarna answered, with Status. False: no answer was read
	// (discovery failures included, whose status go-oidc does not report)
	// and Status is 0.
	Answered    bool
	Status      int
	Code        string // OAuth 2.0 error code: "invalid_grant", "invalid_client", ...
	Description string
	refused     refusal // why the shop refused an answer it got
	unsent      bool    // the request surely never reached Klarna
	err         error   // the cause, when there is one
}

// refusal is why the shop refused an answer.
type refusal int

const (
	accepted        refusal = iota
	badIDToken              // the ID token did not verify
	badTokens               // a token response the shop cannot use
	keysUnavailable         // the ID token could not be checked: the issuer's keys could not be fetched
)

func (e *Error) Error() string {
	s := "klarnasignin " + e.Op + ": "
	switch {
	case e.refused == badIDToken:
		s += "ID token did not verify"
	case e.refused == badTokens:
		s += "unusable token response"
	case e.refused == keysUnavailable:
		s += "ID token not checked: the issuer's signing keys could not be fetched"
	case e.Answered:
		s += fmt.Sprintf("HTTP %d %s", e.Status, e.Code)
		if e.Description != "" {
			s += ": " + e.Description
		}
	case e.unsent:
		s += "not sent"
	default:
		s += "no answer"
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.err }

// InvalidIDToken reports an answer whose ID token did not verify
// (signature, issuer, audience, expiry, at_hash; the nonce on a code
// exchange, the grant's sub on a refresh): a sign-in is refused; a refresh
// spent the refresh token and its answer was revoked, so the grant is over.
func InvalidIDToken(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.refused == badIDToken
}

// IDTokenUnchecked reports an answer whose ID token could not be checked
// because the issuer's signing keys (its JWKS) could not be fetched: a
// failure of the moment, which says nothing against the token. A sign-in
// can be started again. A refresh that reports it has returned the new
// tokens with it (see Refresh): the refresh token is spent, so they must be
// kept, and the grant goes on.
func IDTokenUnchecked(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.refused == keysUnavailable
}

// InvalidGrant reports that Klarna ended the grant a refresh token belongs
// to: 400 invalid_grant (an expired, revoked or reused refresh token) or 401
// token_inactive. Klarna does not document the reuse answer; these are Ory
// Hydra's (newer and older versions), which Klarna's token server appears
// to run. Only a new Sign in with Klarna helps; never retry it.
func InvalidGrant(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Answered &&
		(e.Status == http.StatusBadRequest && e.Code == "invalid_grant" ||
			e.Status == http.StatusUnauthorized && e.Code == "token_inactive")
}

// TokenInactive reports that Klarna's userinfo refused an access token (401):
// Klarna does not accept it now.
func TokenInactive(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Op == opUserinfo && e.Answered && e.Status == http.StatusUnauthorized
}

// OutcomeUnknown reports a token request (code exchange or refresh) that
// may have reached Klarna and used its code or refresh token although no
// usable answer came back: a timeout or broken connection after sending, a
// 502 or 504 from a proxy that may have passed it on, or a 200 that could
// not be used. Sending the refresh token again would look like reuse and
// revoke the grant.
func OutcomeUnknown(err error) bool {
	var e *Error
	if !errors.As(err, &e) || (e.Op != opCode && e.Op != opRefresh) {
		return false
	}
	switch {
	case e.refused == badTokens:
		return true
	case e.Answered:
		return e.Status == http.StatusBadGateway || e.Status == http.StatusGatewayTimeout
	}
	return !e.unsent
}

// StatusOf returns the HTTP status of Klarna's answer, 0 for a call that got
// none and for other errors.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) && e.Answered {
		return e.Status
	}
	return 0
}

// classify turns the error of a call to op into an *Error (see Refresh).
func classify(op string, err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		e := &Error{Op: op, Answered: true, Code: re.ErrorCode, Description: re.ErrorDescription}
		if re.Response != nil {
			e.Status = re.Response.StatusCode
		}
		if e.Code == "" {
			e.Code = http.StatusText(e.Status)
		}
		return e
	}
	// The request was never sent, or was and no answer came (a timeout, a
	// broken connection), or a 200 answer could not be read.
	return &Error{Op: op, unsent: unsent(err), err: err}
}

// refuse is the error of an answer the shop refuses.
func refuse(op string, why refusal, status int, format string, args ...any) *Error {
	return &Error{Op: op, Answered: true, Status: status, refused: why, err: fmt.Errorf(format, args...)}
}

// readError reads an OAuth 2.0 error answer.
func readError(op string, res *http.Response) error {
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&body)
	if body.Error == "" {
		body.Error = http.StatusText(res.StatusCode)
	}
	return &Error{Op: op, Answered: true, Status: res.StatusCode, Code: body.Error, Description: body.Description}
}
