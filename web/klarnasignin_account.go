package web

import (
	"context"

	"github.com/a-h/templ"

	"refshop/db"
	"refshop/views"
)

// accountPanel is the connected Klarna identity among the account page's
// linked accounts.
func (f *klarnaSignInFlow) accountPanel(ctx context.Context, u db.User) (templ.Component, error) {
	st, err := f.grants.Status(ctx, u.ID)
	if err != nil || !st.Connected {
		return nil, err
	}
	return views.KlarnaSignInPanel(views.KlarnaSignInPanelView{
		Connected: true, CanDisconnect: u.PasswordHash != "",
		Name: st.Identity.Name, Email: st.Identity.Email, SignInAgain: st.SignInAgain,
		Since: st.Identity.ConnectedAt.Local().Format(dateFormat),
	}), nil
}

// connectOffer is the account page's "Connect Klarna" for an account that
// is not connected.
func (f *klarnaSignInFlow) connectOffer(ctx context.Context, u db.User) (templ.Component, error) {
	st, err := f.grants.Status(ctx, u.ID)
	if err != nil || st.Connected {
		return nil, err
	}
	return views.KlarnaSignInConnect(), nil
}
