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
// POST /customers {email, external_id, name} answers 201. GET /customers pages
// by cursor (limit, after; the answer's end_cursor and has_next_page) and has
// no external_id filter, so FindCustomerByExternalID walks it. POST /invoices
// {currency, customer_id, due_date YYYY-MM-DD, line_items [{amount,
// description, quantity}]} answers 201; GET /invoices/{id} gives the status
// and totals.
// https://docs.alternativepayments.io/customers
// https://docs.alternativepayments.io/invoices
//
// # Money and currency
//
// Amounts are JSON numbers. The docs do not say they are major units (19.90
// for 1990 cents); one third-party client reads them so, and so does Decimal,
// which also reads a numeric string. The invoice currency is documented as an
// enum whose only value is USD, with 400 or 422 for anything else. The client
// sends the currency it is given: the shop invoices in its own currency (EUR
// today), which the sandbox accepts and the real API would refuse; the
// currency per market is pending the markets work.
// https://docs.alternativepayments.io/api-reference/invoices
//
// # Errors, limits and idempotency
//
// An error answer is {code, message, validation_errors: {field: message}}
// (HttpError), read into *Error with the X-Request-Id header. A duplicate
// external_id is reported (by a third party, not the docs) to answer 400 "This
// external id is already used"; EnsureCustomer then finds the customer. The
// API allows 5 requests a second per API key and answers 429 beyond that; the
// client retries only network errors and 5xx. No idempotency header is
// documented for /customers or /invoices: the shop sends Idempotency-Key on
// create invoice anyway, stores the invoice id, and never creates a second.
// https://docs.alternativepayments.io/getting-started/faq
package altpay
