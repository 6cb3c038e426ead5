// Package altpay emulates Alternative Payments' demo environment
// (https://public-api.demo.alternativepayments.io) below /altpay:
//
//   - the OAuth2 client-credentials token endpoint, POST /oauth/token, with the
//     client id and secret in Basic auth (403 "Invalid credentials" when they
//     are wrong; no refresh token);
//   - the partner API the shop's server calls with that token: customers,
//     invoices (create, read, list), and POST /v1/checkout-auth/init, which mints a short-lived
//     checkout JWT scoped to one customer and one invoice;
//   - the checkout API the browser calls with the checkout JWT (the
//     invoice, payment methods, payments), which answers 401 once the token
//     expired so the page can ask the shop for a new one
//     (onAccessTokenExpired) and retry.
//
// It follows Alternative Payments' public documentation:
//   - environments and base URLs: https://docs.alternativepayments.io/getting-started/quick-start
//   - OAuth: https://docs.alternativepayments.io/api-reference/oauth
//   - the web SDK's token flow: https://docs.alternativepayments.io/web-sdk/authentication
//   - customers and invoices: https://docs.alternativepayments.io/api-reference/customers,
//     https://docs.alternativepayments.io/api-reference/invoices,
//     https://docs.alternativepayments.io/invoices
//   - errors and limits: https://docs.alternativepayments.io/getting-started/troubleshooting,
//     https://docs.alternativepayments.io/getting-started/faq
//   - the checkout endpoints the browser SDK calls, as its published package
//     shows them: https://www.npmjs.com/package/@getalternative/partner-sdk
//
// Where the documentation says nothing or sources disagree, the choice is
// written next to the code; the shop's client (web/altpay) makes the same
// choices on its own and is never imported here.
//
// What the documentation says, read again on 2026-12-01, and what the
// sandbox does with it:
//   - Invoice currency: the API reference's create body has currency as an
//     enum whose only value is USD
//     (https://docs.alternativepayments.io/invoices,
//     https://docs.alternativepayments.io/api-reference/invoices). The
//     sandbox invoices in USD only; another currency is refused with 422
//     and the HttpError body {code, message, validation_errors: {currency:
//     ...}}: the troubleshooting page lists "422 Validation Exception" for a
//     business-rule failure such as an unsupported currency, and the
//     invoices reference lists 400 and 422 for POST /invoices
//     (https://docs.alternativepayments.io/getting-started/troubleshooting).
//     A missing or malformed field stays 400 with the same body. The docs
//     give no example error body, so the code strings ("bad_request",
//     "unprocessable_entity") are the sandbox's. The web SDK's
//     addPaymentMethod takes currency usd or cad: that is a payment
//     method's, not an invoice's. (This sandbox accepted USD, CAD and EUR
//     before; reference/providers.md shows only the USD example.)
//   - POST /invoices is documented with the body {currency, customer_id,
//     due_date, line_items [{amount, description, quantity}]} and no
//     idempotency: no Idempotency-Key header, no field the shop sets to its
//     own reference (customers have external_id, invoices have none). The
//     sandbox makes a new invoice on every call. The Invoice the API answers
//     has memo; the create body does not list it. The sandbox keeps a memo
//     sent on create (INFERENCE), and the shop puts its reference there.
//   - GET /invoices (listInvoices) pages by cursor (limit, default 100;
//     after; before) and filters by customer_id, status, created_at_start,
//     created_at_end, due_date_start and due_date_end (RFC 3339), all
//     served. It has no filter on memo or on any reference of the caller.
//     The reference's answer, PaginatedResponse-Invoice, has data,
//     end_cursor, start_cursor, has_next_page and has_previous_page at the
//     top level; the quick-start guide shows list answers (GET /customers)
//     with has_next_page and end_cursor nested under "pagination", end_cursor
//     null on the last page
//     (https://docs.alternativepayments.io/getting-started/quick-start/guides).
//     The sandbox answers in the reference's shape; the shop's client reads
//     both.
//   - The glossary calls amount the "smallest currency unit" but gives
//     "100" = $100 as its example; the invoice examples use 19.9-like
//     numbers. The sandbox keeps decimal major units (below).
//
// # Webhooks
//
// Documented (https://docs.alternativepayments.io/getting-started/webhooks,
// https://docs.alternativepayments.io/api-reference/webhooks, read on
// 2026-12-01), and served with the partner API's OAuth token:
//   - POST /webhooks {endpoint_url, secret_key, topic}: endpoint_url (HTTPS)
//     and topic required, secret_key optional, one topic per subscription
//     from the WebhookTopic enum; 201 WebhookSubscription {created_at,
//     endpoint_url, id, is_active, partner_id, secret_last_4_digits, topic,
//     updated_at}; errors 400 and 422.
//   - GET /webhooks?limit=&after=&before=&topic=&is_active= (limit default
//     100): PaginatedResponse-WebhookSubscription, cursors at the top level.
//   - DELETE /webhooks/{subscription_id}: 200 with the subscription; 400, 404.
//   - "If you provide a secret_key, all webhook requests to your endpoint
//     will include it in the Authorization header as a Bearer token": no
//     signature, no HMAC.
//
// Not served: GET /webhooks/events (the event log; its filter names are
// not all documented). Operations: altpay.create_webhook,
// altpay.list_webhooks, altpay.delete_webhook, and the delivery operation
// altpay.webhook_delivery (faults drop, delay, duplicate or reorder its
// attempts; GET /control/deliveries lists them; replay resends).
//
// NOT FOUND in the docs, and the sandbox's choices (webhooks.go):
//   - The delivered body. The sandbox POSTs application/json
//     {"id": "evt_...", "topic": "invoice_paid", "created_at": ..., "data":
//     <the invoice as GET /invoices/{id} answers it>}. A receiver must not
//     rely on this shape: the shop reads data.id and asks for the invoice.
//   - Which events fire: only invoice_paid, when a checkout payment pays
//     an invoice. The other topics can be subscribed to and never fire.
//   - Retries: any 2xx is taken; anything else, no answer within 10 s or
//     no connection is retried after 30 s, 1 min, 5 min, 15 min, then
//     hourly, for 3 days after the event, on the sandbox clock.
//   - The same endpoint_url and topic may be subscribed twice (two
//     subscriptions, two deliveries per event); validation codes as for
//     invoices: a missing field 400, a topic outside the enum or an
//     endpoint_url that is not HTTPS 422 (plain http is taken on the
//     shop's own configured origin only, as a shop run locally has no TLS).
//
// Choices that hold for the whole package:
//   - Amounts are decimal major units (19.90), JSON numbers on invoices and a
//     string on payments (the SDK sends amount:"<string>"). The docs do not
//     say the unit clearly (see above; one third-party client uses dollars);
//     at most two decimals are accepted.
//   - Error bodies are the API reference's HttpError {code, message,
//     validation_errors} everywhere, the OAuth endpoint included (its 403
//     "Invalid credentials" text is documented, its body shape is not).
package altpay
