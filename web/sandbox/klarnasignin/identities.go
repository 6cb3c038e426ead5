package klarnasignin

import (
	"crypto/sha256"
	"math/big"
	"net/mail"
	"strings"
	"unicode"
)

// Identity is a Klarna customer the sandbox signs in. Sub is stable per email
// address, like a real Klarna user id (krn:kuid:..., the form of the sub
// claim in Klarna's examples).
type Identity struct {
	Sub         string
	Email       string
	GivenName   string
	FamilyName  string
	Phone       string
	DateOfBirth string
	Country     string
	Locale      string
}

// Name is the identity's full name.
func (i Identity) Name() string { return strings.TrimSpace(i.GivenName + " " + i.FamilyName) }

// Identities are the sandbox's test identities, offered on its sign-in page
// and listed on its index. They are the Klarna Payments sandbox's test
// customers, so one person is recognised across sign-in and checkout. Any
// other email address signs in too (Klarna's playground accepts any), as a
// person whose name is made from the address.
var Identities = []Identity{
	identity("anna.schmidt@example.com", "Anna", "Schmidt", "+4915112345678", "1988-04-12", "DE", "de-DE"),
	identity("jonas.weber@example.com", "Jonas", "Weber", "+4917612345678", "1979-11-03", "DE", "de-DE"),
	identity("mia.svensson@example.com", "Mia", "Svensson", "+46701112223", "1992-07-21", "SE", "sv-SE"),
}

func identity(email, given, family, phone, dob, country, locale string) Identity {
	return Identity{Sub: subFor(email), Email: email, GivenName: given, FamilyName: family,
		Phone: phone, DateOfBirth: dob, Country: country, Locale: locale}
}

// IdentityFor returns the identity that signs in with email: a test
// identity, or one made up from the address. ok is false when email is not
// an address.
func IdentityFor(email string) (Identity, bool) {
	email = strings.TrimSpace(email)
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return Identity{}, false
	}
	for _, id := range Identities {
		if strings.EqualFold(id.Email, email) {
			return id, true
		}
	}
	email = strings.ToLower(email)
	local, _, _ := strings.Cut(email, "@")
	given, family := "Test", "Customer"
	parts := strings.FieldsFunc(local, func(r rune) bool { return !unicode.IsLetter(r) })
	if len(parts) >= 1 {
		given = title(parts[0])
	}
	if len(parts) >= 2 {
		family = title(parts[1])
	}
	return identity(email, given, family, "", "", "DE", "de-DE"), true
}

func title(s string) string {
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// subIn is the stable Klarna user id of an email address at a region's
// issuer: Europe's is subFor's, North America's another.
func subIn(rg region, email string) string {
	if rg == regionEU {
		return subFor(email)
	}
	return subFor(rg.id + ":" + email)
}

// subFor is a stable Klarna user id for an email address.
func subFor(email string) string {
	sum := sha256.Sum256([]byte("refshop sandbox kuid:" + strings.ToLower(email)))
	return "krn:kuid:" + new(big.Int).SetBytes(sum[:16]).Text(62)
}
