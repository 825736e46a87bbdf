package report

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mqtthil/mqtthil/controller"
)

// eagerDiagrams is how many unsuccessful scenarios the page draws as it
// loads; every other scenario's body (diagram, steps, account) is kept as
// text in the page and drawn when the scenario is opened, so a run of
// thousands of scenarios opens about as fast as one of a few.
const eagerDiagrams = 20

// outcomeRank orders the page: what needs a look first.
var outcomeRank = map[string]int{Failed: 0, Error: 1, TimedOut: 2, Diverged: 3, Passed: 4, Skipped: 5}

// WriteHTMLFile writes the run's report.html into its folder.
func WriteHTMLFile(run *Run) error {
	return writeFile(filepath.Join(run.Dir, HTMLFile), func(w io.Writer) error { return WriteHTML(w, run) })
}

// Regenerate reads a run folder and writes its report.html again.
func Regenerate(dir string) (*Run, error) {
	run, err := LoadRun(dir)
	if err != nil {
		return nil, err
	}
	return run, WriteHTMLFile(run)
}

// WriteHTML writes one self-contained page: a summary of the run, then
// each scenario with its steps, its account and its sequence diagram,
// unsuccessful scenarios first and open. Nothing is fetched at view time.
func WriteHTML(w io.Writer, run *Run) error {
	var b strings.Builder
	m := run.Manifest
	counts := run.Counts()
	title := fmt.Sprintf("mqtthil run %s — %s", m.Started.Format("2006-01-02 15:04:05"), countLine(counts, len(run.Scenarios)))
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
	fmt.Fprintf(&b, "<title>%s</title>", esc(title))
	b.WriteString(`<meta name="viewport" content="width=device-width, initial-scale=1">`)
	b.WriteString("<style>" + css + "</style></head><body>\n")
	b.WriteString(markers)
	fmt.Fprintf(&b, `<header><h1>mqtthil run report</h1><div class="counts">`)
	for _, o := range Outcomes {
		fmt.Fprintf(&b, `<button class="cnt o-%s" data-o="%s" title="show only %s scenarios"><b>%d</b> %s</button>`, cls(o), cls(o), o, counts[o], o)
	}
	fmt.Fprintf(&b, `<button class="cnt all" data-o="" title="show every scenario"><b>%d</b> in all</button></div>`, len(run.Scenarios))
	b.WriteString(`<dl class="sum">`)
	id := m.Controller
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "<div><dt>%s</dt><dd>%s</dd></div>", esc(k), esc(v))
		}
	}
	row("controller", identityLine(id))
	for _, c := range m.Controllers {
		row("controller at "+c.Station, identityLine(c))
	}
	fps := m.StationFingerprints
	if len(fps) == 0 && m.Fingerprint != nil {
		fps = []*Fingerprint{m.Fingerprint}
	}
	for _, fp := range fps {
		warn, dt := "", "fingerprint"
		if !fp.Agrees {
			warn = ` class="warn"`
		}
		if fp.Station != "" {
			dt += " at " + fp.Station
		}
		fmt.Fprintf(&b, "<div%s><dt>%s</dt><dd>%s</dd></div>", warn, esc(dt), esc(fp.Summary()))
	}
	row("station", m.Station)
	if len(m.Shards) > 0 {
		var parts []string
		for _, sh := range m.Shards {
			p := sh.Folder
			if sh.Shard != nil {
				p = fmt.Sprintf("%d/%d %s", sh.Shard.Index, sh.Shard.Total, sh.Folder)
			}
			parts = append(parts, fmt.Sprintf("%s (%s, seed %d)", p, sh.Station, sh.Seed))
		}
		row("merged from", strings.Join(parts, "; "))
	}
	if sh := m.Shard; sh != nil {
		row("shard", fmt.Sprintf("%d/%d of %d scenarios, by %s", sh.Index, sh.Total, sh.Selected, sh.By))
	}
	for _, e := range m.StationEvents {
		row("station pool", e)
	}
	row("seed", fmt.Sprint(m.Seed))
	row("time scale", fmt.Sprint(m.TimeScale))
	if !m.Started.IsZero() {
		row("started", m.Started.Format(time.RFC3339))
		row("duration", m.Ended.Sub(m.Started).Round(time.Millisecond).String())
	}
	row("tags", m.Tags)
	row("features", fmt.Sprint(len(m.Features)))
	row("harness", m.Harness)
	b.WriteString("</dl><noscript><p>Without JavaScript only the unsuccessful scenarios shown open can be read; the others are drawn when opened.</p></noscript></header>\n<main>\n")

	order := slices.Clone(run.Scenarios)
	slices.SortStableFunc(order, func(a, b *ScenarioFile) int { return cmp.Compare(outcomeRank[a.Outcome], outcomeRank[b.Outcome]) })
	eager := 0
	for i, sf := range order {
		bad := sf.Outcome != Passed && sf.Outcome != Skipped
		open := bad && eager < eagerDiagrams
		if open {
			eager++
		}
		writeScenario(&b, run, sf, i, open)
	}
	if len(order) == 0 {
		b.WriteString(`<p class="none">This run has no scenarios.</p>`)
	}
	b.WriteString("</main>\n<script>" + script + "</script>\n</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeScenario(b *strings.Builder, run *Run, sf *ScenarioFile, i int, open bool) {
	o := cls(sf.Outcome)
	fmt.Fprintf(b, `<details class="sc o-%s" id="sc%d"`, o, i)
	if open {
		b.WriteString(" open")
	}
	fmt.Fprintf(b, `><summary><span class="ob o-%s">%s</span> <span class="fe">%s</span> <span class="nm">%s</span> <span class="du">%s</span></summary>`,
		o, esc(sf.Outcome), esc(sf.URI), esc(sf.Name), roundDur(sf.Ended.Sub(sf.Started)))
	if !open {
		// The body is drawn when the scenario is opened: a closed
		// scenario costs the page two elements, not a hundred. The body
		// holds no "<" but its own tags, as every text in it is escaped.
		b.WriteString(`<script type="text/x-mqtthil-body">`)
	}
	b.WriteString(`<div class="bd"><div class="dg">`)
	b.WriteString(newDiagram(sf, fmt.Sprintf("d%d", i)).SVG())
	b.WriteString(`</div><aside class="ac">`)
	switch sf.Outcome {
	case Passed:
	case Skipped:
		fmt.Fprintf(b, `<h3>Skipped</h3><p>%s</p>`, esc(sf.Skipped))
	default:
		fmt.Fprintf(b, `<h3>%s</h3>`, esc(headline(sf.Outcome)))
		if fs := sf.FailedStep; fs != nil {
			fmt.Fprintf(b, `<p class="fs"><span class="loc">%s:%d</span><br>%s</p>`, esc(fs.File), fs.Line, esc(fs.Text))
		}
		fmt.Fprintf(b, `<pre class="err">%s</pre>`, esc(sf.Error))
	}
	if st := run.Steps[sf.File]; len(st) > 0 {
		b.WriteString(`<h3>Steps</h3><ol class="steps">`)
		for _, s := range st {
			fmt.Fprintf(b, `<li class="s-%s"><span class="k">%s</span> %s <span class="ln">:%d</span></li>`, cls(s.Status), esc(s.Keyword), esc(s.Text), s.Line)
		}
		b.WriteString(`</ol>`)
	}
	if len(sf.Faults) > 0 {
		b.WriteString(`<h3>Faults</h3><ul class="fa">`)
		for _, f := range sf.Faults {
			note := ""
			if f.Optional {
				note = " (may not fire)"
			}
			fmt.Fprintf(b, `<li>%s: fired %d× <span class="ln">%s%s</span></li>`, esc(f.Match), f.Fired, esc(f.From), note)
		}
		b.WriteString(`</ul>`)
	}
	b.WriteString(`<h3>Evidence</h3><ul class="ev">`)
	if len(sf.Tags) > 0 {
		fmt.Fprintf(b, `<li>tags %s</li>`, esc(strings.Join(sf.Tags, " ")))
	}
	fmt.Fprintf(b, `<li>seed %d</li>`, sf.Seed)
	if id := sf.Identity; id.Station != "" || id.Kind != "" {
		fmt.Fprintf(b, `<li class="st">station %s · controller %s</li>`, esc(cmp.Or(id.Station, run.Manifest.Station)), esc(identityLine(id)))
	}
	fmt.Fprintf(b, `<li><a href="%s/%s">%s</a></li>`, ScenariosDir, esc(sf.File), esc(sf.File))
	if sf.JournalFile != "" {
		n := fmt.Sprintf("%d records", len(sf.Records))
		if sf.JournalStats != nil && sf.JournalStats.Lost > 0 {
			n += fmt.Sprintf(", %d past the journal's cap", sf.JournalStats.Lost)
		}
		fmt.Fprintf(b, `<li><a href="%s/%s">%s</a> (%s)</li>`, ScenariosDir, esc(sf.JournalFile), esc(sf.JournalFile), n)
	}
	b.WriteString("</ul></aside></div>")
	if !open {
		b.WriteString(`</script>`)
	}
	b.WriteString("</details>\n")
}

