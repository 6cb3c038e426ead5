// altpay-errors.js: what the invoice page (altpay-invoice.js) tells the
// customer when something fails. The provider's own error text is written for
// developers (and, when a proxy answers, is a bare HTTP title such as
// "Service Unavailable"), so the page shows a sentence of its own for each
// kind of failure instead; only the field messages of a refused form and a
// declined payment's reason come from the provider, because they tell the
// customer what to change.
import {
  AccessTokenExpiredError, ValidationError, ForbiddenError, NotFoundError, RateLimitError, ServerError,
  TimeoutError, NetworkError,
} from "./altpay-checkout.js";

/** An error answer from the shop's own token endpoint (its message is the shop's). */
export class ShopTokenError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ShopTokenError";
    this.status = status;
  }
}

/** The provider answered the payment with status "failed" (a declined card). */
export class PaymentFailed extends Error {
  constructor(message) {
    super(message);
    this.name = "PaymentFailed";
  }
}

const again = "Press Continue to try again; a payment is never made twice.";

/**
 * describe says what the page shows for err: text, whether Continue is
 * offered (canContinue), and the refused fields (field -> message).
 * @returns {{text: string, canContinue: boolean, fields: Record<string, string>}}
 */
export function describe(err) {
  const shop = err instanceof ShopTokenError ? err : err?.cause instanceof ShopTokenError ? err.cause : null;
  if (shop) {
    // After signing in again (401) or a hiccup (5xx), Continue can work.
    const text = shop.status === 401 ? `${shop.message} (Sign in in another tab, then press Continue.)` : shop.message;
    return { text, canContinue: shop.status === 401 || shop.status >= 500, fields: {} };
  }
  if (err instanceof AccessTokenExpiredError) {
    return { text: `Your payment session expired. ${err.name}: ${err.message} What you entered is kept: press Continue to carry on.`, canContinue: true, fields: {} };
  }
  if (err instanceof ValidationError) {
    return { text: "Alternative Payments did not accept these details. Please correct them:", canContinue: false, fields: err.details || {} };
  }
  if (err instanceof ForbiddenError) {
    return { text: "This payment session is not for this invoice. Reload the page to start a new one.", canContinue: false, fields: {} };
  }
  if (err instanceof NotFoundError) {
    return { text: "Alternative Payments does not know this invoice. Reload the page; if it stays, please contact us.", canContinue: false, fields: {} };
  }
  if (err instanceof PaymentFailed) {
    return { text: `${err.message} Nothing was charged. Choose or add another payment method.`, canContinue: false, fields: {} };
  }
  let text = `Something went wrong on this page. ${again}`;
  if (err instanceof RateLimitError) text = `Alternative Payments is busy. Wait a moment, then press Continue; a payment is never made twice.`;
  else if (err instanceof ServerError) text = `Alternative Payments is not answering right now. ${again}`;
  else if (err instanceof TimeoutError) text = `Alternative Payments took too long to answer. ${again}`;
  else if (err instanceof NetworkError) text = `Alternative Payments could not be reached. Check your connection, then press Continue; a payment is never made twice.`;
  return { text, canContinue: true, fields: {} };
}
