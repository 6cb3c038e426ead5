// Package vipps is the shop's client for Vipps MobilePay: the Access Token API
// (one token per process, shared by every caller) and the ePayment API v1
// (create, get, events, capture, cancel, refund, and the test-only approve),
// and the Webhooks API with the check of a delivery's signature.
// It never imports the sandbox (web/sandbox/vipps): each side implements the
// documented contract on its own, and the tests hold both to the documented
// JSON examples in testdata/.
//
// # Access token
//
// POST /accesstoken/get has no body: the sales unit's client_id,
// client_secret and Ocp-Apim-Subscription-Key go in headers, together with
// Merchant-Serial-Number and the four Vipps-System-* headers (at most 30
// characters each) that Vipps uses to find a merchant's calls in its logs.
// The answer's numbers are JSON strings ("expires_in": "3600", "expires_on"
// in epoch seconds); flexInt reads a string or a number. A token lives 1 hour
// in the test environment and 24 hours in production, and several can be
// valid at once, so the cache may drop a refused token while another request
// still holds it. Every ePayment call carries Authorization: Bearer <token>
// (without the word Bearer Vipps answers 401) plus the subscription key and
// the MSN.
// https://developer.vippsmobilepay.com/docs/APIs/access-token-api/standard-authentication
// https://developer.vippsmobilepay.com/api/access-token
//
// # Endpoints
//
// Test environment https://apitest.vipps.no, production https://api.vipps.no.
// POST /epayment/v1/payments (201); GET /epayment/v1/payments/{reference} and
// .../events; POST .../{reference}/capture, /cancel and /refund; and, in the
// test environment only, POST /epayment/v1/test/payments/{reference}/approve
// (an older page shows it without /test).
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/operations/create
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/operations/capture.md
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/operations/force-approve
//
// # Idempotency and timeouts
//
// Create, capture, cancel and refund take an Idempotency-Key header. The
// shop derives each from the payment attempt's stored key (OperationKey), so
// every retry, in this process or after a restart, sends the same key with
// the same body. The 50-character limit is the ePayment OpenAPI v1.4.1's; how
// long Vipps remembers a key is not documented. The ePayment FAQ lists
// idempotency conflicts (a key already used) among the domain errors. A
// customer has 10
// minutes to approve a payment request, and a merchant should wait that long
// before giving up on it.
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/faq
// https://developer.vippsmobilepay.com/docs/knowledge-base/timeouts
//
// # Errors
//
// ePayment errors are RFC 7807 application/problem+json: type, title, status,
// detail, instance, traceId and extraDetails [{name, reason}]. A domain error
// carries a number in extraDetails under the name ErrorCode (6080: capture
// before the customer approved; 5040: a currency the sales unit does not
// take; 4070: an invalid phone number); a 400 for malformed fields names the
// fields and has no ErrorCode. Error keeps traceId for Vipps's support, and
// Code() gives the ErrorCode: the shop keys on status and code, never on the
// title, because "the title and details may be updated over time".
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/errors
//
// status is documented both ways: a number in the ePayment OpenAPI and the
// errors page ("status": 400), a string in the knowledge base's common error
// format ("status": "400",
// https://developer.vippsmobilepay.com/docs/knowledge-base/errors). An int
// field would have failed the whole decode on the string and lost title,
// traceId and extraDetails with it; ProblemStatus reads either, and a value it
// cannot read is replaced by the response's own status. 401, 403, 422 and 429
// may come from the Azure gateway as {statusCode, message}, and a wrong
// client_id or secret as a Microsoft Entra ID OAuth error; Vipps's docs do not
// show those bodies. Create, capture, cancel and refund allow 5 calls a
// minute per reference and MSN.
//
// # Money, markets and phone numbers
//
// An Amount is {currency, value}, value an integer in minor units (øre,
// cent). The currency must be that of the country the sales unit is
// registered in: NOK in Norway, DKK in Denmark, EUR in Finland
// (https://developer.vippsmobilepay.com/docs/knowledge-base/across-borders);
// another one is refused with 400 and ErrorCode 5040 ("Invalid currency for
// merchant"). The client sends the currency it is given; the shop gives the
// order's own, so only a market whose currency is the sales unit's may offer
// Vipps MobilePay. Test users belong to the sales unit's market too
// (https://developer.vippsmobilepay.com/docs/knowledge-base/test-environment).
//
// Phone numbers are MSISDNs: country code and number, digits only
// ("(+47) 91 23 45 67" is 4791234567). The OpenAPI says the number "is
// optional and should only be sent if it is already known. Users should never
// be asked for the phone number": on a phone the app opens, elsewhere Vipps's
// landing page asks for it
// (https://developer.vippsmobilepay.com/docs/knowledge-base/landing-page). So
// the shop sends no customer at all, and this package offers no helper to
// turn a typed number into an MSISDN. A merchant that does know the number
// (and the customer's consent) may send it in Customer.
//
// A reference is unique per MSN and case-sensitive: the OpenAPI v1.4.1 allows
// 8-50 of [a-zA-Z0-9-], the current docs 8-64, and the shop keeps to 50. The
// Merchant-Serial-Number is digits: ^[0-9]{4,6}$ in the v1.4.1 file,
// ^[0-9]{4,7}$ in the current reference as far as could be checked (see the
// sandbox's doc); the client sends the configured MSN as it is.
// https://developer.vippsmobilepay.com/docs/knowledge-base/orderid
//
// # Cancel
//
// Cancel before the customer authorized TERMINATES the payment, and its
// answer counts the whole amount as cancelled (cancelledAmount = amount,
// authorizedAmount 0); after authorization it releases what is not captured
// and the state stays AUTHORIZED.
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/operations/cancel
//
// # Webhooks
//
// Instead of asking GET payment again and again, a merchant can have Vipps
// post each ePayment event to a URL of its own. The Webhooks API v1 (test
// https://apitest.vipps.no/webhooks, production https://api.vipps.no/webhooks;
// the same token and headers as ePayment, the MSN optional but recommended)
// registers such a URL: POST /webhooks/v1/webhooks {url, events} answers 201
// {id, secret}, GET lists {webhooks: [{id, url, events}]} and DELETE
// .../{id} answers 204. The secret is in the register answer and nowhere
// else: a merchant that loses it deletes the registration and registers
// again. Register takes no Idempotency-Key, so the client sends it once
// (call.once) and the shop lists before it tries again. The eight ePayment
// types are epayments.payment.{created,aborted,expired,cancelled,captured,
// refunded,authorized,terminated}.v1; there may be 25 registrations per
// type and sales unit (an older OpenAPI said 5), and Vipps removes one that
// has not answered for two weeks.
// https://developer.vippsmobilepay.com/docs/APIs/webhooks-api/api-guide/
// https://developer.vippsmobilepay.com/docs/APIs/webhooks-api/events
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/features/webhooks
//
// A delivery is a POST of a WebhookEvent (msn, reference, pspReference,
// name, amount, timestamp, success and, not always, idempotencyKey) signed
// with the secret. VerifyWebhook follows the request-authentication page
// to the letter: the body's base64 SHA-256 must be x-ms-content-sha256;
// then the whole Authorization header must be "HMAC-SHA256
// SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" plus the
// base64 HMAC-SHA256, keyed with the secret's UTF-8 bytes (not decoded), of
// "POST\n<path and query>\n<x-ms-date>;<host>;<hash>", where path, query
// and host are the registered URL's. The tests reproduce the page's own
// example. Vipps names no window for x-ms-date; the shop takes five minutes
// either way (WebhookMaxSkew), which stops a replayed delivery and costs
// nothing, since Vipps dates every retry anew.
// https://developer.vippsmobilepay.com/docs/APIs/webhooks-api/request-authentication/
//
// Any answer but 2xx is retried, with backoff, for up to 7 days; a payment's
// later events wait until its earlier ones were accepted; the same event may
// come twice. So a receiver stores each event (keyed on pspReference and
// name), answers at once, and keeps polling as a fallback for events that
// never come. https://developer.vippsmobilepay.com/docs/APIs/webhooks-api/faq/
//
// # Where providers.md and the OpenAPI file disagree with the docs
//
//   - providers.md lists the domain codes 4020 (reference exists), 4150
//     (reference reused), 5040 (currency/market), 6050/6190 (already
//     cancelled), 6220 as "unverified". The error table says 4020 is
//     "Idempotency error" (a key already used), 4150 a reference that
//     already exists, 6050 "Cannot cancel a non-reserved payment" and 6220
//     "Refund period expired"; 5040 is "Invalid currency for merchant".
//   - The OpenAPI v1.4.1 gives Problem.status as an integer and lists neither
//     instance nor extraDetails; the knowledge base shows status as a string
//     and every example carries both.
//   - The OpenAPI v1.4.1 gives the MSN as 4-6 digits; the current reference,
//     4-7 (unconfirmed here, see above).
package vipps
