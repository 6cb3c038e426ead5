package outbound

// Receiving: the calls providers make to the shop (webhook deliveries,
// callbacks) are recorded by the same Recorder as the shop's own calls, in
// the same queue, redacted by the same rules (web/redact, with
// redact.Exchange.Inbound: the credential such a call presents is the
// shop's own secret or a signature made with it), and stored by the same
// sink, marked Inbound. The shop's HTTP middleware (web/inbound) drives
// it: Receive before the handler, Done once the answer is written.

import (
	"bytes"
	"io"
	"net/http"
	"time"
)

// Received is one call a provider made to the shop, while it is recorded.
type Received struct {
	rec   *Recorder
	x     Exchange
	began time.Time
	body  captured
	resp  capture
}

// Receive starts recording req, a call a provider makes to the shop, under
// op; url is the URL it was sent to (the shop's, as the provider reached
// it). It reads req's body once, up to captureLimit, and returns req with
// that body to read again from its start, followed by any rest: the
// handler reads what was sent, with its own limit. A nil Recorder records
// nothing: it returns nil and req as is (a nil *Received's methods do
// nothing).
func (r *Recorder) Receive(req *http.Request, op Op, url string) (*Received, *http.Request) {
	if r == nil {
		return nil, req
	}
	in := &Received{rec: r, began: time.Now()}
	in.x = Exchange{StartedAt: r.now(), RequestID: RequestIDFrom(req.Context()), Provider: op.Provider, Operation: op.Name,
		PathTemplate: op.Path, Method: req.Method, URL: url, ReqHeader: req.Header.Clone(), Try: 1, Inbound: true}
	if in.x.ReqHeader == nil {
		in.x.ReqHeader = http.Header{}
	}
	// The server moves Host out of the headers; it is part of what Vipps
	// MobilePay signs, so the record shows it.
	in.x.ReqHeader.Set("Host", req.Host)
	if r.providerNow != nil {
		in.x.ProviderAt = r.providerNow()
	}
	if req.Body == nil || req.Body == http.NoBody {
		return in, req
	}
	buf, _ := io.ReadAll(io.LimitReader(req.Body, captureLimit+1))
	in.body = captured{b: buf, size: int64(len(buf))}
	if in.body.over() {
		// More may follow, unread: what was read is a lower bound.
		in.body.b, in.body.short = nil, true
	}
	again := req.WithContext(req.Context())
	again.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
	return in, again
}

// Body is the request's body as Receive read it; nil when there was none
// or it was over the recording limit.
func (in *Received) Body() []byte {
	if in == nil {
		return nil
	}
	return in.body.b
}

// Writer returns w copying what the shop answers for the record.
func (in *Received) Writer(w http.ResponseWriter) http.ResponseWriter {
	if in == nil {
		return w
	}
	return &answerCopy{ResponseWriter: w, c: &in.resp}
}

// Done records the call once the shop's answer is written: its status and
// headers, the order the call turned out to be about (0: none the shop
// knows, or none it would vouch for) and the event it delivered ("" for
// none). Call it once.
func (in *Received) Done(status int, header http.Header, orderID int64, event string) {
	if in == nil {
		return
	}
	x := in.x
	x.Duration = time.Since(in.began)
	x.Status, x.RespHeader, x.OrderID, x.Event = status, header.Clone(), orderID, event
	if x.RespHeader == nil {
		x.RespHeader = http.Header{}
	}
	in.rec.enqueue(recorded{x: x, reqBody: in.body, respBody: in.resp.captured()})
}

// answerCopy is a ResponseWriter that copies what is written through it.
type answerCopy struct {
	http.ResponseWriter
	c *capture
}

func (w *answerCopy) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.c.Write(p[:n])
	return n, err
}

// Unwrap lets http.ResponseController reach the writer below (Flush,
// deadlines).
func (w *answerCopy) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *answerCopy) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
