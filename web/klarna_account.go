package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/klarna/link"
)

// linkPanel is the linked Klarna account (its customer token, masked) among
// the account page's linked accounts.
func (k *klarnaFlow) linkPanel(ctx context.Context, u db.User) (templ.Component, error) {
	st, err := k.links.Status(ctx, u.ID)
	if err != nil || !st.Linked {
		return nil, err
	}
	return views.KlarnaLinkPanel(views.KlarnaLinkView{Masked: st.Masked,
		LinkedAt: st.LinkedAt.Local().Format(dateFormat), RefreshedAt: st.RefreshedAt.Local().Format(dateFormat)}), nil
}

// unlink is POST /account/klarna/unlink: the token is cancelled at Klarna,
// then forgotten, within the request's deadline; past it, the work goes on
// and the account page shows the link until it has.
func (k *klarnaFlow) unlink(c echo.Context) error {
	uid := currentUser(c).ID
	_, err := awaitProvider(k.a, c, fmt.Sprintf("klarna.unlink:user:%d", uid), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, k.links.Unlink(ctx, uid)
	})
	switch {
	case errors.Is(err, errConfirming):
		k.a.flash(c, "Klarna has not confirmed yet. Reload the account page in a moment to see your Klarna account unlinked.")
	case errors.Is(err, link.ErrNotLinked):
		k.a.flash(c, "Your Klarna account was not linked.")
	case err != nil:
		return klarnaError(err, "Klarna could not unlink your account", "Your Klarna account is still linked. Please try again.")
	default:
		k.a.flash(c, "Your Klarna account is unlinked. Next time Klarna will ask you to log in.")
	}
	return c.Redirect(http.StatusSeeOther, "/account")
}
