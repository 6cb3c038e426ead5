package money

import "testing"

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		a    Amount
		want string
	}{
		{Amount{1290, "EUR"}, "€12.90"},
		{Amount{123456789, "EUR"}, "€1,234,567.89"},
		{Amount{5, "EUR"}, "€0.05"},
		{Amount{-1500, "NOK"}, "-NOK 15.00"},
	} {
		if got := c.a.Format(); got != c.want {
			t.Errorf("%+v.Format() = %q, want %q", c.a, got, c.want)
		}
	}
}

// TestTaxIncluded checks the rounding against Klarna's rule: the tax lies
// within one minor unit of total - total*10000/(10000+rate).
func TestTaxIncluded(t *testing.T) {
	for _, c := range []struct {
		total int64
		rate  int
		want  int64
	}{
		{10000, 2500, 2000}, // Klarna's example
		{25900, 1900, 4135}, // 25900*1900/11900 = 4135.29
		{1190, 1900, 190},
		{999, 700, 65}, // 65.35
		{1, 1900, 0},
		{0, 1900, 0},
		{5000, 0, 0},
	} {
		got := TaxIncluded(c.total, c.rate)
		if got != c.want {
			t.Errorf("TaxIncluded(%d, %d) = %d, want %d", c.total, c.rate, got, c.want)
		}
		exact := float64(c.total) - float64(c.total)*10000/float64(10000+c.rate)
		if d := float64(got) - exact; d > 1 || d < -1 {
			t.Errorf("TaxIncluded(%d, %d) = %d, more than 1 from %f", c.total, c.rate, got, exact)
		}
	}
}

func TestFormatRate(t *testing.T) {
	if g := FormatRate(1900); g != "19%" {
		t.Errorf("got %q", g)
	}
	if g := FormatRate(750); g != "7.5%" {
		t.Errorf("got %q", g)
	}
}

func TestTaxAdded(t *testing.T) {
	for _, tc := range []struct {
		amount int64
		rate   int
		want   int64
	}{
		{10000, 825, 825}, // $100.00 at 8.25% is $8.25
		{899, 825, 74},    // 74.1675 rounds down
		{1000, 825, 83},   // 82.5 rounds half away from zero
		{-1000, 825, -83},
		{1234, 0, 0},
	} {
		if got := TaxAdded(tc.amount, tc.rate); got != tc.want {
			t.Errorf("TaxAdded(%d, %d) = %d, want %d", tc.amount, tc.rate, got, tc.want)
		}
	}
}

func TestParseReadsMajorUnits(t *testing.T) {
	// A comma followed by one or two digits is the decimal mark, as
	// Norwegian and German administrators type it; commas group thousands
	// only before a decimal point ("1,234" alone could be either).
	for in, want := range map[string]int64{"12.50": 1250, "12.5": 1250, "12": 1200, " 0.07 ": 7, "1,234.00": 123400, "0": 0,
		"12,50": 1250, "12,5": 1250, "1,5": 150, "458,00": 45800, "12,345,678.90": 1234567890} {
		got, err := Parse(in, "NOK")
		if err != nil || got.Minor != want || got.Currency != "NOK" {
			t.Errorf("Parse(%q) = %+v, %v; want %d", in, got, err, want)
		}
		if err == nil && want > 0 {
			if back, _ := Parse(got.Major(), "NOK"); back.Minor != want {
				t.Errorf("Major(%d) = %q does not read back", want, got.Major())
			}
		}
	}
	for _, in := range []string{"", "-5", "12.345", "12.", ".5", "abc", "1e3", "12,50.0.1", "9999999999999",
		"1,2345", "1,234", "12,50.5", "1,23,456", ",5", "12,", "1.234,50", "1 234"} {
		if _, err := Parse(in, "NOK"); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
}
