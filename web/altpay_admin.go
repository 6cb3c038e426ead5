package web

// The invoice flow's back office (admin.go): an Alternative Payments
// invoice is paid in full by the customer, so there is nothing to capture
// when the order ships; and the API the shop follows (web/altpay, whose
// documentation web/sandbox/altpay/doc.go cites) documents no refund and no
// way to void or cancel an invoice (see release in altpay_attempt.go). The
// back office therefore offers no operation on invoice orders, and says why.

import (
	"context"
	"errors"

	"refshop/db"
)

const (
	altpayNoCapture = "Paid in full by the customer when the invoice is paid: there is nothing to capture."
	altpayNoRefund  = "Not offered by Alternative Payments' API: it documents no refund. Refund the customer outside the shop."
	altpayNoCancel  = "Not offered by Alternative Payments' API: it documents no way to void or cancel an invoice."
)

// adminLook offers nothing, saying why. The shop keeps the invoice's id
// and its status as last read, not an event log.
func (f *altpayFlow) adminLook(ctx context.Context, o db.Order) (adminLook, error) {
	look := adminLook{Order: o, Offers: adminOffers{Ship: altpayNoCapture, Capture: altpayNoCapture, Refund: altpayNoRefund, Cancel: altpayNoCancel}}
	inv, err := f.a.Store.AltpayInvoiceFor(ctx, o.ID)
	switch {
	case err != nil && !errors.Is(err, db.ErrNotFound):
		return adminLook{}, err
	case err != nil || inv.InvoiceID == "":
		look.EventsNote = "No Alternative Payments invoice is recorded for this order."
	case inv.CheckedAt.IsZero():
		look.EventsNote = "Alternative Payments invoice " + inv.InvoiceID + ". The shop keeps no event log from Alternative Payments."
	default:
		look.EventsNote = "Alternative Payments invoice " + inv.InvoiceID + ": " + inv.Status + " when last read, " +
			inv.CheckedAt.Local().Format(dateFormat) + ". The shop keeps no event log from Alternative Payments."
	}
	return look, nil
}

func (f *altpayFlow) operate(context.Context, db.Order, adminRequest) (adminOutcome, error) {
	return adminOutcome{"Alternative Payments invoices offer no back office operation: " + altpayNoRefund + " Nothing was sent."}, nil
}
