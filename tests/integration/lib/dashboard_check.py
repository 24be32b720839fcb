"""The browser half of tests/integration/dashboard.sh: drives the dashboard
of two running agents in a headless Chromium (lib/cdp.py) and prints
ok / not ok lines. Exits 1 if any check failed.

  dashboard_check.py ANON_URL TOKEN_URL READ_TOKEN ADMIN_TOKEN TOKEN_AGENT_PID WORKLOAD PEER SHOT TMPDIR

ANON_URL: an agent with http.anonymous_read (lulea-1), whose peer is PEER
and which can move WORKLOAD there; the browser's part POSTs the manual
migration (as admin) and follows it on the page. TOKEN_URL: an agent
without anonymous reads (falkenberg-1) that knows READ_TOKEN (role read);
TOKEN_AGENT_PID is stopped (SIGSTOP) for a while to see the page say the
agent is unreachable, then continued. SHOT: where the screenshot goes.
"""
import json
import os
import signal
import sys
import time
import urllib.request
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

(anon_url, token_url, read_token, admin_token, token_pid, workload, peer, shot,
 tmpdir) = sys.argv[1:10]
token_pid = int(token_pid)
PHASES = ["reserved", "precopy", "delta", "switchover", "restoring", "cutover", "done",
          "rolling-back", "rolled-back"]
failures = 0


def ok(msg):
    print("ok - " + msg, flush=True)


def not_ok(msg):
    global failures
    failures += 1
    print("not ok - " + msg, flush=True)


def check(cond, msg, why=""):
    if cond:
        ok(msg)
    else:
        not_ok(msg + (": " + why if why else ""))
    return bool(cond)


def no_errors(page, what):
    errs = page.take_errors()
    check(not errs, "%s: no console errors, exceptions or failed loads" % what, "; ".join(errs))


def js_text(sel):
    """JS: the innerText of the first element matching sel, or ''."""
    return "((document.querySelector(%s) || {}).innerText || '')" % json.dumps(sel)


# A chart is drawn when each of its lines has at least two points that
# land inside the plot (a path with a real extent).
CHART_LINES = """(() => {
  const out = {};
  for (const p of document.querySelectorAll('#%s path.series')) {
    const pts = (p.getAttribute('d') || '').split(/[ML]/).filter(Boolean).length;
    const box = p.getBBox();
    out[p.dataset.metric] = pts >= 2 && box.width > 0 ? pts : 0;
  }
  return out;
})()"""


def wait_chart(page, chart, want_metric, seconds):
    lines = page.wait_for("(() => { const l = %s; return l[%s] ? l : null; })()"
                          % (CHART_LINES % chart, json.dumps(want_metric)), seconds)
    return lines or page.eval(CHART_LINES % chart)