func headline(outcome string) string {
	switch outcome {
	case Error:
		return "Error: the harness or the bench broke"
	case TimedOut:
		return "Timed out"
	case Diverged:
		return "Expected divergence: listed in difftest/divergences.yaml"
	}
	return "Failed: the controller broke a promise"
}

func countLine(counts map[string]int, total int) string {
	var parts []string
	for _, o := range Outcomes {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	if len(parts) == 0 {
		return "no scenarios"
	}
	return fmt.Sprintf("%d scenarios: %s", total, strings.Join(parts, ", "))
}

func cls(s string) string { return strings.ReplaceAll(s, " ", "-") }

func firmware(s string) string {
	if s == "" {
		return ""
	}
	return "firmware " + s
}

func driver(s string) string {
	if s == "" {
		return ""
	}
	return "driver " + s
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Station names the bench a run ran on: $MQTTHIL_STATION, or the host's
// name when that is not set.
func Station() string {
	if s := os.Getenv("MQTTHIL_STATION"); s != "" {
		return s
	}
	h, err := os.Hostname()
	if err != nil {
		// A host that cannot name itself leaves the station unnamed
		// rather than failing the run's reports.
		return ""
	}
	return h
}

// markers are the arrow heads every diagram uses, defined once.
const markers = `<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>` +
	`<marker id="ah" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#333"/></marker>` +
	`<marker id="ahg" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#777"/></marker>` +
	`<marker id="ahb" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#1565c0"/></marker>` +
	`<marker id="ahr" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#c62828"/></marker>` +
	`<marker id="aht" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#00796b"/></marker>` +
	`</defs></svg>`

const css = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#fff;border-bottom:1px solid #ddd;padding:12px 20px}
h1{font-size:20px;margin:0 0 8px}
.counts{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:8px}
.cnt{border:1px solid #ccc;border-radius:14px;padding:3px 12px;background:#fafafa;cursor:pointer;font:inherit}
.cnt b{font-size:16px}
.cnt.sel{outline:2px solid #333}
.o-failed{--c:#c62828}.o-error{--c:#6a1b9a}.o-timed-out{--c:#ef6c00}.o-passed{--c:#2e7d32}.o-skipped{--c:#757575}.o-expected-divergence{--c:#00838f}
.cnt[class*=o-]{border-color:var(--c);color:var(--c)}
.sum{display:flex;flex-wrap:wrap;gap:2px 22px;font-size:13px;margin:0}
.sum div{display:flex;gap:6px}.sum dt{color:#666}.sum dd{margin:0}
.sum .warn dd{color:#c62828;font-weight:600}
main{padding:12px 20px}
.sc{content-visibility:auto;contain-intrinsic-size:auto 36px;background:#fff;border:1px solid #ddd;border-left:5px solid var(--c);border-radius:4px;margin:0 0 6px}
.sc>summary{cursor:pointer;padding:6px 10px;list-style-position:inside}
.ob{display:inline-block;min-width:64px;color:#fff;background:var(--c);border-radius:3px;padding:0 6px;font-size:12px;text-align:center}
.fe{color:#666;font-size:12px}.nm{font-weight:600}.du{color:#888;font-size:12px;float:right}
.bd{display:grid;grid-template-columns:minmax(0,1fr) 340px;gap:14px;padding:6px 10px 12px;border-top:1px solid #eee}
.dg{overflow-x:auto;min-width:0}
.dg svg{max-width:100%;height:auto;display:block}
.ac{font-size:13px;min-width:0}
.ac h3{font-size:13px;margin:6px 0 4px;color:#444}
.o-failed .ac h3:first-child,.o-error .ac h3:first-child,.o-timed-out .ac h3:first-child{color:var(--c)}
.fs .loc{color:#666;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
.fs{margin:0 0 4px;font-weight:600}
pre.err{white-space:pre-wrap;word-break:break-word;background:#fff4f4;border:1px solid #f0caca;padding:6px;margin:0;font-size:12px;max-height:340px;overflow:auto}
.steps{padding-left:20px;margin:0}.steps li{margin:1px 0}
.steps .k{font-weight:600}.steps .ln{color:#999;font-size:11px}
.s-failed,.s-undefined{color:#c62828;font-weight:600}.s-skipped{color:#999}.s-pending{color:#ef6c00}
.ev{padding-left:18px;margin:0;color:#555;overflow-wrap:anywhere}
body.f-failed .sc:not(.o-failed),body.f-error .sc:not(.o-error),body.f-timed-out .sc:not(.o-timed-out),body.f-passed .sc:not(.o-passed),body.f-skipped .sc:not(.o-skipped),body.f-expected-divergence .sc:not(.o-expected-divergence){display:none}
.sq text{font:12px system-ui,"DejaVu Sans",sans-serif;text-anchor:middle;fill:#222}
.sq .lh{fill:#eef1f5;stroke:#99a}.sq .lf{fill:#fdecec;stroke:#c62828}.sq .ls{fill:#e6f4f1;stroke:#00796b}
.sq .lt{font-weight:600}
.sq .ll{stroke:#bbb;stroke-dasharray:3 3}
.sq path{fill:none;stroke-width:1.4}
.sq .ca{stroke:#333;marker-end:url(#ah)}
.sq .re{stroke:#777;stroke-dasharray:4 3;marker-end:url(#ahg)}
.sq .rf{stroke:#c62828;stroke-dasharray:4 3;marker-end:url(#ahr)}
.sq .cb{stroke:#1565c0;marker-end:url(#ahb)}
.sq .os{stroke:#00796b;marker-end:url(#aht)}
.sq .pk{stroke:#333;marker-end:url(#ah)}.sq .pk.n{marker-end:none}
.sq .pf{stroke:#c62828;stroke-dasharray:5 2;marker-end:url(#ahr)}
.sq .x{stroke:#c62828;stroke-width:2.4}
.sq .fd{fill:#c62828}
.sq .br{stroke-width:1.6}
.sq .bx{stroke:#c62828;stroke-dasharray:2 2}
.sq .bxt{fill:#c62828;text-anchor:start;font-size:11px}
.sq .tca{fill:#111}.sq .tre{fill:#555}.sq .trf{fill:#c62828;font-weight:600}.sq .tcb{fill:#1565c0}.sq .tos{fill:#00796b}
.sq .tpk{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:11px}
.sq .nf{fill:#c62828;font-size:11px;font-weight:600}
.sq .nt{fill:#777;font-style:italic;font-size:11px}
.sq .tm{fill:#999;font-size:10px;text-anchor:start}
.sq .gap{fill:#777;font-style:italic}
.sq .end{stroke:var(--c);stroke-width:2}.sq .te{fill:var(--c);font-weight:700;text-anchor:start}
.sq a text{text-decoration:underline}
.sq g:target text{font-weight:700}
.sq g:target path{stroke-width:3}
@media (max-width:1000px){.bd{grid-template-columns:1fr}}
`

// script draws a kept diagram when its scenario opens, and filters the
// list by outcome.
const script = `
document.addEventListener('toggle',function(e){var d=e.target;if(!d.open||!d.classList||!d.classList.contains('sc'))return;
var s=d.querySelector('script[type="text/x-mqtthil-body"]');if(s){s.insertAdjacentHTML('afterend',s.textContent);s.remove();}},true);
function reveal(){var h=location.hash.slice(1);if(!h)return;var t=document.getElementById(h);if(t&&t.tagName==='DETAILS')t.open=true;}
window.addEventListener('hashchange',reveal);reveal();
document.querySelectorAll('.cnt').forEach(function(btn){btn.addEventListener('click',function(){
var o=btn.getAttribute('data-o');document.body.className=o?'f-'+o:'';
document.querySelectorAll('.cnt').forEach(function(x){x.classList.toggle('sel',x===btn&&!!o);});});});
`

func roundDur(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// identityLine names a controller in one line.
func identityLine(id controller.Identity) string {
	return strings.TrimSpace(strings.Join(nonEmpty(id.Kind, id.Model, firmware(id.Firmware), driver(id.DriverVersion), id.DeviceID), " · "))
}
