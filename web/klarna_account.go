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
	"refshop/web/market"
)

// klarnaRegionNames are the regions as the account page names them.
var klarnaRegionNames = map[market.Region]string{market.RegionEU: "Europe", market.RegionNA: "North America"}

// linkPanel is the linked Klarna accounts (their customer tokens, masked),
// one per Klarna region the user linked in, among the account page's linked
// accounts.
func (k *klarnaFlow) linkPanel(ctx context.Context, u db.User) (templ.Component, error) {
	var panels []templ.Component
	for _, r := range []market.Region{market.RegionEU, market.RegionNA} {
		st, err := k.regions[r].links.Status(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		if !st.Linked {
			continue
		}
		panels = append(panels, views.KlarnaLinkPanel(views.KlarnaLinkView{Region: string(r), RegionName: klarnaRegionNames[r],
			Masked: st.Masked, LinkedAt: st.LinkedAt.Local().Format(dateFormat), RefreshedAt: st.RefreshedAt.Local().Format(dateFormat)}))
	}
	if len(panels) == 0 {
		return nil, nil
	}
	return templ.Join(panels...), nil
}

// unlink is POST /account/klarna/unlink (region: eu or na): the region's
// token is forgotten in the shop, which stops sending it (Klarna documents
// no merchant call to end an account link).
func (k *klarnaFlow) unlink(c echo.Context) error {
	uid := currentUser(c).ID
	region := market.Region(c.FormValue("region"))
	if region == "" {
		region = market.RegionEU
	}
	r, ok := k.regions[region]
	if !ok {
		return &UserError{Status: http.StatusBadRequest, Title: "Please try again",
			Message: "The form was incomplete. Reload the account page and choose \"Unlink Klarna\" again."}
	}
	// Klarna documents no merchant call to end an account link: the shop
	// forgets the token and stops sending it (package web/klarna/link).
	switch err := r.links.Unlink(c.Request().Context(), uid); {
	case errors.Is(err, link.ErrNotLinked):
		k.a.flash(c, "Your Klarna account was not linked.")
	case err != nil:
		return err
	default:
		k.a.flash(c, "Your Klarna account is unlinked: this shop forgot it, and next time Klarna will ask you to log in. To end the link at Klarna too, remove this shop in the Klarna app.")
	}
	return c.Redirect(http.StatusSeeOther, "/account")
}
