// altpay-attempt.js: the invoice page's payment attempt, kept in
// sessionStorage per invoice. A press of Pay whose answer never came (the
// network, a 5xx the snippet gave up on) may still have paid; pressing Pay
// again, even after a reload of the page, must send the same Idempotency-Key
// and body so the provider cannot take the money twice. The attempt is
// forgotten once the provider answers (clearAttempt): a further press is a
// new payment.

const prefix = "altpay-attempt:";

/**
 * attemptFor returns the attempt to pay invoiceId with payment method pmId
 * for amount (a "19.90" string): the stored one when it is for the same
 * method and amount, else a new one, stored. storage is sessionStorage (or
 * anything with getItem/setItem/removeItem); when it fails (private mode,
 * full, disabled) the attempt lives in memory only, as before.
 * @returns {{pmId: string, amount: string, date: string, key: string}}
 */
export function attemptFor(storage, invoiceId, pmId, amount, now = () => new Date()) {
  const name = prefix + invoiceId;
  const stored = read(storage, name) ?? memory.get(name);
  if (stored && stored.pmId === pmId && stored.amount === amount && typeof stored.key === "string" && typeof stored.date === "string") {
    return stored;
  }
  const attempt = { pmId, amount, date: now().toISOString(), key: `payment-${invoiceId}-${randomID()}` };
  memory.set(name, attempt);
  try { storage?.setItem(name, JSON.stringify(attempt)); } catch { /* memory only */ }
  return attempt;
}

/** clearAttempt forgets invoiceId's attempt: the provider answered it. */
export function clearAttempt(storage, invoiceId) {
  const name = prefix + invoiceId;
  memory.delete(name);
  try { storage?.removeItem(name); } catch { /* nothing stored */ }
}

// memory holds the attempts when storage cannot.
const memory = new Map();

function read(storage, name) {
  try {
    const raw = storage?.getItem(name);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function randomID() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
