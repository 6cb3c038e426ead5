// Package altpay is the shop's client for Alternative Payments' partner API:
// the OAuth2 client-credentials token (one per process, see TokenSource),
// customers, invoices, and the short-lived checkout tokens with which the
// browser snippet (static/js/altpay-checkout.js) pays an invoice. It never
// imports the sandbox (web/sandbox/altpay): each side implements the
// documented contract on its own, and the tests hold both to the documented
// JSON examples in testdata/.
//
// # Hosts
//
// Demo https://public-api.demo.alternativepayments.io, production
// https://public-api.alternativepayments.io. Credentials and tokens belong to
// one environment: a demo token is refused in production and the reverse.
// https://docs.alternativepayments.io/getting-started/quick-start
//
// # OAuth token
//
// POST /oauth/token with Authorization: Basic base64(client_id:client_secret)
// and the form body grant_type=client_credentials: the only grant, with no
// refresh token. The answer is {access_token, expires_in, token_type
// "bearer"}, expires_in a number (3600 seconds today); wrong credentials get
// 403 "Invalid credentials". The token goes in Authorization: Bearer on every
// partner call. The client renews it a minute before it expires (a fifth of
// a shorter lifetime), on the injected clock, and once more when a call
// answers 401.
// https://docs.alternativepayments.io/oauth
//
// # Checkout token
//
// With the OAuth token the server calls POST /v1/checkout-auth/init for one
// customer and one invoice and gets a JWT for the browser, so the client
// secret never leaves the server. The checkout SDK sends that JWT as a Bearer
// token; when it expires the SDK calls onAccessTokenExpired for a new one
// (the shop's POST /api/altpay/invoices/{id}/token) and, without that
// callback, throws AccessTokenExpiredError. The docs do not show the body
// {customer_id, invoice_id} or the answer {token, expires_at} (they come from
// the SDK's README), nor the token's lifetime (the sandbox gives 15 minutes).
// A third-party client reports the live path has no /v1; CheckoutToken tries
// that path after a 404.
// https://docs.alternativepayments.io/web-sdk/authentication
// https://docs.alternativepayments.io/api-reference/checkout
//
// # Customers and invoices
//
// POST /customers {email, external_id, name} answers 201; external_id is
// documented as "your internal reference ID". GET /customers pages by cursor
// (limit, after) and filters by company_name and creation date, not by
// external_id, so FindCustomerByExternalID walks it.
// https://docs.alternativepayments.io/customers
//
// POST /invoices is documented with the body {currency, customer_id,
// due_date YYYY-MM-DD, line_items [{amount, description, quantity}]} and
// answers 201 with the Invoice, or 400 Bad Request or 422 Unprocessable
// Entity. GET /invoices/{id} gives the status and totals. Nothing documents
// POST /invoices as idempotent: no Idempotency-Key header and no field of
// the caller's own on an invoice (customers have external_id; invoices have
// none, and the list cannot filter on one). The Invoice the API answers has
// a memo, which the documented create body does not list; the shop sends its
// reference (its order number) there. So CreateInvoice is sent once, never
// retried (OutcomeUnknown says when a timeout, a lost answer or a 5xx leaves
// open whether the invoice was made), and the shop, before it creates again,
// looks for the invoice with FindInvoices: the documented filters
// (customer_id, and created_at_start a margin before it first asked), and
// its reference in the memo, or, should the API drop memos, the documented
// content of its request (web/altpay_checkout.go). Archived invoices never
// match. An empty list right after an unknown outcome proves nothing (a
// slow provider may still commit the request), so the shop creates again
// only once the lookup has found nothing for a quiet period after the last
// create was sent (altpayQuietPeriod, 5 minutes); a refused lookup, or a
// refused create after an earlier unknown one, leaves the outcome unknown.
//
// The content match is ambiguous: two orders of one customer with the same
// lines, due the same day, ask for identical invoices, and a memo-less
// invoice matches both. The shop skips an invoice another of its orders has
// recorded (also when that order records it between the lookup and the
// record: the invoice id is unique in the shop), so each order keeps at most
// one; but it may pick the other order's invoice while that order's own
// create is still unanswered, and that order then finds nothing and, after
// the quiet period, creates another. Nobody pays twice for one order, but
// which invoice belongs to which order is then a guess; with memos kept (as
// the sandbox does) the reference settles it.
// https://docs.alternativepayments.io/invoices
// https://docs.alternativepayments.io/api-reference/invoices
//
// # Lists
//
// GET /invoices takes limit (default 100), after, before, customer_id,
// status, created_at_start, created_at_end, due_date_start and due_date_end
// (RFC 3339). Its answer in the API reference (PaginatedResponse-Invoice)
// has the cursor fields at the top level: {data, end_cursor, start_cursor,
// has_next_page, has_previous_page}. The quick-start guide shows list
// answers (its GET /customers example) with them nested instead: {data,
// pagination: {has_next_page, end_cursor}}, end_cursor null on the last
// page. Page reads both, for every list.
// https://docs.alternativepayments.io/getting-started/quick-start/guides
//
// # Money and currency
//
// Amounts are JSON numbers. The docs do not say clearly that they are major
// units (19.90 for 1990 cents): the glossary calls amount the "smallest
// currency unit" yet gives "100" = $100 USD as its example; one third-party
// client reads them as dollars, and so does Decimal, which also reads a
// numeric string. The invoice currency is documented as an enum whose only
// value is USD; another currency is refused with 422 and the field named in
// validation_errors (the troubleshooting page's "422 Validation Exception":
// a business-rule failure such as an unsupported currency). The client sends
// the currency it is given: the shop sends its order's currency, and offers
// pay by invoice only in its United States market (USD).
// reference/providers.md shows the USD example only; the sandbox accepted
// USD, CAD and EUR before, which the real API would not.
// https://docs.alternativepayments.io/api-reference/invoices
// https://docs.alternativepayments.io/getting-started/troubleshooting
//
// # Webhooks
//
// POST /webhooks {endpoint_url, secret_key, topic} subscribes one HTTPS
// endpoint to one topic (invoice_paid: "Confirms the invoice has been fully
// paid"); secret_key is optional and ours to choose, and "all webhook
// requests to your endpoint will include it in the Authorization header as
// a Bearer token". Nothing is signed (no HMAC): the secret is a shared
// password, compared in constant time. The answer is the
// WebhookSubscription {created_at, endpoint_url, id, is_active, partner_id,
// secret_last_4_digits, topic, updated_at} (201; errors 400, 422); GET
// /webhooks (limit, after, before, topic, is_active) pages them like the
// other lists; DELETE /webhooks/{subscription_id} answers 200 with the
// subscription (404 when unknown).
// https://docs.alternativepayments.io/getting-started/webhooks
// https://docs.alternativepayments.io/webhooks
//
// NOT FOUND in the docs: the body a delivery carries, its retries, timeout
// and the answer expected, and whether a subscription is idempotent. So the
// shop reads nothing from a delivery but the invoice id (data.id) and asks
// GET /invoices/{id}; it answers 2xx once it has asked, and an error status
// while it could not (hoping for a retry; polling covers the rest);
// RegisterWebhook is sent once and a lost answer is settled by listing
// (FindWebhooks), so the shop never keeps two subscriptions for one URL.
//
// # Errors, limits and retries
//
// An error answer is {code, message, validation_errors: {field: message}}
// (HttpError), read into *Error with the X-Request-Id header; the docs show
// no example body, nor the code strings. A duplicate external_id is
// reported (by a third party, not the docs) to answer 400 "This external id
// is already used"; EnsureCustomer then finds the customer. The API allows
// 5 requests a second per API key and answers 429 beyond that. The client
// retries network errors and 5xx of every call but POST /invoices; a 4xx,
// 429 included, is returned at once. The FAQ's reference_id ("returned
// unchanged in all responses") belongs to Payment Requests, not invoices.
// https://docs.alternativepayments.io/getting-started/faq
package altpay
