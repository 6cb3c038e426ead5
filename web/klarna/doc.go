// Package klarna is the shop's client for Klarna Payments v1 and the Customer
// Token API v1: payment sessions, orders from an authorization the customer
// gave in Klarna's widget, and orders and status changes with a customer
// token (account linking, intent buy_and_link). Sign in with Klarna is
// package klarnasignin; its access token reaches a session as
// Customer.KlarnaAccessToken. The customer token the shop keeps between
// orders is package klarna/link's.
//
// Every call uses HTTP Basic auth, sends an idempotency key on POST and PATCH
// (derived from the shop's payment attempt with IdempotencyKey, so a retry
// reuses it), retries network errors and 5xx a bounded number of times, and
// returns every failure as *Error with Klarna's correlation id.
//
// # Hosts and credentials
//
// Each region has its own API host, and a credential belongs to one merchant
// account: Europe https://api.klarna.com, North America
// https://api-na.klarna.com (a separate account, KLARNA_NA_*); the test
// environment adds ".playground" (https://api.playground.klarna.com). The
// shop sends the credential's username and its API key as the password.
// Klarna's newer API keys may also be sent alone ("Basic <API key>"), which
// this client does not do. What a 401 body holds is not documented, so
// *Error falls back to the Klarna-Correlation-Id header.
//   - https://docs.klarna.com/api/api-urls
//   - https://docs.klarna.com/api/authentication
//
// # Idempotency
//
// Klarna-Idempotency-Key is a UUID v5 that Klarna honours for 24 hours,
// answering a repeat with the first result. The retry-policy page promises
// this for Order Management only; the newer integration pages say every POST
// and PATCH. So a retried create order may find its authorization already
// used and answer 404 instead of the order: AnsweredEveryTry tells whether a
// try went unanswered, and the session's status (SessionComplete) whether
// an order was placed. Create
// session sends the header as Idempotency-Key, the name the account-linking
// guide's example uses.
//   - https://docs.klarna.com/api/escalation-and-retry-policy/
//   - https://docs.klarna.com/api/kn/integration-resilience
//
// # Errors
//
// An error answer is {correlation_id, error_code, error_messages}, the code in
// upper snake case. Those the shop acts on: 404 on create order (the
// authorization is unknown, used, cancelled or older than 60 minutes) and 409
// BAD_VALUE (the order no longer matches the approved session) ask the
// customer to approve again (NeedsReapproval, CartChanged); a customer-token
// call answers 404 for an unknown token and 403 TOKEN_CANCELLED or
// TOKEN_SUSPENDED for a dead one (TokenGone), while other 403s, such as
// PAYMENT_METHOD_CURRENCY_MISMATCH, leave the token alive.
//   - https://docs.klarna.com/api/errors
//   - https://docs.klarna.com/resources/error-details/errors-in-klarna-payments
//   - https://docs.klarna.com/kco/use-cases/place-order-token
//
// # Money and markets
//
// Amounts are integers in minor units with tax included; tax_rate has two
// implied decimals (1900 is 19%), and order_tax_amount is the sum of the
// lines' total_tax_amount (Lines keeps them in step). That is Europe's way: in
// the US Klarna wants tax as a sales_tax line of its own, which Lines does not
// do yet. A purchase country takes only its own currency and a few locales
// (Germany: EUR with de-DE or en-DE).
//   - https://docs.klarna.com/klarna-payments/in-depth-knowledge/tax-handling/
//   - https://docs.klarna.com/klarna-payments/before-you-start/data-requirements/puchase-countries-currencies-locales
//
// # Account linking and customer tokens
//
// A buy_and_link session carries the stored customer_token
// (krn:partner:...) in its customer object, so the widget opens ready to buy.
// The create-order answer may carry a new token (rotated, or linked afresh)
// or none (the customer opted out); the latest one is the one to keep. The
// guide shows the token at the top level of the answer, in a sample only.
// Klarna manages these tokens with its Identity API; that the Customer Token
// API v1 calls used here (read, order, PATCH status CANCELLED) accept them is
// not confirmed by Klarna's pages, only by the sandbox.
//   - https://docs.klarna.com/payments/web-payments/additional-resources/use-cases/account-linking
//   - https://docs.klarna.com/api/kn/klarna-product-api-identity/klarna-product-api-identity-v2-r6
//   - https://docs.klarna.com/klarna-payments/other-actions/cancel-a-customer-token/
//
// # Endpoints
//
// POST /payments/v1/sessions; GET and POST /payments/v1/sessions/{id} (an
// update answers 204); POST /payments/v1/authorizations/{token}/order and
// DELETE /payments/v1/authorizations/{token}; GET
// /customer-token/v1/tokens/{token}, POST .../order and PATCH .../status
// (202). A session lives 48 hours (the shop assumes so; Klarna's pages do
// not say).
//   - https://docs.klarna.com/klarna-payments/integrate-with-klarna-payments/step-3-create-an-order
package klarna