def admin_post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": "Bearer " + admin_token,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def anonymous_part(page):
    page.navigate(anon_url + "/")
    check(page.wait_for("Number(document.body.dataset.refreshes || 0) >= 1", 20),
          "anonymous_read: the page reads the agent without a token",
          page.eval("document.getElementById('conn').innerText"))
    check(page.eval("document.getElementById('login').hidden"),
          "anonymous_read: no token is asked for")
    kw = wait_chart(page, "chart-kw", "it.load_kw", 25)
    check(kw.get("it.load_kw") and kw.get("cooling.capacity_kw") and kw.get("supply.total_kw"),
          "the kW chart draws it.load_kw, cooling.capacity_kw and supply.total_kw (points per line: %s)"
          % json.dumps(kw))
    temp = wait_chart(page, "chart-temp", "room.inlet_c", 10)
    check(temp.get("room.inlet_c"),
          "the temperature chart draws room.inlet_c (points per line: %s)" % json.dumps(temp))
    check("kW" in page.eval(js_text("#legend-kw")) and "C" in page.eval(js_text("#legend-temp")),
          "the legends give each line's value and unit")
    pol = page.wait_for(js_text('#policies [data-policy="it-load-watch"]') + " || null", 10) or ""
    check("firing" in pol.lower() and "IT load is drawn" in pol,
          "policies: it-load-watch shows its state and description", repr(pol))
    pol2 = page.eval(js_text('#policies [data-policy="room-inlet-high"]'))
    check("ok" in pol2.lower() and "ASHRAE" in pol2,
          "policies: room-inlet-high shows state ok and its description", repr(pol2))
    spare = page.wait_for(
        "(() => { const t = %s; return /^\\d+ kW$/.test(t.trim()) ? t : null; })()"
        % js_text('#peers [data-peer="%s"] .spare' % peer), 10)
    check(spare, "peers: %s with its spare kW (%s)" % (peer, (spare or "").strip()),
          page.eval(js_text("#peers")))
    dec = page.wait_for("(() => { const t = %s; return t.includes('it-load-watch') ? t : null; })()"
                        % js_text("#decisions .decision"), 10) or ""
    check("notified" in dec.lower(), "decisions: it-load-watch's decision is on the timeline",
          repr(dec))
    # The chart range: a button, kept in the browser; 1 h at 240 points is
    # one point per 15 s.
    page.click('.range-btn[data-range="3600"]')
    check(page.wait_for("[...performance.getEntriesByType('resource')].some(e => /step=15$/.test(e.name))", 10)
          and page.eval("localStorage.getItem('floe.dashboard.range_s')") == "3600",
          "the 1 h button asks for an hour's history and is kept")
    page.click('.range-btn[data-range="900"]')
    # A kept token that is no longer valid, where reads need none, is dropped.
    page.eval("localStorage.setItem('floe.dashboard.token', 'revoked-token')")
    page.reload()
    check(page.wait_for("Number(document.body.dataset.refreshes || 0) >= 1", 15) and
          page.eval("document.getElementById('login').hidden") and
          page.eval("localStorage.getItem('floe.dashboard.token')") is None and
          page.eval("document.getElementById('forget-token').hidden"),
          "anonymous_read: a kept token that is refused is dropped, the page reads without one")
    no_errors(page, "anonymous_read page")


def migration_part(page):
    status, answer = admin_post(anon_url + "/v1/migrations", {"workload": workload, "to": peer})
    if not check(status == 201, "POST /v1/migrations moves %s to %s" % (workload, peer),
                 "%s %s" % (status, answer)):
        return
    mid = answer["id"]
    row = '#migrations [data-workload="%s"]' % workload
    seen = page.wait_for("(() => { const r = document.querySelector(%s); return r ? r.dataset.phase : null; })()"
                         % json.dumps(row), 15)
    check(seen in PHASES, "the migration of %s appears on the page with its phase (%s)" % (workload, seen))
    text = page.eval(js_text(row))
    check(workload in text and peer in text and seen in text.lower(),
          "its row names the workload, the peer and the phase", repr(text))
    page.screenshot(shot)
    check(os.path.getsize(shot) > 10000, "screenshot %s (the migration in phase %s)" % (shot, seen))
    # The page follows it to its end (the API's own answer says which).
    end = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with urllib.request.urlopen(urllib.request.Request(
                anon_url + "/v1/migrations/%d" % mid), timeout=10) as r:
            m = json.loads(r.read())
        if m.get("result"):
            end = m["phase"]
            break
        page.b.pump(0.5)
    shown = page.wait_for("(() => { const r = document.querySelector(%s); return r && r.dataset.phase == %s ? r.dataset.phase : null; })()"
                          % (json.dumps(row), json.dumps(end)), 15) if end else None
    check(end and shown == end, "the page follows the migration to its end (%s)" % end,
          "page shows %s" % page.eval("(document.querySelector(%s) || {dataset: {}}).dataset.phase" % json.dumps(row)))
    chain = page.eval("[...document.querySelectorAll(%s)].map(e => e.textContent + ':' + e.className).join(' ')"
                      % json.dumps(row + " .phases span"))
    check("done:now" in chain, "the phase chain marks done", chain)
    no_errors(page, "page during the migration")


