// altpay-checkout.js: the shop's own small client for Alternative Payments'
// checkout API, speaking the protocol of the provider's browser SDK
// (@getalternative/partner-sdk, which is not licensed for use and is not
// copied here). No dependencies; an ES module.
//
//   import { create, AccessTokenExpiredError } from "/static/js/altpay-checkout.js";
//   const client = create({
//     accessToken,                 // the checkout JWT the shop minted (required)
//     baseUrl,                     // e.g. https://public-api.demo.alternativepayments.io
//     onAccessTokenExpired,        // async () => newToken; optional
//     timeout: 30000, retries: 3,  // per attempt; retries for 5xx, 429 and network errors
//     invoiceId,                   // optional: sent as ?invoice_id= so the API can refuse another invoice
//   });
//   await client.getInvoice();
//
// Token expiry: on the first 401 of a request the client awaits
// onAccessTokenExpired(), swaps the token and repeats that request once (not
// counted as a retry). Requests that hit 401 together share one callback call.
// With no callback, a failing callback, or a second 401, the request throws
// AccessTokenExpiredError (statusCode 401).

const DEFAULT_EXPIRED_MESSAGE = "Access token has expired. Please provide a new token.";
const MAX_RETRY_AFTER_MS = 60_000;

/** The base of every error the client throws. */
export class AlternativeError extends Error {
  constructor(message, { statusCode = 0, code = "", details = undefined, cause = undefined } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "AlternativeError";
    this.statusCode = statusCode;
    this.code = code;
    this.details = details;
  }
}

/** 400: the request was refused; details maps fields to messages. */
export class ValidationError extends AlternativeError {
  constructor(message, opts) { super(message, { statusCode: 400, ...opts }); this.name = "ValidationError"; }
}

/** 401 that a new token did not (or could not) cure. */
export class AccessTokenExpiredError extends AlternativeError {
  constructor(message = DEFAULT_EXPIRED_MESSAGE, opts) {
    super(message, { ...opts, statusCode: 401 });
    this.name = "AccessTokenExpiredError";
  }
}

/** 403: the token is not allowed to do this (another invoice or customer). */
export class ForbiddenError extends AlternativeError {
  constructor(message, opts) { super(message, { statusCode: 403, ...opts }); this.name = "ForbiddenError"; }
}

/** 404. */
export class NotFoundError extends AlternativeError {
  constructor(message, opts) { super(message, { statusCode: 404, ...opts }); this.name = "NotFoundError"; }
}

/** 429; retryAfter is the server's Retry-After in seconds, when it sent one. */
export class RateLimitError extends AlternativeError {
  constructor(message, { retryAfter, ...opts } = {}) {
    super(message, { statusCode: 429, ...opts });
    this.name = "RateLimitError";
    this.retryAfter = retryAfter;
  }
}

/** 5xx. */
export class ServerError extends AlternativeError {
  constructor(message, opts) { super(message, opts); this.name = "ServerError"; }
}

/** No answer within the timeout. */
export class TimeoutError extends AlternativeError {
  constructor(message = "The request timed out.", opts) { super(message, opts); this.name = "TimeoutError"; }
}

/** The request did not reach the server, or its answer did not come back. */
export class NetworkError extends AlternativeError {
  constructor(message = "Network error: the payment service could not be reached.", opts) { super(message, opts); this.name = "NetworkError"; }
}

const defaultSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Returns a checkout client. fetch and sleep may be replaced (tests).
 */
