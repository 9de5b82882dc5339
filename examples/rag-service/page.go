package main

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/llmslo/slo"
)

// burnWindows is the display order of the burn-rate windows.
var burnWindows = []string{"5m", "30m", "1h", "6h", "1d", "3d"}

// rateClasses colour a burn rate by the largest alert factor it exceeds
// (slo.AlertRules: the two page factors, then the ticket factor).
var rateClasses = []string{"bad", "warn", "mild"}

func rateClass(m map[string]float64, w string) string {
	var factors []float64
	for _, r := range slo.AlertRules() {
		if !slices.Contains(factors, r.Factor) {
			factors = append(factors, r.Factor)
		}
	}
	slices.Sort(factors)
	slices.Reverse(factors)
	for i, f := range factors {
		if m[w] > f {
			return rateClasses[min(i, len(rateClasses)-1)]
		}
	}
	return ""
}

// ruleLegend lists the alert rules by severity: "Page: 1h>… and 5m>…, or …; ticket: …".
func ruleLegend() string {
	var b strings.Builder
	sev := ""
	for _, r := range slo.AlertRules() {
		switch {
		case r.Severity == sev:
			b.WriteString(", or ")
		case sev == "":
			b.WriteString(strings.ToUpper(r.Severity[:1]) + r.Severity[1:] + ": ")
		default:
			b.WriteString("; " + r.Severity + ": ")
		}
		sev = r.Severity
		b.WriteString(r.String())
	}
	return b.String()
}

var pageFuncs = template.FuncMap{
	"ms": func(p *float64) string {
		if p == nil {
			return "–"
		}
		if *p >= 1000 {
			return fmt.Sprintf("%.2f s", *p/1000)
		}
		return fmt.Sprintf("%.0f ms", *p)
	},
	"pct": func(f float64) string { return fmt.Sprintf("%.4g%%", f*100) },
	"budgetPct": func(f float64) string {
		return fmt.Sprintf("%.1f%%", f*100)
	},
	"cov": func(m map[string]float64, w string) string {
		c := m[w]
		switch {
		case c >= 1:
			return ""
		case c >= 0.1:
			return fmt.Sprintf("%.0f%% seen", c*100)
		}
		return fmt.Sprintf("%.2g%% seen", c*100)
	},
	"budgetWidth": func(f float64) string {
		return fmt.Sprintf("%.1f", max(0, min(1, f))*100)
	},
	"budgetClass": func(f float64) string {
		switch {
		case f <= 0:
			return "bad"
		case f < 0.5:
			return "warn"
		}
		return "ok"
	},
	"rate": func(m map[string]float64, w string) string {
		r := m[w]
		if r >= 100 {
			return fmt.Sprintf("%.0f", r)
		}
		return fmt.Sprintf("%.2f", r)
	},
	"rateClass":  rateClass,
	"dict":       func(k string, v float64) map[string]float64 { return map[string]float64{k: v} },
	"ruleLegend": ruleLegend,
	"windows":    func() []string { return burnWindows },
	"ago": func(t time.Time) string {
		d := time.Since(t).Round(time.Second)
		if d < time.Minute {
			return d.String() + " ago"
		}
		return d.Round(time.Minute).String() + " ago"
	},
	"clock":  func(t time.Time) string { return t.UTC().Format("15:04:05Z") },
	"uptime": func(s float64) string { return (time.Duration(s) * time.Second).String() },
	"perSec": func(n int64, s float64) string {
		if s <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f", float64(n)/s)
	},
	"join": strings.Join,
	"trim": truncate,
	"short": func(ids []string, n int) string {
		var out []string
		for _, id := range ids[:min(n, len(ids))] {
			out = append(out, id[:min(12, len(id))])
		}
		return strings.Join(out, " ")
	},
	"domainClass": func(d string) string {
		if d == "" || d == "unknown" {
			return "unknown"
		}
		return "domain"
	},
}

