// Package control is the provider sandbox's shared state and the control API
// that steers it: the sandbox's clock, its settings, the faults queued against
// operations and the call counts. Every emulated provider holds one *State,
// declares its operations and its error shape, and calls Hit at the start of
// each operation.
//
// The control API is the sandbox's own: no provider has one, so there is no
// provider page to follow. Tests, demos and people steer the sandbox through
// it without a browser, so its routes, bodies, operation names and setting
// names are a contract. Bodies are JSON objects (unknown fields refused);
// durations are Go duration strings ("90s", "5m", "1440h").
//
//	GET    /control/state              {"now", "settings", "calls", "faults", "operations"}
//	POST   /control/reset              every setting, fault, count and stored object back to the start
//	POST   /control/settings           {"name": value, ...}: change settings (see Settings); answers the new state
//	POST   /control/clock              {"advance": "10m"}: move the sandbox clock on; every token ages by that much
//	POST   /control/faults             {"operation", "status", "times", "delay", "lose_answer", "commit_late"}
//	DELETE /control/faults/{operation} drop the operation's pending faults; answers the new state
//
// The control API is for tools, tests and people at a terminal, never for a
// web page: a page on any other origin could otherwise reset the sandbox or
// set klarna_auto_consent to an attacker's identity. So its writes refuse
// cross-origin requests and take only application/json bodies (415
// otherwise); State.Wrap applies both, and the first to every sandbox route.
//
// A fault makes the next times calls of an operation wait delay, then fail
// with status in that provider's own error shape (status 0: the delay only;
// lose_answer: the operation runs, then the connection closes with no answer,
// as when a timeout hits after the provider did the work). A caller that
// hangs up during the delay ends the call there: the operation never runs.
// With commit_late (a delay, no status) the delay is waited in full and the
// operation runs even after its caller hung up, as a slow provider commits a
// request whose caller timed out; the answer then reaches nobody, or the
// caller if it is still there. Operation names
// are "<provider>.<operation>": klarna.create_order, klarna.token_code,
// klarna.token_refresh, vipps.accesstoken, altpay.checkout_payment and the
// others each provider package declares.
//
// The sandbox's state outlives its process (package store): each provider
// registers its objects with Persist, and Wrap saves them after every
// request. Of the control state the clock offset, the settings and the call
// counts survive a restart and pending faults do not (see State.Dump for
// why); reset forgets everything.
//
// Two providers add control routes of their own: package klarna answers
// POST /control/klarna/sessions/{session_id}/authorize (what the widget does
// when the customer approves) and package klarnasignin answers
// POST /control/klarna/login/revoke (a customer taking back every Sign in
// with Klarna grant of an identity).
package control