def token_part(page):
    page.navigate(token_url + "/")
    why = page.wait_for("!document.getElementById('login').hidden && document.getElementById('login-why').innerText", 15)
    check(why and "needs a read token" in why, "without anonymous_read the page asks for the read token",
          repr(why))
    check(page.eval("document.body.dataset.refreshes") is None,
          "and reads nothing before it has one")
    no_errors(page, "token form")
    page.type_into("#login-token", "not-the-token")
    page.click("#login-submit")
    why = page.wait_for("(() => { const t = document.getElementById('login-why').innerText;"
                        " return t.includes('refused') ? t : null; })()", 10)
    check(why and not page.eval("document.getElementById('login').hidden"),
          "a wrong token is refused and asked for again, saying so", repr(why))
    check(page.eval("localStorage.getItem('floe.dashboard.token')") is None,
          "a refused token is not kept")
    page.type_into("#login-token", read_token)
    page.click("#login-submit")
    check(page.wait_for("document.getElementById('login').hidden && Number(document.body.dataset.refreshes || 0) >= 1", 15),
          "the read token entered once opens the dashboard")
    pol = page.wait_for(js_text('#policies [data-policy="cooling-margin"]') + " || null", 10) or ""
    check("Cooling keeps a margin" in pol, "policies with descriptions through the token", repr(pol))
    check(page.eval("localStorage.getItem('floe.dashboard.token')") == read_token,
          "the token is kept in the browser's localStorage")
    page.reload()
    check(page.wait_for("Number(document.body.dataset.refreshes || 0) >= 1", 15) and
          page.eval("document.getElementById('login').hidden"),
          "after a reload the page reads with the kept token, without asking")
    kw = wait_chart(page, "chart-kw", "it.load_kw", 25)
    check(kw.get("it.load_kw"), "the kW chart is drawn with the token (%s)" % json.dumps(kw))
    no_errors(page, "token page")


def unreachable_part(page):
    os.kill(token_pid, signal.SIGSTOP)
    try:
        text = page.wait_for("document.body.dataset.conn == 'unreachable' && document.getElementById('conn').innerText", 20)
        check(text and "UNREACHABLE" in text,
              "an agent that stops answering shows as unreachable, with the last data's age", repr(text))
        check(page.eval("parseFloat(getComputedStyle(document.querySelector('main')).opacity) < 1"),
              "and the old data is dimmed")
    finally:
        os.kill(token_pid, signal.SIGCONT)
    check(page.wait_for("document.body.dataset.conn == 'live'", 20), "once it answers again the page is live")
    # A fetch given up on (timeout) may be logged as a failed load; nothing else may.
    errs = [e for e in page.take_errors() if not e.startswith("network:")]
    check(not errs, "unreachable: no errors but failed loads", "; ".join(errs))


def forget_part(page):
    page.click("#forget-token")
    why = page.wait_for("!document.getElementById('login').hidden && document.getElementById('login-why').innerText", 10)
    check(why and "needs a read token" in why and
          page.eval("localStorage.getItem('floe.dashboard.token')") is None,
          "\"Forget the token\" drops it and asks again", repr(why))
    no_errors(page, "forgetting the token")


def network_checks(page):
    hosts = sorted({urlparse(u).netloc for u in page.requests if urlparse(u).scheme in ("http", "https")})
    allowed = {urlparse(anon_url).netloc, urlparse(token_url).netloc}
    other = [u for u in page.requests if urlparse(u).scheme not in ("http", "https", "data", "about")]
    check(set(hosts) <= allowed and not other, "the page loaded from its agents only (%s)" % ", ".join(hosts),
          "also: " + ", ".join(other + [h for h in hosts if h not in allowed]))
    check(not any(read_token in u for u in page.requests), "the token never appears in a URL")


def main():
    log = os.path.join(tmpdir, "chromium.log")
    try:
        browser = cdp.Browser(os.path.join(tmpdir, "chromium-profile"), log)
        page = browser.new_page(1920, 1080)
    except (cdp.CdpError, OSError) as e:
        not_ok("chromium starts: %s" % e)
        return 1
    try:
        anonymous_part(page)
        migration_part(page)
        token_part(page)
        unreachable_part(page)
        forget_part(page)
        network_checks(page)
    except cdp.CdpError as e:
        not_ok("the browser: %s" % e)
    finally:
        browser.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
