// Command faults is refshop's fault suite (go tool task test:faults).
//
// It builds cmd/shop and runs it as a real process, with its embedded
// provider sandbox, on free ports and a fresh data dir. It walks each payment
// flow over HTTP as a customer's browser would (a cookie jar, forms posted
// from the shop's own origin; the sandbox's control API stands in for
// Klarna's widget), and breaks every provider operation each flow calls in
// five ways, through the sandbox's POST /control/faults:
//
//   - 503 ×2: the provider answers 503 twice. The purchase must go through
//     on the first try with exactly one provider object of each kind.
//   - answer lost: the provider acts but its answer never arrives, on every
//     try (lose_answer). Nobody may be charged twice, the customer must not
//     read "Nothing was charged" while the provider holds their money, and
//     the shop must come to agree with the provider.
//   - 25s delay: every try waits past the shop's 20s client timeout (and
//     then fails, so the provider never acts). The customer's request must
//     still be answered within 30s, well inside the shop's 60s write
//     timeout.
//   - kill -9 mid-call, kill -9 after call: the shop is killed while its call
//     waits at the provider, or after the provider acted and the shop is
//     retrying (the call counts of GET /control/state say when), then
//     started again on the same data dir. The order must reach the provider's
//     state, nothing may be charged twice, and the cart must be emptied
//     exactly once.
//
// The provider's own calls to the shop that a step raises (Vipps's webhook
// when the customer approves, Klarna's authorization callback, Alternative
// Payments' invoice_paid) get one scenario instead, kill -9 before return:
// the event is held back on the sandbox clock, the shop is killed right
// after the customer approved and started again, and the customer never
// comes back to the shop's page (the tab was closed). The event, the shop's
// sweep or the customer's next look at their orders must settle the order,
// once.
//
// After the fault the customer acts as a customer would: told "Nothing was
// charged" with the cart still full, they pay again; otherwise they watch
// their orders (a bounded poll of the shop's pages, the sandbox clock moved
// a little each round) until the shop agrees with the provider, waiting a
// while for a page that says the shop is confirming, then paying again the
// way the page offers. Then the suite counts what the providers hold,
// through their own read endpoints (Vipps's GET payment, Klarna's read
// session, Alternative Payments' invoices and customers), and judges.
//
// It prints one row per scenario (flow, operation, fault, provider objects,
// shop state, verdict) and exits 1 when any fails. Scenarios run on a few
// shop processes at once (-lanes), one at a time on each, since the
// sandbox's faults, clock and settings are global to its process.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"sync"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func allFlows() []flow {
	return []flow{vippsFlow{}, klarnaFlow{}, klarnaBuyAgainFlow{}, altpayFlow{}, klarnaSignInFlow{}}
}

// allScenarios is every flow's every operation under every fault, in the
// table's order.
func allScenarios() []scenario {
	var out []scenario
	for _, f := range allFlows() {
		for _, op := range f.operations() {
			for _, ft := range faultsOf(op) {
				out = append(out, scenario{flow: f, op: op, fault: ft})
			}
		}
	}
	return out
}

