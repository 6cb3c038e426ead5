package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func verdictWord(r result) string {
	if r.passed() {
		return "PASS"
	}
	return "FAIL"
}

// printTable writes one row per scenario. A failed row's verdict lists every
// reason.
func printTable(w io.Writer, results []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FLOW\tOPERATION\tFAULT\tPROVIDER OBJECTS\tSHOP STATE\tVERDICT")
	for _, r := range results {
		verdict := "PASS"
		if !r.passed() {
			verdict = "FAIL: " + strings.Join(r.problems, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.flow.name(), r.op.name, r.fault, dash(r.objects), dash(r.shop), verdict)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
