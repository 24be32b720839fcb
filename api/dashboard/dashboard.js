/*
 * floe dashboard: reads the agent's API (the same origin that served the
 * page) every REFRESH_MS and draws it. Nothing else is loaded; the page
 * builds every element with textContent, never with markup from an answer.
 *
 * Auth: before it reads, the page asks GET /v1/auth (open) whether it may
 * read with the token it holds (none, or the one kept in localStorage).
 * With http.anonymous_read it reads without one; otherwise it asks for the
 * read token once, keeps it in localStorage (per agent: per origin) and
 * sends it as "Authorization: Bearer", never in a URL. A refused token
 * (401/403 from any read) brings the form back, saying why.
 *
 * Connection: every request times out after TIMEOUT_MS. A failed refresh
 * marks the page "unreachable"; no good refresh for STALE_AFTER_MS marks it
 * "stale". Either way the last data stays, dimmed, with its age.
 */
'use strict';

(function () {
    const REFRESH_MS = 5000;
    const TIMEOUT_MS = 4000;
    const STALE_AFTER_MS = 3 * REFRESH_MS;
    const TOKEN_KEY = 'floe.dashboard.token';
    const RANGE_KEY = 'floe.dashboard.range_s';
    const RANGES_S = [900, 3600, 21600, 86400];
    const CHART_POINTS = 240;        /* history points per chart line */
    const MAX_KW_SERIES = 5;
    const MAX_TEMP_SERIES = 6;
    const COLORS = ['#4cc9f0', '#f8961e', '#90be6d', '#f94144', '#c77dff', '#f9c74f'];
    const PHASES = ['reserved', 'precopy', 'delta', 'switchover', 'restoring', 'cutover', 'done'];
    const SVG_NS = 'http://www.w3.org/2000/svg';

    const st = {
        token: storageGet(TOKEN_KEY),
        rangeS: RANGES_S.includes(Number(storageGet(RANGE_KEY))) ? Number(storageGet(RANGE_KEY)) : 900,
        authorized: false,
        loginOpen: false,
        lastOkMs: 0,
        failure: null,          /* 'unreachable' or 'error' after a failed refresh, else null */
        failureText: '',
        failingSinceMs: 0,
        timer: null,
        running: false,
        refreshes: 0,
        timeZone: undefined,
        serverSkewMs: 0,        /* agent clock minus browser clock */
        charts: {kw: null, temp: null},
    };

    /* ---- small helpers ---- */

    function storageGet(key) {
        try { return window.localStorage.getItem(key); } catch (e) { return null; }
    }
    function storageSet(key, value) {
        try {
            if (value === null) window.localStorage.removeItem(key);
            else window.localStorage.setItem(key, value);
        } catch (e) { /* private mode: the token lasts as long as the page */ }
    }

    function $(id) { return document.getElementById(id); }

    /* h('div', {class: 'row'}, child, 'text', ...): an element; null and
     * undefined children are skipped, strings become text nodes. */
    function h(tag, attrs, ...children) {
        const el = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (v === null || v === undefined || v === false) continue;
            if (k === 'class') el.className = v;
            else el.setAttribute(k, v === true ? '' : String(v));
        }
        for (const c of children) {
            if (c === null || c === undefined) continue;
            el.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
        }
        return el;
    }
    function s(tag, attrs) {
        const el = document.createElementNS(SVG_NS, tag);
        for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
        return el;
    }

    function fmtNum(v) {
        if (v === null || v === undefined || !Number.isFinite(v)) return '–';
        const a = Math.abs(v);
        if (a >= 100) return v.toFixed(0);
        if (a >= 10) return v.toFixed(1);
        return v.toFixed(2);
    }
    function fmtKw(v) {
        return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(0);
    }

    function timeFormat(opts) {
        try { return new Intl.DateTimeFormat('en-GB', Object.assign({hour12: false, timeZone: st.timeZone}, opts)); }
        catch (e) { return new Intl.DateTimeFormat('en-GB', Object.assign({hour12: false}, opts)); }
    }
    function fmtTime(ms) {
        if (!Number.isFinite(ms)) return '–';
        return timeFormat({hour: '2-digit', minute: '2-digit', second: '2-digit'}).format(new Date(ms));
    }
    function fmtHourMinute(ms) {
        return timeFormat({hour: '2-digit', minute: '2-digit'}).format(new Date(ms));
    }
    function fmtDuration(secs) {
        if (secs === null || secs === undefined || !Number.isFinite(secs)) return '–';
        secs = Math.max(0, Math.round(secs));
        const two = (big, bigUnit, small, smallUnit) => big + ' ' + bigUnit + (small ? ' ' + small + ' ' + smallUnit : '');
        if (secs < 60) return secs + ' s';
        if (secs < 3600) return two(Math.floor(secs / 60), 'min', secs % 60, 's');
        if (secs < 86400) return two(Math.floor(secs / 3600), 'h', Math.floor(secs % 3600 / 60), 'min');
        return two(Math.floor(secs / 86400), 'd', Math.floor(secs % 86400 / 3600), 'h');
    }
    function serverNow() { return Date.now() + st.serverSkewMs; }
    function ago(iso) {
        const t = Date.parse(iso);
        return Number.isFinite(t) ? fmtDuration((serverNow() - t) / 1000) + ' ago' : '';
    }

    /* ---- the API ---- */

    class HttpError extends Error {
        constructor(status, message) { super(message); this.status = status; }
    }
    class NetError extends Error {}

    /* GET path as JSON; the token, when there is one, in the header. */
    async function api(path, token) {
        const headers = {'Accept': 'application/json'};
        const t = token === undefined ? st.token : token;
        if (t) headers['Authorization'] = 'Bearer ' + t;
        const ctl = new AbortController();
        const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
        try {
            let r;
            try {
                r = await fetch(path, {headers, cache: 'no-store', signal: ctl.signal});
            } catch (e) {
                throw new NetError(e.name === 'AbortError'
                    ? 'no answer within ' + TIMEOUT_MS / 1000 + ' s' : 'cannot connect to the agent');
            }
            let body = null;
            try { body = await r.json(); } catch (e) {
                if (e.name === 'AbortError') throw new NetError('answer cut off');
            }
            if (!r.ok) throw new HttpError(r.status, (body && body.error) || r.statusText || 'HTTP ' + r.status);
            if (body === null) throw new HttpError(r.status, path + ': the answer is not JSON');
            return body;
        } finally {
            clearTimeout(timer);
        }
    }

    /* ---- auth ---- */

    /* Asks /v1/auth whether token may read. True when it may; otherwise
     * opens the form with the reason and returns false. */
    async function authorize(token, fromForm) {
        const a = await api('/v1/auth', token || null);
        if (a.read) {
            st.authorized = true;
            return true;
        }
        /* A kept token that no longer works, where reads need none: drop it. */
        if (!fromForm && token && a.token === 'invalid' && a.anonymous_read) {
            keepToken(null);
            return authorize(null, false);
        }
        let why;
        if (a.token === 'invalid')
            why = 'The token was refused: this agent has no such token. Enter the read token again.';
        else if (a.token === 'valid')
            why = 'The token "' + a.name + '" has the role ' + a.role + ', which may not read here. Enter a read token.';
        else
            why = 'This agent needs a read token to show its data.';
        openLogin(why, fromForm || a.token !== 'none');
        return false;
    }

    function openLogin(why, refused) {
        st.authorized = false;
        st.loginOpen = true;
        $('login-why').textContent = why;
        $('login-form').classList.toggle('refused', !!refused);
        $('login').hidden = false;
        setConn('auth', 'waiting for a read token');
        $('login-token').focus();
        $('login-token').select(); /* a refused token is typed over */
    }

    function closeLogin() {
        st.loginOpen = false;
        $('login').hidden = true;
        $('login-token').value = '';
    }

    /* The token used from now on (null: none), kept in the browser. */
    function keepToken(token) {
        st.token = token;
        storageSet(TOKEN_KEY, token);
        $('forget-token').hidden = !token;
    }

    async function submitLogin(ev) {
        ev.preventDefault();
        const token = $('login-token').value.trim();
        if (!token) return;
        $('login-submit').disabled = true;
        try {
            /* Kept only once the agent accepts it for reading. */
            if (await authorize(token, true)) {
                keepToken(token);
                closeLogin();
                schedule(0);
            }
        } catch (e) {
            connectionFailed(e);
            $('login-why').textContent = 'Cannot check the token: ' + e.message;
        } finally {
            $('login-submit').disabled = false;
        }
    }

    function forgetToken() {
        keepToken(null);
        st.authorized = false;
        schedule(0);
    }

    /* ---- the refresh loop ---- */

    function schedule(ms) {
        clearTimeout(st.timer);
        st.timer = setTimeout(cycle, ms);
    }

    async function cycle() {
        if (st.running) return;
        st.running = true;
        try {
            if (!st.authorized && !(await authorize(st.token, false)))
                return; /* the form's submit starts the loop again */
            await refresh();
            st.lastOkMs = Date.now();
            st.failure = null;
            st.refreshes++;
            document.body.dataset.refreshes = String(st.refreshes);
            setConn('live');
        } catch (e) {
            if (e instanceof HttpError && (e.status === 401 || e.status === 403)) {
                st.authorized = false;
                try { await authorize(st.token, false); } catch (e2) { connectionFailed(e2); }
            } else {
                connectionFailed(e);
            }
        } finally {
            st.running = false;
            if (!st.loginOpen) schedule(REFRESH_MS);
        }
    }

    function connectionFailed(e) {
        if (!st.failure) st.failingSinceMs = Date.now();
        /* No answer: unreachable. An answer that is an error (a 500): the
         * agent answers, yet the page cannot show it. Anything else is a
         * bug of this page, for the browser's console too. */
        st.failure = e instanceof NetError ? 'unreachable' : 'error';
        if (e instanceof HttpError) {
            st.failureText = 'AGENT ERROR: ' + e.message;
        } else if (e instanceof NetError) {
            st.failureText = 'UNREACHABLE: ' + e.message;
        } else {
            st.failureText = 'PAGE ERROR: ' + (e.message || String(e));
            console.error('floe dashboard:', e);
        }
        updateConn();
    }

    /* The header's connection field; data-conn on body drives the colours. */
    function setConn(kind, text) {
        document.body.dataset.conn = kind;
        if (text !== undefined) $('conn').textContent = text;
        else updateConn();
    }

    function updateConn() {
        const now = Date.now();
        const since = st.lastOkMs ? ' — last data ' + fmtTime(st.lastOkMs + st.serverSkewMs)
            + ' (' + fmtDuration((now - st.lastOkMs) / 1000) + ' ago)' : '';
        if (st.loginOpen) return;
        if (st.failure === 'unreachable') {
            document.body.dataset.conn = 'unreachable';
            $('conn').textContent = st.failureText + since;
        } else if (st.failure === 'error') {
            document.body.dataset.conn = 'error';
            $('conn').textContent = st.failureText + since;
        } else if (st.lastOkMs && now - st.lastOkMs > STALE_AFTER_MS) {
            document.body.dataset.conn = 'stale';
            $('conn').textContent = 'STALE' + since;
        } else if (st.lastOkMs) {
            document.body.dataset.conn = 'live';
            $('conn').textContent = 'live · updated ' + fmtTime(st.lastOkMs + st.serverSkewMs);
        }
    }

    async function refresh() {
        const [status, telemetry, policies, decisions, migrations] = await Promise.all([
            api('/v1/status'), api('/v1/telemetry'), api('/v1/policies'),
            api('/v1/decisions?limit=20'), api('/v1/migrations?limit=12')]);
        st.timeZone = status.timezone || undefined;
        const metrics = Array.isArray(telemetry.metrics) ? telemetry.metrics : [];
        learnSkew(metrics);
        const kw = chooseSeries(metrics, isKw, kwRank, MAX_KW_SERIES);
        const temp = chooseSeries(metrics, isTemperature, tempRank, MAX_TEMP_SERIES);
        const history = await loadHistory(kw.concat(temp));
        st.charts.kw = {series: withHistory(kw, history), zero: true, empty: 'No kW metrics at this site'};
        st.charts.temp = {series: withHistory(temp, history), zero: false,
                          empty: 'No temperature metrics (unit °C) at this site'};
        renderHeader(status);
        drawCharts();
        renderPolicies(policies.policies || []);
        renderMigrations(migrations.migrations || []);
        renderPeers(status);
        renderDecisions(decisions.decisions || []);
    }

    /* The agent's clock, from its own metric times (ts + age_s is its
     * "now"): a wall screen's clock may be off, the charts' times are not. */
    function learnSkew(metrics) {
        let best = null;
        for (const m of metrics) {
            const t = Date.parse(m.ts);
            if (Number.isFinite(t) && Number.isFinite(m.age_s)) {
                const now = t + m.age_s * 1000;
                if (best === null || now > best) best = now;
            }
        }
        if (best !== null) st.serverSkewMs = best - Date.now();
    }

    /* ---- which metrics to chart ---- */

    function isKw(m) { return m.type !== 'bool' && /^kw$/i.test(m.unit || ''); }
    function isTemperature(m) {
        return m.type !== 'bool' && /^(°\s?c|c|degc|celsius)$/i.test((m.unit || '').trim());
    }
    /* Site totals first: IT load, cooling capacity, supply, headroom;
     * of those, the least nested name (cooling.capacity_kw before
     * cooling.chiller1.capacity_kw). */
    function kwRank(name) {
        if (/(^|[._])load_kw$/.test(name)) return 0;
        if (/(^|[._])capacity_kw$/.test(name)) return 1;
        if (/(^|[._])(supply|total)_kw$/.test(name)) return 2;
        if (/headroom|spare/.test(name)) return 3;
        return 9;
    }
    /* The room's inlet first (what ASHRAE limits), then return/outlet,
     * set points, supply water. */
    function tempRank(name) {
        if (/inlet/.test(name)) return 0;
        if (/outlet|return|exhaust/.test(name)) return 1;
        if (/setpoint/.test(name)) return 2;
        if (/supply/.test(name)) return 3;
        return 9;
    }
    function depth(name) { return name.split('.').length; }

    /* Up to max metrics: of each rank below 9, the least nested names;
     * then, while there are fewer than two, the least nested of the rest. */
    function chooseSeries(metrics, accept, rank, max) {
        const cands = metrics.filter(accept).map(m => ({m, rank: rank(m.name), depth: depth(m.name)}));
        cands.sort((a, b) => a.rank - b.rank || a.depth - b.depth || a.m.name.localeCompare(b.m.name));
        const chosen = [];
        const shallowest = {};
        for (const c of cands) {
            if (c.rank === 9 || chosen.length >= max) continue;
            if (shallowest[c.rank] === undefined) shallowest[c.rank] = c.depth;
            if (c.depth === shallowest[c.rank]) chosen.push(c);
        }
        const rest = cands.filter(c => !chosen.includes(c)).sort((a, b) => a.depth - b.depth || a.m.name.localeCompare(b.m.name));
        while (chosen.length < Math.min(2, max) && rest.length) chosen.push(rest.shift());
        return chosen.map(c => c.m);
    }

    function stepSeconds() { return Math.max(1, Math.round(st.rangeS / CHART_POINTS)); }

    async function loadHistory(metrics) {
        const since = Math.floor(serverNow() / 1000) - st.rangeS;
        const step = stepSeconds();
        const answers = await Promise.all(metrics.map(m =>
            api('/v1/telemetry/' + encodeURIComponent(m.name) + '?since=' + since + '&step=' + step)
                .catch(e => {
                    if (e instanceof HttpError && e.status === 404) return {points: []}; /* never stored yet */
                    throw e;
                })));
        const out = {};
        metrics.forEach((m, i) => { out[m.name] = answers[i]; });
        return out;
    }

    /* History points plus the live value: the database is written every
     * 10 s, the live table is current. */
    function withHistory(metrics, history) {
        return metrics.map(m => {
            const hist = history[m.name] || {points: []};
            const points = [];
            for (const p of hist.points || []) {
                const t = Date.parse(p[0]);
                if (Number.isFinite(t) && typeof p[1] === 'number') points.push([t, p[1]]);
            }
            const liveT = Date.parse(m.ts);
            if (m.quality === 'good' && typeof m.value === 'number' && Number.isFinite(liveT) &&
                (!points.length || liveT > points[points.length - 1][0]))
                points.push([liveT, m.value]);
            return {name: m.name, unit: m.unit, value: m.value, quality: m.quality, points,
                    stepMs: (hist.step_s || stepSeconds()) * 1000};
        });
    }

    /* ---- charts ---- */

    function niceStep(span, ticks) {
        const raw = span / ticks;
        const p = Math.pow(10, Math.floor(Math.log10(raw)));
        const f = raw / p;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
    }

    function drawCharts() {
        drawChart($('chart-kw'), $('legend-kw'), $('range-kw'), st.charts.kw);
        drawChart($('chart-temp'), $('legend-temp'), $('range-temp'), st.charts.temp);
    }

    /* The time axis: the chosen range, or when history starts later (an
     * agent just installed), from a little before its first point, so a
     * few minutes of data are not a dot at the right edge. */
    function timeAxis(chart) {
        const end = serverNow(), rangeStart = end - st.rangeS * 1000;
        let first = Infinity;
        for (const sr of chart.series)
            for (const p of sr.points) if (p[0] >= rangeStart && p[0] < first) first = p[0];
        if (!Number.isFinite(first) || first <= rangeStart)
            return {start: rangeStart, end, label: 'last ' + fmtDuration(st.rangeS)};
        const start = Math.max(rangeStart, first - Math.max(1000, (end - first) * 0.05));
        return {start, end, label: 'since ' + fmtTime(first) + ' (no older data)'};
    }

    function drawChart(box, legend, rangeLabel, chart) {
        if (!chart) return;
        const w = box.clientWidth, hgt = box.clientHeight;
        if (w < 40 || hgt < 40) return;
        const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
        const pad = {l: 4.2 * rem, r: 0.8 * rem, t: 0.6 * rem, b: 1.8 * rem};
        const svg = s('svg', {viewBox: '0 0 ' + w + ' ' + hgt, preserveAspectRatio: 'none', role: 'img'});
        const {start, end, label} = timeAxis(chart);
        rangeLabel.textContent = label;
        const x = t => pad.l + (t - start) / (end - start) * (w - pad.l - pad.r);

        let lo = Infinity, hi = -Infinity;
        for (const sr of chart.series)
            for (const p of sr.points) if (p[0] >= start) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); }
        const any = Number.isFinite(lo);
        if (!any) { lo = 0; hi = 1; }
        if (chart.zero) { lo = Math.min(0, lo); hi = hi <= 0 ? 1 : hi * 1.08; }
        else { const mid = (lo + hi) / 2, half = Math.max((hi - lo) / 2 * 1.15, 2.5); lo = mid - half; hi = mid + half; }
        const step = niceStep(hi - lo, 4);
        lo = Math.floor(lo / step) * step;
        hi = Math.ceil(hi / step) * step;
        const y = v => pad.t + (hi - v) / (hi - lo) * (hgt - pad.t - pad.b);

        for (let v = lo; v <= hi + step / 2; v += step) {
            svg.append(s('line', {class: 'grid', x1: pad.l, x2: w - pad.r, y1: y(v), y2: y(v)}));
            const t = s('text', {class: 'axis', x: pad.l - 0.4 * rem, y: y(v) + 0.3 * rem, 'text-anchor': 'end'});
            t.textContent = Number.isInteger(step) ? v.toFixed(0) : v.toFixed(1);
            svg.append(t);
        }
        const tickMs = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200]
            .map(v => v * 1000).find(v => (end - start) / v <= 7) || 86400000;
        for (let t = Math.ceil(start / tickMs) * tickMs; t <= end; t += tickMs) {
            svg.append(s('line', {class: 'grid', x1: x(t), x2: x(t), y1: pad.t, y2: hgt - pad.b}));
            const tick = s('text', {class: 'axis', x: x(t), y: hgt - 0.4 * rem, 'text-anchor': 'middle'});
            tick.textContent = tickMs < 60000 ? fmtTime(t) : fmtHourMinute(t);
            svg.append(tick);
        }

        legend.replaceChildren();
        chart.series.forEach((sr, i) => {
            const color = COLORS[i % COLORS.length];
            let d = '', prev = null, n = 0;
            for (const p of sr.points) {
                if (p[0] < start) continue;
                /* A gap of more than 3 steps (the device did not answer) is left open. */
                const gap = prev !== null && p[0] - prev > Math.max(3 * sr.stepMs, 30000);
                d += (d && !gap ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1);
                prev = p[0];
                n++;
            }
            if (d) svg.append(s('path', {class: 'series', d, stroke: color, 'data-metric': sr.name, 'data-points': n}));
            const sw = h('span', {class: 'swatch'});
            sw.style.background = color;
            legend.append(h('li', {'data-metric': sr.name}, sw, sr.name,
                h('span', {class: 'value'}, fmtNum(sr.value)), ' ', h('span', {class: 'unit'}, sr.unit || ''),
                sr.quality !== 'good' ? h('span', {class: 'pill pill-pending', title: 'quality'}, ' ' + sr.quality) : null));
        });
        if (!chart.series.length || !any) {
            const t = s('text', {class: 'nodata', x: w / 2, y: hgt / 2, 'text-anchor': 'middle'});
            t.textContent = chart.series.length ? 'No history in this range yet' : chart.empty;
            svg.append(t);
        }
        box.replaceChildren(svg);
    }

    /* ---- panels ---- */

    function renderHeader(status) {
        $('site-name').textContent = status.site || 'floe';
        document.title = (status.site || 'floe') + ' · floe';
        /* What peers are told: also false while capacity inputs are unknown. */
        const cap = status.capacity || {};
        const accepting = typeof cap.accepting === 'boolean' ? cap.accepting : status.accepting;
        const acc = $('accepting');
        acc.textContent = accepting ? 'accepting work' : 'not accepting work';
        acc.className = 'pill ' + (accepting ? 'pill-ok' : 'pill-crit');
        $('spare-kw').textContent = fmtKw(cap.spare_kw);
        const alarms = Array.isArray(status.alarms) ? status.alarms : [];
        $('alarm-count').textContent = String(alarms.filter(a => a.state === 'firing').length) +
            ' firing, ' + alarms.filter(a => a.state === 'pending').length + ' pending';
        const c = status.collectors || {};
        $('collectors').textContent = (c.ok ?? '–') + ' ok' + (c.failing ? ', ' + c.failing + ' failing' : '');
        $('migrating').textContent = status.migrations_active === null || status.migrations_active === undefined
            ? '–' : String(status.migrations_active);
        $('version').textContent = 'floe ' + (status.version || '') + ' · up ' + fmtDuration(status.uptime_s);
    }

    function empty(text) { return h('div', {class: 'empty'}, text); }

    const POLICY_ORDER = {firing: 0, pending: 1, ok: 2};

    function renderPolicies(list) {
        const rows = list.slice().sort((a, b) =>
            (POLICY_ORDER[a.state] ?? 3) - (POLICY_ORDER[b.state] ?? 3) || a.name.localeCompare(b.name));
        $('policies').replaceChildren(...(rows.length ? rows.map(p => {
            const cls = p.state === 'firing' ? (p.severity === 'critical' ? 'pill-crit' : 'pill-warn')
                : p.state === 'pending' ? 'pill-pending' : p.state === 'ok' ? 'pill-ok' : 'pill-none';
            const notes = [p.severity, p.mode];
            if (p.unknown) notes.push('inputs unknown');
            if (p.in_window === false) notes.push('outside its window');
            return h('div', {class: 'row policy', 'data-policy': p.name},
                h('span', {class: 'pill ' + cls}, p.state),
                h('div', {class: 'ellipsis'},
                    h('div', {class: 'title ellipsis'}, p.name),
                    h('div', {class: 'detail description', title: p.description || ''}, p.description || '(no description)')),
                h('div', {class: 'meta'}, h('div', null, notes.join(' · ')),
                    h('div', null, p.since ? 'since ' + fmtTime(Date.parse(p.since)) : '')));
        }) : [empty('No policies.')]));
    }

    function phaseClass(m) {
        if (m.phase === 'done') return 'pill-ok';
        if (m.phase === 'rolled-back' || m.phase === 'failed') return 'pill-crit';
        if (m.phase === 'rolling-back') return 'pill-warn';
        return 'pill-info';
    }

    function phaseChain(m) {
        const seen = new Set((m.events || []).map(e => e.phase));
        const failed = m.phase === 'rolled-back' || m.phase === 'rolling-back' || m.phase === 'failed';
        /* Where a rollback began: the last phase of the chain it passed. */
        const current = failed ? PHASES.filter(p => seen.has(p)).pop() : m.phase;
        const idx = PHASES.indexOf(current);
        return h('div', {class: 'phases'}, ...PHASES.map((p, i) => {
            let cls = i < idx || (idx < 0 && seen.has(p)) ? 'passed' : '';
            if (i === idx) cls = 'now' + (failed ? ' failed' : p === 'done' ? ' finished' : '');
            return h('span', {class: cls}, p);
        }));
    }

    function renderMigrations(list) {
        const rows = list.slice().sort((a, b) => (a.result ? 1 : 0) - (b.result ? 1 : 0) || b.id - a.id).slice(0, 6);
        $('migrations').replaceChildren(...(rows.length ? rows.map(m => {
            const last = (m.events || [])[m.events ? m.events.length - 1 : 0];
            const facts = ['#' + m.id, 'started ' + fmtTime(Date.parse(m.started))];
            if (m.kw !== undefined && m.kw !== null) facts.push(fmtKw(m.kw) + ' kW');
            if (m.downtime_s !== null && m.downtime_s !== undefined)
                facts.push('downtime ' + fmtDuration(m.downtime_s) +
                    (Number.isFinite(m.estimated_downtime_s) ? ' (est. ' + fmtDuration(m.estimated_downtime_s) + ')' : ''));
            else if (m.ended) facts.push('ended ' + fmtTime(Date.parse(m.ended)));
            return h('div', {class: 'row migration', 'data-workload': m.workload, 'data-phase': m.phase},
                h('div', {class: 'title ellipsis'}, m.workload, h('span', {class: 'route'}, (m.from || '') + ' → ' + (m.to || ''))),
                h('span', {class: 'pill ' + phaseClass(m)}, m.phase),
                phaseChain(m),
                h('div', {class: 'detail ellipsis', title: last ? last.detail : ''},
                    facts.join(' · ') + (last ? ' — ' + last.detail : '')));
        }) : [empty('No migrations from this site.')]));
    }

    function renderPeers(status) {
        const cap = status.capacity || {};
        const rows = [h('div', {class: 'row peer self'},
            h('div', {class: 'ellipsis'}, h('div', {class: 'title ellipsis'}, (status.site || 'this site') + ' (here)'),
                h('div', {class: 'detail'}, cap.accepting ? 'accepting' : 'not accepting')),
            h('div', {class: 'spare'}, fmtKw(cap.spare_kw), ' ', h('span', {class: 'unit'}, 'kW')))];
        for (const p of Array.isArray(status.peers) ? status.peers : []) {
            const usable = p.state === 'ok';
            const cls = !usable ? (p.state === 'pending' ? 'pill-none' : 'pill-crit') : p.accepting ? 'pill-ok' : 'pill-warn';
            const word = usable ? (p.accepting ? 'accepting' : 'not accepting') : p.state;
            rows.push(h('div', {class: 'row peer', 'data-peer': p.name},
                h('div', {class: 'ellipsis'},
                    h('div', {class: 'title ellipsis'}, p.name),
                    h('div', {class: 'detail ellipsis', title: p.error || ''},
                        h('span', {class: 'pill ' + cls}, word), ' ',
                        p.error ? p.error : p.checked ? 'asked ' + ago(p.checked) : '')),
                h('div', {class: 'spare'}, fmtKw(p.spare_kw), ' ', h('span', {class: 'unit'}, 'kW'))));
        }
        if (rows.length === 1) rows.push(empty('No peers configured.'));
        $('peers').replaceChildren(...rows);
    }

    function decisionClass(status) {
        if (status === 'placed' || status === 'notified') return 'pill-ok';
        if (status === 'awaiting-approval' || status === 'partial') return 'pill-pending';
        if (status === 'no-placement' || status === 'inputs-unknown') return 'pill-crit';
        return 'pill-none';
    }

    function renderDecisions(list) {
        $('decisions').replaceChildren(...(list.length ? list.map(d => {
            const reasons = Array.isArray(d.reasons) ? d.reasons : [];
            let need = '';
            if (Number.isFinite(d.need_kw)) need = 'need ' + fmtKw(d.need_kw) + ' kW';
            if (Number.isFinite(d.placed_kw)) need += (need ? ', ' : '') + 'placed ' + fmtKw(d.placed_kw);
            return h('div', {class: 'row decision', 'data-decision': d.id},
                h('span', {class: 'num'}, fmtTime(Date.parse(d.ts))),
                h('span', {class: 'policy-name ellipsis'}, d.policy),
                h('span', {class: 'kind dim'}, d.kind),
                h('span', null, h('span', {class: 'pill ' + decisionClass(d.status)}, d.status)),
                h('span', {class: 'need num'}, need),
                h('span', {class: 'reason ellipsis dim', title: reasons.join('\n')}, reasons.join(' · ')));
        }) : [empty('No decisions yet.')]));
    }

    /* ---- start ---- */

    function setRange(secs) {
        st.rangeS = secs;
        storageSet(RANGE_KEY, String(secs));
        for (const b of document.querySelectorAll('.range-btn'))
            b.classList.toggle('active', Number(b.dataset.range) === secs);
    }

    function start() {
        $('login-form').addEventListener('submit', submitLogin);
        $('forget-token').addEventListener('click', forgetToken);
        $('forget-token').hidden = !st.token;
        for (const b of document.querySelectorAll('.range-btn'))
            b.addEventListener('click', () => { setRange(Number(b.dataset.range)); schedule(0); });
        setRange(st.rangeS);
        /* Charts follow the panel's size; the data waits for the next refresh. */
        let resizeTimer = null;
        window.addEventListener('resize', () => {
            clearTimeout(resizeTimer);
            resizeTimer = setTimeout(drawCharts, 150);
        });
        setInterval(updateConn, 1000);
        schedule(0);
    }

    start();
})();