var pageTmpl = template.Must(template.New("page").Funcs(pageFuncs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Service}} · llmslo status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{--bg:#0f1419;--panel:#19202a;--line:#2a3441;--fg:#dfe6ee;--dim:#8b98a8;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--mild:#c9b458;--acc:#58a6ff}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;align-items:baseline;gap:16px;padding:14px 24px;border-bottom:1px solid var(--line);flex-wrap:wrap}
header h1{font-size:20px;margin:0}header .meta{color:var(--dim)}
main{padding:16px 24px;display:grid;gap:16px;grid-template-columns:repeat(12,1fr)}
section{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 16px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--dim);margin:0 0 10px}
.w12{grid-column:span 12}.w8{grid-column:span 8}.w6{grid-column:span 6}.w4{grid-column:span 4}
@media(max-width:900px){.w8,.w6,.w4{grid-column:span 12}}
.cards{display:grid;grid-template-columns:repeat(3,1fr);gap:8px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.card .k{color:var(--dim);font-size:12px}.card .v{font-size:17px;font-variant-numeric:tabular-nums;white-space:nowrap}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
th{color:var(--dim);font-weight:500;font-size:12px}td.num,th.num{text-align:right}td.wrap{white-space:normal}td.wrap code{display:inline-block;white-space:nowrap}
.bar{background:#0b0f14;border-radius:4px;height:8px;width:120px;display:inline-block;vertical-align:middle;margin-right:6px}
.bar i{display:block;height:8px;border-radius:4px}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.mild{color:var(--mild)}
.bar i.ok{background:var(--ok)}.bar i.warn{background:var(--warn)}.bar i.bad{background:var(--bad)}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;border:1px solid var(--line)}
.pill.page{background:#5a1d1d;border-color:var(--bad)}.pill.ticket{background:#4d3b0f;border-color:var(--warn)}
.pill.domain{background:#12324f;border-color:var(--acc)}.pill.unknown{color:var(--dim)}
.fault{background:#4d1f0f;border:1px solid var(--bad);border-radius:6px;padding:6px 12px}
.dim{color:var(--dim)}code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.sigs{display:grid;grid-template-columns:repeat(4,1fr);gap:6px}.sig{border:1px solid var(--line);border-radius:6px;padding:4px 8px;font-size:12px}a{color:var(--acc)}footer{padding:0 24px 16px;color:var(--dim)}
</style></head>
<body>
<header><h1>{{.Service}}</h1>
<span class="meta">llmslo {{.Version}} · up {{uptime .Uptime}} · upstream <b>{{.Upstream.Kind}}</b> <code>{{.Upstream.Model}}</code> · retrieval {{index .Retrieval "documents"}} docs, top-{{index .Retrieval "top_k"}} · {{.Tracker.Requests}} requests · OTLP {{if .OTLP}}on{{else}}off{{end}}</span>
{{if .Fault.Name}}<span class="fault">fault injected: <b>{{.Fault.Name}}</b> ({{.Fault.Plan}}) since {{clock .Fault.Since}}</span>{{end}}
</header>
<main id="main">
<section class="w8"><h2>Latency · last {{.Latency.WindowSeconds}} s · from histogram buckets</h2>
<div class="cards">
{{with .Latency.TTFT}}<div class="card"><div class="k">TTFT p50 / p90 / p99 · {{.Count}} streams</div><div class="v">{{ms .P50}} / {{ms .P90}} / <b>{{ms .P99}}</b></div></div>{{end}}
{{with .Latency.TPOT}}<div class="card"><div class="k">TPOT p50 / p90 / p99 · {{.Count}} streams</div><div class="v">{{ms .P50}} / {{ms .P90}} / <b>{{ms .P99}}</b></div></div>{{end}}
{{with .Latency.E2E}}<div class="card"><div class="k">E2E p50 / p90 / p99 · {{.Count}} requests</div><div class="v">{{ms .P50}} / {{ms .P90}} / <b>{{ms .P99}}</b></div></div>{{end}}
</div></section>
<section class="w4"><h2>Load and probes</h2>
<table>
<tr><td>load generator</td><td class="wrap">{{if .Load.Rate}}{{.Load.Rate}} req/s · {{.Load.Sent}} sent · <span class="ok">{{.Load.OK}} ok</span> · <span class="{{if .Load.Failed}}bad{{end}}">{{.Load.Failed}} failed</span>{{else}}<span class="dim">off (-load N)</span>{{end}}</td></tr>
<tr><td>goodput</td><td class="wrap" title="requests that met every objective that judged them">{{with .Tracker.Goodput}}<b>{{pct .Ratio}}</b> of judged · {{.GoodRequests}} / {{.Requests}} requests · {{.GoodTokens}} / {{.Tokens}} output tokens{{end}} · {{perSec .Tracker.Goodput.GoodTokens .Uptime}} good tokens/s since start</td></tr>
<tr><td>kernel probes</td><td class="wrap"><span class="pill {{if eq .Probes.State "on" "partial"}}domain{{else}}unknown{{end}}">{{.Probes.State}}</span> <span class="dim">{{.Probes.Detail}}</span></td></tr>
{{with .Tracker}}<tr><td>instrumentation</td><td class="wrap"><span class="{{if or .DroppedKernelEvents .LostKernelRecords .DroppedEvents .DroppedIncidents}}bad{{end}}">{{.LostKernelRecords}} kernel records lost · {{.DroppedKernelEvents}} kernel events, {{.DroppedEvents}} SLO events, {{.DroppedIncidents}} incidents dropped</span> · <span class="{{if or .IncidentSinkFailures .EventSinkFailures}}bad{{end}}">{{.IncidentSinkFailures}} incident, {{.EventSinkFailures}} event sink failures</span> · {{.OverheadSheds}} overhead sheds · sidecar <span class="{{if eq .Sidecar "disconnected"}}bad{{end}}">{{.Sidecar}}</span> · rules evaluated {{.LastEvaluation.UTC.Format "15:04:05"}}</td></tr>{{end}}
</table>
</section>
<section class="w12"><h2>Objectives · error budget over 30 days · burn rates</h2>
<table><tr><th>objective</th><th class="num">target</th><th class="num">good / judged</th><th>budget left</th>{{range windows}}<th class="num">{{.}}</th>{{end}}<th>alerting</th></tr>
{{range .Objs}}<tr><td><b>{{.Name}}</b> <span class="pill unknown" title="where the windows' history comes from">{{.Origin}}</span></td><td class="num">{{pct .Target}}</td><td class="num">{{.Good}} / {{.Total}}</td>
<td><span class="bar"><i class="{{budgetClass .BudgetRemaining}}" style="width:{{budgetWidth .BudgetRemaining}}%"></i></span><span class="{{budgetClass .BudgetRemaining}}">{{if .BudgetExhausted}}exhausted{{else}}{{budgetPct .BudgetRemaining}}{{end}}</span>{{if .BudgetExhausted}} <span class="dim" title="1 − bad/((1 − target) × judged)">raw {{budgetPct .BudgetRemainingRaw}}</span>{{end}}{{with cov (dict "p" .BudgetCoverage) "p"}}<div class="dim">{{.}} of the period</div>{{end}}</td>
{{$r := .BurnRates}}{{$c := .Coverage}}{{range windows}}<td class="num {{rateClass $r .}}">{{rate $r .}}{{with cov $c .}}<div class="dim">{{.}}</div>{{end}}</td>{{end}}
<td class="wrap">{{range .Alerting}}<span class="pill page">{{.}}</span> {{else}}<span class="dim">–</span>{{end}}{{range .Waiting}}<div class="dim">waiting · {{.}}</div>{{end}}</td></tr>{{end}}
</table>
<p class="dim">Burn rate = bad share ÷ (1 − target); under it, the share of the window observed so far (live, restored or seeded history). A rule decides once each of its windows is half observed and its long window holds enough requests. {{ruleLegend}}. A TTFT objective counts a request that failed before its first token (429, 5xx, a stream error) as bad, while the TTFT percentiles above are of the streams that produced one: under errors a TTFT objective burns while its p99 looks healthy.</p>
</section>
<section class="w12"><h2>Last incidents</h2>
{{if .Incidents}}<table><tr><th>time</th><th>objective</th><th>severity</th><th>rule</th><th class="num">burn</th><th>predicted fault domain</th><th class="num">confidence</th><th>evidence</th><th>example traces</th></tr>
{{range .Incidents}}<tr><td>{{clock .Time}}<div class="dim">{{ago .Time}}</div></td><td>{{.Objective}}</td><td><span class="pill {{.Severity}}">{{.Severity}}</span></td><td><code>{{.Rule}}</code></td>
<td class="num">{{printf "%.1f" .Impact.BurnRate}}</td><td><span class="pill {{domainClass .PredictedFaultDomain}}">{{.PredictedFaultDomain}}</span></td><td class="num">{{printf "%.2f" .Confidence}}</td>
<td class="wrap">{{range $i, $e := .Evidence}}{{if lt $i 3}}<code>{{$e.Signal}}={{printf "%.4g" $e.Value}}</code> {{end}}{{end}}</td><td class="wrap"><code>{{short .TraceIDs 2}}</code></td></tr>{{end}}
</table>{{else}}<p class="dim">No incident yet. Start with <code>-load 5 -fault provider_throttle</code>, or inject one at run time: <code>POST /api/fault {"name":"provider_throttle"}</code>.</p>{{end}}
</section>
{{if .Probes.Signals}}<section class="w12"><h2>Kernel probes · signal, state, path, reason</h2>
<div class="sigs">{{range .Probes.Signals}}<div class="sig"><code>{{.Signal}}</code> <span class="{{if eq .State "on"}}ok{{else if eq .State "degraded"}}warn{{else}}dim{{end}}">{{.State}}</span>{{if ne .Path "off"}} <span class="dim">{{.Path}}</span>{{end}}{{if .Reason}}<div class="dim" title="{{.Reason}}">{{trim .Reason 70}}</div>{{end}}</div>{{end}}</div>
</section>{{end}}
</main>
<footer>Updated {{clock .Now}} · <a href="/api/status">/api/status</a> (JSON) · <a href="/metrics">/metrics</a> (Prometheus) · refreshes every 2 s</footer>
<script>
setInterval(function(){fetch(location.pathname,{cache:"no-store"}).then(function(r){return r.text()}).then(function(t){
var d=new DOMParser().parseFromString(t,"text/html");["header","main","footer"].forEach(function(s){var n=d.querySelector(s),o=document.querySelector(s);if(n&&o)o.replaceWith(n)})}).catch(function(){})},2000);
</script>
</body></html>
`))

func (a *app) statusPage(w http.ResponseWriter, _ *http.Request) {
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, a.status()); err != nil {
		http.Error(w, "render status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}