export function create({
  accessToken,
  baseUrl,
  onAccessTokenExpired,
  timeout = 30_000,
  retries = 3,
  invoiceId,
  fetch: fetchImpl = globalThis.fetch?.bind(globalThis),
  sleep = defaultSleep,
} = {}) {
  if (typeof accessToken !== "string" || accessToken === "") throw new TypeError("create: accessToken is required");
  if (typeof baseUrl !== "string" || baseUrl === "") throw new TypeError("create: baseUrl is required");
  if (onAccessTokenExpired !== undefined && typeof onAccessTokenExpired !== "function") {
    throw new TypeError("create: onAccessTokenExpired must be a function");
  }
  const base = baseUrl.replace(/\/+$/, "");
  let token = accessToken;
  let refreshing = null; // the one pending onAccessTokenExpired call

  // renew replaces the token that got a 401. When another request already
  // renewed it, there is nothing to do; when a renewal is under way, wait for
  // it. Only one onAccessTokenExpired call runs at a time.
  function renew(staleToken) {
    if (token !== staleToken) return Promise.resolve();
    if (!onAccessTokenExpired) return Promise.reject(new AccessTokenExpiredError());
    if (!refreshing) {
      refreshing = (async () => {
        try {
          const next = await onAccessTokenExpired();
          if (typeof next !== "string" || next === "") throw new TypeError("onAccessTokenExpired did not return a token");
          token = next;
        } catch (cause) {
          throw new AccessTokenExpiredError(undefined, { cause });
        } finally {
          refreshing = null;
        }
      })();
    }
    return refreshing;
  }

  function url(path) {
    const u = `${base}/checkout${path}`;
    return invoiceId ? `${u}${u.includes("?") ? "&" : "?"}invoice_id=${encodeURIComponent(invoiceId)}` : u;
  }

  async function attempt(method, path, body, headers) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; controller.abort(); }, timeout);
    const sentWith = token;
    try {
      const init = {
        method,
        headers: { Accept: "application/json", Authorization: `Bearer ${sentWith}`, ...headers },
        signal: controller.signal,
      };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const res = await fetchImpl(url(path), init);
      const text = await res.text();
      return { res, text, sentWith };
    } catch (cause) {
      if (timedOut) throw new TimeoutError(undefined, { cause });
      throw new NetworkError(undefined, { cause });
    } finally {
      clearTimeout(timer);
    }
  }

  async function request(method, path, { body, headers = {} } = {}) {
    let renewed = false;
    for (let n = 0; ; ) {
      let outcome;
      try {
        outcome = await attempt(method, path, body, headers);
      } catch (err) {
        if (n >= retries) throw err;
        await sleep(backoff(n));
        n++;
        continue;
      }
      const { res, text, sentWith } = outcome;
      if (res.status === 401) {
        if (renewed) throw errorFrom(res, text);
        renewed = true;
        await renew(sentWith); // throws AccessTokenExpiredError when it cannot
        continue;
      }
      if (res.ok) return parseReply(res, text);
      const err = errorFrom(res, text);
      const retryable = res.status === 429 || res.status >= 500;
      if (!retryable || n >= retries) throw err;
      let wait = backoff(n);
      if (err instanceof RateLimitError && err.retryAfter !== undefined) wait = Math.min(err.retryAfter * 1000, MAX_RETRY_AFTER_MS);
      await sleep(wait);
      n++;
    }
  }

  return {
    /** Replaces the checkout token (e.g. after the page minted a new one itself). */
    setAccessToken(next) { token = next; },
    /** GET /checkout/preferences/theme → {partner_name, theme?} */
    getTheme: () => request("GET", "/preferences/theme"),
    /** GET /checkout/invoice → Invoice */
    getInvoice: () => request("GET", "/invoice"),
    /** GET /checkout/payment-methods → PaymentMethod[] */
    listPaymentMethods: async () => (await request("GET", "/payment-methods")).data,
    /** POST /checkout/payment-methods/card → PaymentMethod */
    addCard: ({ cardProviderToken, address, provider = "evervault" }) =>
      request("POST", "/payment-methods/card", { body: { card_provider_token: cardProviderToken, provider, address } }),
    /** POST /checkout/payment-methods/bank → PaymentMethod (account is the API's body) */
    addBankAccount: (account) => request("POST", "/payment-methods/bank", { body: account }),
    /**
     * POST /checkout/payments → {status, message}. The Idempotency-Key is made
     * once per call, in the SDK's form, and sent on every retry of it; pass
     * idempotencyKey to reuse one across calls (a person pressing Pay again
     * after an error).
     */
    createPayment({ amount, paymentMethodId, paymentMethod, paymentDate = new Date().toISOString(), idempotencyKey }) {
      const key = idempotencyKey || `payment-${invoiceId || "invoice"}-${paymentMethodId}-${amount}-${Date.now()}`;
      return request("POST", "/payments", {
        headers: { "Idempotency-Key": key },
        body: { amount: String(amount), payment_date: paymentDate, payment_method: paymentMethod, payment_method_id: paymentMethodId },
      });
    },
  };
}

/** 1 s, 2 s, 4 s, ... before retry n+1. */
export function backoff(n) {
  return 1000 * 2 ** n;
}

function parseReply(res, text) {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new AlternativeError("The payment service sent an unreadable reply.", { statusCode: res.status, cause });
  }
}

function errorFrom(res, text) {
  let body = {};
  try { body = text ? JSON.parse(text) : {}; } catch { body = {}; }
  const message = body.message || body.error || res.statusText || `HTTP ${res.status}`;
  const opts = { code: body.code || "", details: body.validation_errors || body.details };
  switch (true) {
    case res.status === 400: return new ValidationError(message, opts);
    case res.status === 401: return new AccessTokenExpiredError(undefined, opts);
    case res.status === 403: return new ForbiddenError(message, opts);
    case res.status === 404: return new NotFoundError(message, opts);
    case res.status === 429: return new RateLimitError(message, { ...opts, retryAfter: retryAfter(res.headers.get("Retry-After")) });
    case res.status >= 500: return new ServerError(message, { ...opts, statusCode: res.status });
    default: return new AlternativeError(message, { ...opts, statusCode: res.status });
  }
}

// retryAfter reads Retry-After as seconds or an HTTP date.
function retryAfter(v) {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
