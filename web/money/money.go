// Package money is amounts in minor units and the shop's tax rule.
package money

import (
	"fmt"
	"regexp"
	"strings"
)

// Amount is an amount in minor units (cents) of a currency.
type Amount struct {
	Minor    int64
	Currency string // ISO 4217, upper case
}

// Format renders an amount for people: "€12.90", "NOK 1,234.00".
func (a Amount) Format() string {
	sign := ""
	v := a.Minor
	if v < 0 {
		sign, v = "-", -v
	}
	whole := groupThousands(v / 100)
	frac := v % 100
	switch a.Currency {
	case "EUR":
		return fmt.Sprintf("%s€%s.%02d", sign, whole, frac)
	case "USD":
		return fmt.Sprintf("%s$%s.%02d", sign, whole, frac)
	default:
		return fmt.Sprintf("%s%s %s.%02d", sign, a.Currency, whole, frac)
	}
}

func (a Amount) String() string { return a.Format() }

func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// TaxIncluded is the tax inside a tax-inclusive total at rate (two implied
// decimals: 1900 = 19%), rounded half away from zero:
// total - total*10000/(10000+rate). Klarna accepts a line's total_tax_amount
// within one minor unit of that value; this is the exact rounding.
func TaxIncluded(total int64, rate int) int64 {
	if rate <= 0 {
		return 0
	}
	den := int64(10000 + rate)
	num := total * int64(rate)
	// round(num/den) for non-negative num; mirror for negative.
	if num >= 0 {
		return (num*2 + den) / (den * 2)
	}
	return -((-num*2 + den) / (den * 2))
}

// TaxAdded is the tax on a tax-exclusive amount at rate (two implied
// decimals: 825 = 8.25%), rounded half away from zero: what a sales tax adds
// to a US subtotal.
func TaxAdded(amount int64, rate int) int64 {
	if rate <= 0 {
		return 0
	}
	num := amount * int64(rate)
	if num >= 0 {
		return (num*2 + 10000) / 20000
	}
	return -((-num*2 + 10000) / 20000)
}

// FormatRate renders a tax rate: 1900 -> "19%", 750 -> "7.5%".
func FormatRate(rate int) string {
	if rate%100 == 0 {
		return fmt.Sprintf("%d%%", rate/100)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%02d", rate/100, rate%100), "0") + "%"
}

// Parse reads an amount a person typed in major units of currency ("12.50",
// "12.5", "12", "1,234.50", and "12,50" with a decimal comma; no sign, at
// most two decimals: every currency the shop sells in has two) into minor
// units. A comma followed by one or two digits at the end is the decimal
// mark; commas grouping thousands are taken only before a decimal point
// ("1,234.50"); anything else (mixed or misplaced separators) is refused
// rather than guessed.
func Parse(s, currency string) (Amount, error) {
	typed := strings.TrimSpace(s)
	s, ok := decimalPoint(typed)
	if !ok {
		return Amount{}, fmt.Errorf("money: %q is not an amount like 12.50", typed)
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || (dot && (frac == "" || len(frac) > 2)) || !digits(whole) || !digits(frac) {
		return Amount{}, fmt.Errorf("money: %q is not an amount like 12.50", s)
	}
	var minor int64
	for _, r := range whole {
		minor = minor*10 + int64(r-'0')
	}
	frac += strings.Repeat("0", 2-len(frac))
	minor = minor*100 + int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	return Amount{Minor: minor, Currency: currency}, nil
}

// Major renders an amount in major units for a form field: "12.50".
func (a Amount) Major() string {
	return fmt.Sprintf("%d.%02d", a.Minor/100, a.Minor%100)
}

// thousands is digits grouped by commas: "1,234", "12,345,678".
var thousands = regexp.MustCompile(`^[0-9]{1,3}(,[0-9]{3})+$`)

// decimalComma is a whole number and one or two decimals after a comma.
var decimalComma = regexp.MustCompile(`^[0-9]+,[0-9]{1,2}$`)

// decimalPoint rewrites a typed amount with "." as the only separator:
// "12,50" -> "12.50", "1,234.50" -> "1234.50"; false when its commas are
// neither a decimal mark nor thousands groups.
func decimalPoint(s string) (string, bool) {
	if !strings.Contains(s, ",") {
		return s, true
	}
	whole, frac, dot := strings.Cut(s, ".")
	switch {
	case !dot && decimalComma.MatchString(s):
		return strings.Replace(s, ",", ".", 1), true
	case dot && thousands.MatchString(whole):
		// "1,234" alone is refused: a decimal comma with three decimals
		// typed by mistake reads the same, and a thousand times more.
		return strings.ReplaceAll(whole, ",", "") + "." + frac, true
	}
	return "", false
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
