package altpay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// decimal is an amount in minor units that travels as decimal major units:
// 1990 is written 19.90. See the package comment for the unit choice.
type decimal int64

func (d decimal) String() string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%d.%02d", sign, d/100, d%100)
}

// MarshalJSON writes a JSON number with two decimals.
func (d decimal) MarshalJSON() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON accepts a JSON number or a numeric string.
func (d *decimal) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, ok := parseDecimal(s)
	if !ok {
		return fmt.Errorf("amount %s is not a decimal with at most two places", b)
	}
	*d = v
	return nil
}

// parseDecimal reads "12", "12.3" or "12.34" into minor units.
func parseDecimal(s string) (decimal, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || strings.HasPrefix(whole, "+") {
		return 0, false
	}
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	w, err := strconv.ParseUint(whole, 10, 40)
	if err != nil {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, err := strconv.ParseUint(frac, 10, 8)
	if err != nil {
		return 0, false
	}
	v := decimal(w*100 + f)
	if neg {
		v = -v
	}
	return v, true
}
