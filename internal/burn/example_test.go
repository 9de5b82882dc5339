package burn_test

import (
	"fmt"
	"time"

	"github.com/llmslo/slo/internal/burn"
)

func Example() {
	s, err := burn.NewSeries(0.99, 0) // 99% good over 30 days
	if err != nil {
		fmt.Println(err)
		return
	}
	alerts, err := burn.NewAlerter(s, burn.DefaultRules(), burn.Gate{})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

	// One request per second: a clean hour, then every fourth request fails.
	// The rules are evaluated after each bad request (a good one cannot make
	// a rule start to hold).
	for i := range 2 * 3600 {
		now := start.Add(time.Duration(i) * time.Second)
		good := i < 3600 || i%4 != 0
		s.Add(now, good)
		if good {
			continue
		}
		if a, ok := alerts.Fire(now); ok {
			fmt.Printf("+%v %s (%v): %s burn %.1f, %s burn %.1f\n", now.Sub(start), a.Severity, a.Rule,
				burn.WindowName(a.Long.Window), a.Long.Rate, burn.WindowName(a.Short.Window), a.Short.Rate)
		}
	}
	end := start.Add(2 * time.Hour)
	for _, w := range burn.StandardWindows()[:3] {
		fmt.Printf("%s burn rate %.1f\n", w.Name, s.BurnRate(end, w.Dur))
	}
	fmt.Printf("budget remaining %.1f\n", s.BudgetRemaining(end))
	// Output:
	// +1h2m28s ticket (3d>1 and 6h>1): 3d burn 1.0, 6h burn 1.0
	// +1h18m52s page (6h>6 and 30m>6): 6h burn 6.0, 30m burn 15.8
	// 5m burn rate 25.0
	// 30m burn rate 25.0
	// 1h burn rate 25.0
	// budget remaining -11.5
}
