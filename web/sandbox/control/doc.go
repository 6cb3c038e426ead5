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
//	POST   /control/faults             {"operation", "status", "times", "delay", "lose_answer", "commit_late", "duplicate", "reorder"}
//	DELETE /control/faults/{operation} drop the operation's pending faults; answers the new state
//	GET    /control/exchanges          ?provider=&operation=&origin=&ref=&limit=: the exchanges received (below)
//	GET    /control/deliveries         ?limit=: the events delivered to registered URLs, with attempts (below)
//	POST   /control/deliveries/{id}/replay  send one again now (below)
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
// GET /control/exchanges lists what the sandbox received on its provider
// routes (package exchanges records it): the shop's server calls and the
// browser's own (the invoice snippet's, the Klarna widget's, the Vipps
// landing page), each with its answer, redacted by the shop's rules
// (web/redact). It answers the latest limit matches, oldest first:
//
//	{"exchanges": [{"id": 1, "at": "2026-12-02T10:00:00.123456789Z", "sandbox_time": "...",
//	  "provider": "altpay", "operation": "altpay.checkout_invoice", "origin": "browser",
//	  "method": "GET", "path": "/altpay/checkout/invoice", "pattern": "GET /altpay/checkout/invoice",
//	  "status": 401, "lost": false, "duration_ms": 1.25, "idempotency_key": "",
//	  "request_headers": {"Authorization": ["Bearer [redacted …Xy7Q #1f0c9a2b]"]}, "request_body": "",
//	  "response_headers": {...}, "response_body": "...", "refs": ["inv_123", "…Xy7Q #1f0c9a2b"]}]}
//
// at is the wall clock when the request arrived, sandbox_time the sandbox
// clock then; origin is "browser" when the request carried Sec-Fetch-Mode or
// Origin, "server" otherwise; path is the path and query, redacted; pattern
// the route's ("" when none matched); status 0 with lost true when no answer
// went out (a lose_answer fault); operation "" for routes with none (the
// widget, the SDK file). refs link the exchange to a shop order: the path's
// ids (a secret one, such as an authorization token, by its tag), the tag
// (secret.Tag) of a bearer token or Klarna client_token it presents, and the
// ids it is about that it does not name: the invoice of a checkout token,
// the session of a widget call, the payment reference of a landing page.
// Filters, each optional: provider (klarna, vipps, altpay), operation (a
// declared one), origin, ref (repeatable: any of the exchange's refs equals
// any given), limit (1-1000, default 100). Anything else is refused with 400
// {"error": "..."}. The sandbox keeps the latest 2000; reset forgets them.
//
// Delivery operations. Some operations are not calls the sandbox answers
// but deliveries it makes to the shop, POSTed to a URL the shop gave the
// provider (package deliveries sends them; providers declare such
// operations with DeliveryOperations):
//
//	vipps.webhook_delivery          a Vipps MobilePay webhook event, to a registered webhook
//	altpay.webhook_delivery         an Alternative Payments invoice_paid event, to a webhook subscription
//	klarna.authorization_callback   Klarna's authorization callback, to the session's authorization URL
//	klarna.fraud_notification       Klarna's pending-order notification, to the order's notification URL
//
// Their count is the scheduled attempts made, and their faults act on the
// next times scheduled attempts (vipps.webhook_delivery stands for any of
// them here):
//
//	{"operation": "vipps.webhook_delivery", "lose_answer": true}   the attempt is not sent: logged as dropped, retried per the schedule
//	{"operation": "vipps.webhook_delivery", "delay": "30s"}        it goes 30s later on the sandbox clock
//	{"operation": "vipps.webhook_delivery", "duplicate": true}     it goes twice, back to back
//	{"operation": "vipps.webhook_delivery", "reorder": true}       it is held back until the next delivery of the operation has gone, then follows it
//
// duplicate and reorder are refused (400) on other operations; status and
// commit_late are refused on delivery operations. delay combines with
// duplicate or reorder (the delay first); lose_answer wins over the others.
// A replay takes no fault.
//
// GET /control/deliveries lists the latest limit deliveries (1-1000,
// default 100; the sandbox keeps the latest 2000 finished ones and every
// pending one), oldest first:
//
//	{"deliveries": [{"id": 7, "provider": "vipps", "operation": "vipps.webhook_delivery",
//	  "event": "epayments.payment.authorized.v1", "ref": "order-1001", "target": "<webhook id>",
//	  "url": "https://shop.example/hooks/vipps", "body": "{\"msn\":...}", "created": "...",
//	  "state": "pending", "next_at": "...", "note": "", "tries": 1,
//	  "attempts": [{"kind": "scheduled", "sandbox_time": "...", "at": "...", "status": 500,
//	    "error": "", "latency_ms": 3.2, "request_headers": {"X-Ms-Date": ["..."], "Authorization": ["HMAC-SHA256 ...&Signature=[redacted …]"]}}]}]}
//
// state is pending (next_at says when on the sandbox clock), held (by a
// reorder fault), delivered (a 2xx came), failed (the retries ran out) or
// abandoned (the registration was deleted). An attempt's kind is scheduled,
// duplicate or replay; status 0 with an error when no answer came
// (dropped, timeout, connection refused). The signature is shown by its
// mark, never whole (a bearer secret, and a token in a Klarna URL, too).
// POST /control/deliveries/{id}/replay sends the delivery again now, as a
// new attempt with the same body (and, for Vipps, a fresh date and
// signature), and answers the delivery (200); a pending or failed one the
// receiver takes becomes delivered. Unknown id: 404 {"error"}. Deliveries
// survive a restart (pending retries resume); reset forgets them.
//
// Two providers add control routes of their own: package klarna answers
// POST /control/klarna/sessions/{session_id}/authorize (what the widget does
// when the customer approves) and POST
// /control/klarna/orders/{order_id}/fraud (a fraud review ending, which
// sends the pending-order notification), and package klarnasignin answers
// POST /control/klarna/login/revoke (a customer taking back every Sign in
// with Klarna grant of an identity).
package control
