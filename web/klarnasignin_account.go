package web

import (
	"context"

	"github.com/a-h/templ"

	"refshop/db"
	"refshop/views"
)

// accountPanel is the account's Klarna connections among the account page's
// linked accounts: one per Klarna region the account is connected in (each
// region is its own issuer and identity).
func (f *klarnaSignInFlow) accountPanel(ctx context.Context, u db.User) (templ.Component, error) {
	var panels []templ.Component
	for _, r := range klarnaSignInRegions {
		st, err := f.regions[r].grants.Status(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		if !st.Connected {
			continue
		}
		panels = append(panels, views.KlarnaSignInPanel(views.KlarnaSignInPanelView{
			Connected: true, CanDisconnect: u.PasswordHash != "",
			Region: string(r), RegionName: views.KlarnaRegionName(string(r)),
			Name: st.Identity.Name, Email: st.Identity.Email, SignInAgain: st.SignInAgain,
			Since: st.Identity.ConnectedAt.Local().Format(dateFormat),
		}))
	}
	if len(panels) == 0 {
		return nil, nil
	}
	return views.KlarnaSignInPanels(panels), nil
}

// connectOffer is the account page's "Connect Klarna" for an account that
// is connected in no region (Connect goes to the session's market's
// region's issuer).
func (f *klarnaSignInFlow) connectOffer(ctx context.Context, u db.User) (templ.Component, error) {
	for _, r := range klarnaSignInRegions {
		st, err := f.regions[r].grants.Status(ctx, u.ID)
		if err != nil || st.Connected {
			return nil, err
		}
	}
	return views.KlarnaSignInConnect(), nil
}
