// Package deliveries sends the events the emulated providers raise to the
// URLs the shop gave them, and keeps the log of every delivery and attempt.
// Each kind is a delivery operation of its own (control.DeliveryOperations),
// counted and faulted by that name:
//
//	vipps.webhook_delivery          Vipps MobilePay's webhook events, HMAC-signed with the registration's secret
//	altpay.webhook_delivery         Alternative Payments' invoice_paid events, with the subscription's secret_key as a bearer
//	klarna.authorization_callback   Klarna's authorization callback, to the session's merchant_urls.authorization
//	klarna.fraud_notification       Klarna's pending-order notification, to the order's merchant_urls.notification
//
// Klarna's two go by rules of their own (Register by operation) and are
// not signed: the URL the shop gave with the session or the order carries
// its one-time token.
//
// A provider hands the engine a Delivery (Enqueue): what event, about what
// (Ref: a payment reference, an invoice, an order), for which registration
// (Target), to which URL, with which body. The engine stores it (its own
// table in the sandbox's file, so a restart resumes pending retries), and a
// worker sends it: a POST with the body, authenticated at send time by the
// provider's Signer (Vipps: a fresh date and signature on every attempt;
// Alternative Payments: the bearer), with a timeout per attempt. Any answer but
// 2xx (or what the provider's Accepts takes: Klarna stops at a 200), a
// redirect, a timeout or a connection error is a failure; the provider's
// Backoff and RetryFor say when to try again and when to give up. A
// provider whose receivers are authenticated by a secret in the URL
// (Klarna's one-time token) shows the URL redacted in the log
// (RedactURL).
//
// Everything runs on the sandbox clock: an attempt is due when the sandbox
// clock reaches its time, so moving the clock (POST /control/clock) makes
// due retries fire. RunDue sends everything due now and returns when done;
// the worker calls it when a delivery is enqueued, when the clock moves
// (Kick) and every second; tests call it directly, with no sleeps.
//
// Order: per registration and Ref, deliveries go one at a time, in the order
// they were raised; a delivery that keeps failing holds back the later ones
// for the same Ref (Vipps: "your server needs to accept all preceding
// requests for a given payment, before any new notifications can be received
// for the same payment").
//
// Faults (POST /control/faults with one of the delivery operations above)
// apply to the next scheduled attempts of that operation, one fault per
// attempt: lose_answer drops the attempt (logged as
// dropped, retried per the schedule), delay postpones it on the sandbox
// clock, duplicate sends it twice, reorder holds it back until the next
// delivery of the operation has gone. Replays take no faults.
//
// The worker never holds a lock while it sends, and a provider's handler
// only stores and signals (Enqueue): no sandbox request waits for a
// receiver.
package deliveries
