package views

import "strconv"

// DiagramView is a sequence diagram of the exchanges between the browser,
// the shop and the provider APIs, either way, already laid out (web/diagram builds it):
// every number is in the SVG's user units, on a viewBox Width wide, drawn
// at the content column's width and scaled down on smaller screens. The
// labels are already shortened to fit; Title and the arrows' titles carry
// the full text.
type DiagramView struct {
	// ID is unique on the page: the SVG's title and desc are ID-title and
	// ID-desc.
	ID            string
	Title         string // "Sequence diagram of the exchanges with the providers, in time order"
	Desc          string // "5 exchanges between the shop and Vipps MobilePay API; 1 retry."
	Width, Height int
	Lifelines     []DiagramLifeline
	Rows          []DiagramRow
	// LifelineTop and LifelineBottom bound the lifelines' dashed lines.
	LifelineTop, LifelineBottom int
}

// DiagramLifeline is one participant: "Shop", "Vipps MobilePay API".
type DiagramLifeline struct {
	Name          string   // in full
	Lines         []string // the head's text: one or two lines, shortened to fit
	X             int      // the lifeline's centre
	BoxX, BoxY    int
	BoxW, BoxH    int
	TextY         []int // each line's baseline
	Browser, Shop bool  // which side it is: neither is a provider API
}

// DiagramRow is one exchange: the request and its answer, with the step's
// number, its time from the first, and a retry's note in the left gutter.
type DiagramRow struct {
	Step            string // "3"
	At              string // "+1.2 s"
	Note            string // "try 2 after 503", shortened to fit; ""
	NoteTitle       string // the note in full
	GutterX         int
	StepY, NoteY    int
	Request, Answer DiagramArrow
	Retry, NoAnswer bool
	BadAnswer       bool // an error status, or no answer
	FromBrowser     bool
	// FromProvider: the provider called the shop (a webhook delivery, a
	// callback): the request arrow runs from its lifeline to the shop's.
	FromProvider bool
}

// DiagramArrow is a horizontal arrow from X1 to X2 at Y, its label above it.
type DiagramArrow struct {
	X1, X2, Y      int
	Label          string // shortened to fit between the lifelines
	Title          string // the full text, shown on hover (the list under the diagram is its text equivalent)
	LabelX, LabelY int
	Head           bool // an arrowhead at X2; none on an answer that never came
}

// HeadPoints is the arrowhead's polygon at X2, pointing the arrow's way.
func (a DiagramArrow) HeadPoints() string {
	d := 8
	if a.X2 < a.X1 {
		d = -8
	}
	back := a.X2 - d
	return num(a.X2) + "," + num(a.Y) + " " + num(back) + "," + num(a.Y-4) + " " + num(back) + "," + num(a.Y+4)
}

// LineX2 is where the arrow's line stops: at the arrowhead's back, so the
// line's end does not poke through its point.
func (a DiagramArrow) LineX2() int {
	if !a.Head {
		return a.X2
	}
	if a.X2 < a.X1 {
		return a.X2 + 6
	}
	return a.X2 - 6
}

// ViewBox is the SVG's viewBox attribute.
func (v DiagramView) ViewBox() string { return "0 0 " + num(v.Width) + " " + num(v.Height) }

func num(n int) string { return strconv.Itoa(n) }