func run() int {
	lanes := flag.Int("lanes", 8, "how many shop processes run scenarios at once (they mostly wait)")
	match := flag.String("run", "", "run only the scenarios whose name (flow/operation/fault) matches this regular expression")
	// The shop's sweeps run on its own clock: Klarna's takes up an attempt
	// 2 minutes after its last try and runs every 30s.
	settle := flag.Duration("settle", 3*time.Minute, "how long to wait for the shop to agree with the provider")
	keep := flag.Bool("keep", false, "keep the shops' logs and data dirs")
	verbose := flag.Bool("v", false, "tell what happened in each scenario as it ends")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	all := allScenarios()
	order := map[string]int{}
	var scenarios []scenario
	re, err := regexp.Compile(*match)
	if err != nil {
		fmt.Fprintf(os.Stderr, "faults: -run: %v\n", err)
		return 2
	}
	for i, sc := range all {
		order[sc.String()] = i
		if re.MatchString(sc.String()) {
			scenarios = append(scenarios, sc)
		}
	}
	if len(scenarios) == 0 {
		fmt.Fprintf(os.Stderr, "faults: no scenario matches %q\n", *match)
		return 2
	}

	work, err := os.MkdirTemp("", "refshop-faults-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "faults: %v\n", err)
		return 2
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	start := time.Now()
	fmt.Fprintf(os.Stderr, "faults: building cmd/shop\n")
	bin, err := buildShop(ctx, work)
	if err != nil {
		fmt.Fprintf(os.Stderr, "faults: %v\n", err)
		return 2
	}

	// The slowest scenarios go first, so that they spread over the lanes.
	sort.SliceStable(scenarios, func(i, j int) bool { return weight(scenarios[i].fault) > weight(scenarios[j].fault) })
	queue := make(chan scenario, len(scenarios))
	for _, sc := range scenarios {
		queue <- sc
	}
	close(queue)

	n := min(*lanes, len(scenarios))
	fmt.Fprintf(os.Stderr, "faults: %d scenarios on %d shop processes (work dir %s)\n", len(scenarios), n, work)
	creds := newCredentials()
	results := make(chan result)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { runLane(ctx, fmt.Sprintf("shop%d", i+1), bin, work, creds, *settle, queue, results) })
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	var got []result
	for r := range results {
		got = append(got, r)
		fmt.Fprintf(os.Stderr, "%s %-62s %6.1fs  %s\n", verdictWord(r), r.scenario, r.took.Seconds(), r.lane)
		if *verbose {
			for _, n := range r.notes {
				fmt.Fprintf(os.Stderr, "       %s\n", n)
			}
			for _, p := range r.problems {
				fmt.Fprintf(os.Stderr, "       FAIL: %s\n", p)
			}
		}
	}
	// Scenarios no lane could take (every shop failed to start).
	for sc := range queue {
		got = append(got, result{scenario: sc, problems: []string{"not run: no shop process could start"}})
	}
	if ctx.Err() != nil {
		fmt.Fprintf(os.Stderr, "faults: interrupted; the table shows what ran\n")
	}

	sort.Slice(got, func(i, j int) bool { return order[got[i].String()] < order[got[j].String()] })
	printTable(os.Stdout, got)
	failed := 0
	for _, r := range got {
		if !r.passed() {
			failed++
		}
	}
	fmt.Printf("\n%d of %d scenarios passed in %s.\n", len(got)-failed, len(got), time.Since(start).Round(time.Second))
	if *keep {
		fmt.Printf("Shop logs and data dirs: %s\n", work)
	} else if failed > 0 {
		fmt.Printf("Run with -keep to keep each shop's log (shopN.log, named in the progress lines) and data dir.\n")
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// weight orders the queue: waits past the client timeout take longest, then
// the faults after which the shop's sweeps may have to settle an order.
func weight(f fault) int {
	switch f {
	case slowAnswer:
		return 2
	case answerLost, killMidCall, killAfterCall, killBeforeReturn:
		return 1
	}
	return 0
}

// runLane runs scenarios from the queue on one shop process until the queue
// is empty, then stops the shop.
func runLane(ctx context.Context, name, bin, work string, creds credentials, settle time.Duration, queue <-chan scenario, out chan<- result) {
	sp, err := newShopProcess(name, bin, work, creds)
	if err != nil {
		fmt.Fprintf(os.Stderr, "faults: %s: %v\n", name, err)
		return
	}
	defer func() {
		if ctx.Err() != nil {
			sp.Kill() // interrupted: no need to let requests finish
		} else {
			sp.Stop()
		}
	}()
	l := &lane{name: name, shop: sp, sb: newSandbox(sp.SandboxURL, creds), settle: settle}
	if err := sp.Start(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "faults: %s did not start: %v\n", name, err)
		return
	}
	if err := l.makeCanary(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "faults: %s: making the canary: %v\n", name, err)
		return
	}
	for sc := range queue {
		if ctx.Err() != nil {
			out <- result{scenario: sc, lane: name, problems: []string{"not run: interrupted"}}
			continue
		}
		r := l.run(ctx, sc)
		out <- r
		if !sp.running() {
			// A kill whose restart failed: this lane can take no more.
			fmt.Fprintf(os.Stderr, "faults: %s is down after %s; its lane stops\n", name, sc)
			return
		}
	}
}
