package web

import (
	"context"
	"errors"
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
// then forgotten.
func (k *klarnaFlow) unlink(c echo.Context) error {
	err := k.links.Unlink(c.Request().Context(), currentUser(c).ID)
	switch {
	case errors.Is(err, link.ErrNotLinked):
		k.a.flash(c, "Your Klarna account was not linked.")
	case err != nil:
		return klarnaError(err, "Klarna could not unlink your account", "Your Klarna account is still linked. Please try again.")
	default:
		k.a.flash(c, "Your Klarna account is unlinked. Next time Klarna will ask you to log in.")
	}
	return c.Redirect(http.StatusSeeOther, "/account")
}
