package views

// ProductView is a product card or page.
type ProductView struct {
	ID          string
	Name        string
	Summary     string
	Description string
	Price       string
	TaxNote     string // how the price treats tax: "Includes 19% VAT."
	Image       string
}

// QuantityForm is the product page's add-to-cart quantity and its message.
type QuantityForm struct {
	Value string
	Error string
}
