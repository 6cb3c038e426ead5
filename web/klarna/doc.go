// Package klarna is the shop's client for Klarna Payments v1, the Customer
// Token API v1 and Order Management v1: payment sessions (with account
// linking, intent buy_and_link), orders from an authorization the customer
// gave in Klarna's widget, the Customer Token API's calls on a token_id, and
// the placed order's capture, refund, cancel and authorization time. Sign in with Klarna is
// package klarnasignin; its access token reaches a session as
// Customer.KlarnaAccessToken. The customer token the shop keeps between
// orders is package klarna/link's.
//
// Every call uses HTTP Basic auth, sends an idempotency key on POST and PATCH
// (derived from the shop's payment attempt with IdempotencyKey, so a retry
// reuses it), retries network errors and 5xx a bounded number of times, and
// returns every failure as *Error with Klarna's correlation id.
//
// # Hosts, regions and credentials
//
// Each region has its own API host, and a credential belongs to one merchant
// account: Europe https://api.klarna.com, North America
// https://api-na.klarna.com, Oceania https://api-oc.klarna.com; the test
// environment ("playground") adds ".playground"
// (https://api.playground.klarna.com, https://api-na.playground.klarna.com).
// The shop has one Client per region it sells in (Europe for Germany and
// Norway, North America for the United States, KLARNA_NA_*), and every call
// for an order goes to its market's region: session, order, reads, cancels,
// the sweep. The shop sends the credential's username and its API key as the
// password. Klarna's newer API keys may also be sent alone ("Basic <API
// key>"), which this client does not do. What a 401 body holds is not
// documented, so *Error falls back to the Klarna-Correlation-Id header.
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
// customer to approve again (NeedsReapproval, CartChanged). The token-order
// refusals are below.
//   - https://docs.klarna.com/api/errors
//   - https://docs.klarna.com/resources/error-details/errors-in-klarna-payments
//   - https://docs.klarna.com/kco/use-cases/place-order-token
//
// # Money and markets
//
// Amounts are integers in minor units. In Europe unit prices include VAT,
// every line carries tax_rate (two implied decimals: 1900 is 19%) and
// total_tax_amount, and order_tax_amount is the sum of the lines'
// total_tax_amount (Lines). In the United States Klarna's tax-handling guide
// asks for the tax as an order line of its own, type sales_tax, named "Tax"
// or "Sales Tax"; order_tax_amount is that line's total_amount, order_amount
// the sum of every line's total_amount, and no line carries tax_rate
// (USLines; the shop leaves out total_tax_amount with it). A purchase country
// takes only its own currency and a few locales (Germany: EUR with de-DE or
// en-DE; Norway: NOK with nb-NO or en-NO; the United States: USD with
// en-US).
//   - https://docs.klarna.com/klarna-payments/in-depth-knowledge/tax-handling/
//   - https://docs.klarna.com/klarna-payments/before-you-start/data-requirements/puchase-countries-currencies-locales
//
// # Payment method categories and the JS SDK
//
// A session's answer lists payment_method_categories ({identifier, name,
// asset_urls}; identifiers such as klarna, pay_now, pay_later,
// pay_over_time); which ones depends on the market, the merchant account and
// the amount. The browser runs Klarna.Payments.init({client_token}), then
// load({container, payment_method_category}) for the category the customer
// picks (answer {show_form}: false means Klarna cannot offer it), and
// authorize({payment_method_category}, data, callback) for the same one; an
// approved answer carries the authorization_token the shop places the order
// with within 60 minutes. The shop lists the session's categories by
// Klarna's names and hard-codes none. An update of a session answers 204
// without a body, so the shop reads the session for its categories.
//   - https://docs.klarna.com/klarna-payments/in-depth-knowledge/klarna-payments-sdk-reference
//   - https://docs.klarna.com/klarna-payments/in-depth-knowledge/payment-method-grouping/
//
// # Two kinds of customer token
//
// Account linking: a session with intent buy_and_link ("to both complete a
// payment and link or refresh the customer token") carries the stored
// customer_token (krn:partner:<region>:<env>:identity:customer-token:<id>)
// in its customer object, so Klarna skips its login and the widget opens
// ready to buy. The create-order answer may carry a new token (rotated, or
// the old one was invalid) or none (the customer opted out); the latest one
// is the one to keep. The guide shows the token at the top level of the
// answer, in a sample only. That is what "Buy again" uses: a new session
// carrying the linked token, the customer present, one click to approve.
//
// The Customer Token API's token is another one: token_id, which Klarna
// mints with POST /payments/v1/authorizations/{authorizationToken}/customer-token
// after a session with intent tokenize or buy_and_tokenize, the customer
// agreeing to be charged later; POST /customer-token/v1/tokens/{token_id}/order
// charges it server to server. Its documented refusals: 404 TOKEN_NOT_FOUND;
// 403 TOKEN_SUSPENDED, TOKEN_CANCELLED, TOKEN_FORBIDDEN (TokenGone);
// 403 UNAVAILABLE_PAYMENT_METHOD, whose documented answer with the customer
// present is a fallback: a new session (intent buy) in the widget
// (TokenOrderFallback); 403 PAYMENT_METHOD_FAILED and 503, which may be tried
// again (TokenOrderRetryable); 403 PAYMENT_METHOD_CURRENCY_MISMATCH.
//
// Klarna documents no endpoint that charges the account-linking
// customer_token server to server, nor one in the Payments or Customer Token
// API that reads or cancels it: its guide manages it only through sessions
// and order answers (the newer Identity API mentions reading and revoking an
// account-linking token, with another kind of credential; its paths are not
// in the pages found). So the shop charges it nowhere and does not ask about
// it before a session (a token Klarna no longer accepts only brings back its
// login, and the order's answer brings a new token). Two calls still send it
// to the Customer Token API, neither documented for it: Unlink (PATCH status
// CANCELLED; a 404 counts as already gone) and, when two orders of one user
// finish at once, the keeper's check of which token still works
// (klarna/link). The shop mints no token_id today.
//   - https://docs.klarna.com/payments/web-payments/additional-resources/use-cases/account-linking
//   - https://docs.klarna.com/klarna-payments/api-call-descriptions/create-customer-token/
//   - https://docs.klarna.com/kco/use-cases/place-order-token
//   - https://docs.klarna.com/payments/web-payments/integrate-with-klarna-payments/tokenized-payments/handle-token-order-failure
//   - https://docs.klarna.com/klarna-payments/in-depth-knowledge/customer-token/
//
// # Order Management
//
// A placed order is captured, refunded, cancelled, extended and released
// through Order Management, on the order's region's Client (the same host
// and account as its Payments calls): GetOrder, Capture, Refund, Cancel,
// ExtendAuthorization, ReleaseRemaining. Each write takes the
// Klarna-Idempotency-Key the caller derived and stored for it (e.g.
// IdempotencyKey(shipment, "capture")), so a retry, the client's own or a
// later one, reuses it: Order Management answers a repeated key with the
// first result whatever the body ("only the key matters", for 24 hours).
// Capture and Refund return the id Klarna sends in the Capture-Id and
// Refund-Id headers of its 201 (no body), and send the caller's reference,
// which the order's captures and refunds show (the shop sends its
// operation's key, to recognize one whose answer was lost).
//
// The state rules: captures, full or partial, up to
// remaining_authorized_amount; refunds up to what was captured and not yet
// refunded; cancel only before any capture (after one, refund); the
// authorization lasts 28 days by default ("expires_at": "The order can only
// be captured until this time") and an extension adds the account's period
// from the day it is made, within 180 days of creation; release gives up
// what a partly captured order will not capture. Refusals are 403 with an
// error_code the shop switches on with IsRefused(err, code) (CAPTURE_NOT_ALLOWED,
// REFUND_NOT_ALLOWED, CANCEL_NOT_ALLOWED, NOT_ALLOWED), and Klarna's
// error_messages as a sentence in Reason(err) ("Order has previous captures.
// Cancel not possible."); an unknown order is 404 NO_SUCH_ORDER
// (IsNoSuchOrder). An order with fraud_status PENDING must not be shipped:
// Klarna's notification tells the outcome and GetOrder confirms it.
//   - https://docs.klarna.com/payments/after-payments/order-management/manage-orders-with-the-api/view-and-change-orders
//   - https://docs.klarna.com/payments/after-payments/order-management/manage-orders-with-the-api/capture-and-track-orders
//   - https://docs.klarna.com/payments/after-payments/order-management/manage-orders-with-the-api/refund-orders-and-manage-authorizations
//   - https://docs.klarna.com/payments/web-payments/additional-resources/use-cases/extended-authorization-expiration
//   - https://docs.klarna.com/resources/developer-tools/error-handling/error-codes-and-messages-for-order-management
//   - https://docs.klarna.com/payments/after-payments/order-management/more-actions/pending-orders
//
// # Endpoints
//
// POST /payments/v1/sessions; GET and POST /payments/v1/sessions/{id} (an
// update answers 204); POST /payments/v1/authorizations/{token}/order and
// DELETE /payments/v1/authorizations/{token}; GET
// /customer-token/v1/tokens/{token}, POST .../order and PATCH .../status
// (202); GET /ordermanagement/v1/orders/{order_id} and POST .../captures,
// .../refunds (201), .../cancel, .../extend-authorization-time,
// .../release-remaining-authorization (204). A session "stays open for 48 hours or until you place an order"
// (https://docs.klarna.com/klarna-payments/integrate-with-klarna-payments/step-1-initiate-a-payment/).
//   - https://docs.klarna.com/klarna-payments/integrate-with-klarna-payments/step-3-create-an-order
package klarna
