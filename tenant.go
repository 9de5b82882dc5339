package slo

import (
	"fmt"
	"net/http"
)

// tenantOf returns the tenant WithTenant's function names for r; a panic
// in it means no tenant, reported once.
func (t *Tracker) tenantOf(r *http.Request) (tenant string) {
	defer func() {
		if v := recover(); v != nil {
			tenant = ""
			t.tenantPanic.Do(func() {
				t.cfg.errorHandler(fmt.Errorf("slo: the WithTenant function panicked (requests get no tenant): %v", v))
			})
		}
	}()
	return t.cfg.tenant(r)
}
