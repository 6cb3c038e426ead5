package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// A component that fails half way leaves the response unwritten, so the
// error handler can still answer with its own status and page.
func TestRenderWritesNothingWhenTheComponentFails(t *testing.T) {
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
	half := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, _ = io.WriteString(w, "<main><p>half a page")
		return errors.New("the component failed")
	})
	if err := render(c, http.StatusOK, half); err == nil {
		t.Fatal("render returned no error for a failing component")
	}
	if c.Response().Committed || rec.Body.Len() != 0 {
		t.Errorf("render wrote status %d and %q before the component failed", rec.Code, rec.Body.String())
	}
}

func TestRenderWritesTheStatusAndPage(t *testing.T) {
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
	page := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, "<main>ok</main>")
		return err
	})
	if err := render(c, http.StatusUnprocessableEntity, page); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusUnprocessableEntity || rec.Body.String() != "<main>ok</main>" ||
		rec.Header().Get(echo.HeaderContentType) != echo.MIMETextHTMLCharsetUTF8 {
		t.Errorf("got %d %q %q", rec.Code, rec.Header().Get(echo.HeaderContentType), rec.Body.String())
	}
}
