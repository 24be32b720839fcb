"""A headless Chromium driven over the DevTools protocol, for the tests.

Chromium is started with --remote-debugging-pipe: the protocol's JSON
messages (each ended by a NUL byte) go in on the browser's fd 3 and come
out on its fd 4. That needs nothing but the Debian package `chromium` and
this module (no chromedriver, no websocket library), and no port to find.

Network: the browser may reach 127.0.0.1 and nothing else. Every host name
resolves to nothing (--host-resolver-rules), every request that is not to
loopback goes to a proxy on a loopback port where nothing listens, and
the background services that phone home (updates, sync, metrics, safe
browsing, translation) are switched off.

    b = Browser(user_data_dir, log_path)
    page = b.new_page(width, height)
    page.navigate(url); page.wait_for("document.title != ''", 10)
    page.errors          # console errors, uncaught exceptions, failed loads
    b.close()
"""
import base64
import fcntl
import json
import os
import select
import shutil
import socket
import time

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium")


class CdpError(Exception):
    pass


def find_chromium():
    """The Chromium binary: $CHROMIUM, Debian's binary (not its wrapper
    script, which adds flags of its own), or chromium on PATH."""
    for c in (os.environ.get("CHROMIUM"),) + CHROMIUM_CANDIDATES:
        if not c:
            continue
        path = c if os.path.isabs(c) else shutil.which(c)
        if path and os.access(path, os.X_OK):
            return path
    return None


def dead_loopback_port():
    """A loopback TCP port nothing listens on (bound, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Browser:
    def __init__(self, user_data_dir, log_path, binary=None):
        binary = binary or find_chromium()
        if not binary:
            raise CdpError("chromium is not installed (Debian package chromium)")
        flags = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=" + user_data_dir, "--remote-debugging-pipe",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-domain-reliability", "--disable-breakpad",
            "--disable-client-side-phishing-detection", "--metrics-recording-only",
            "--disable-pings", "--no-pings", "--mute-audio", "--hide-scrollbars",
            "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,"
            "AutofillServerCommunication,CertificateTransparencyComponentUpdater,"
            "SafeBrowsing,InterestFeedContentSuggestions",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:%d" % dead_loopback_port(),
            "--proxy-bypass-list=127.0.0.1",
            "about:blank",
        ]
        to_browser_r, self._to_browser = os.pipe()
        from_browser, from_browser_w = os.pipe()
        # Move the browser's ends above 3 and 4 first, so the dup2s below
        # cannot overwrite one with the other.
        hi_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, log_fd, 1),
            (os.POSIX_SPAWN_DUP2, log_fd, 2),
            (os.POSIX_SPAWN_DUP2, hi_r, 3),
            (os.POSIX_SPAWN_DUP2, hi_w, 4),
        ]
        try:
            self.pid = os.posix_spawn(binary, [binary] + flags, dict(os.environ),
                                      file_actions=actions)
        finally:
            os.close(hi_r)
            os.close(hi_w)
            os.close(log_fd)
        self._from_browser = from_browser
        self._buf = b""
        self._next_id = 0
        self._events = []

    # ---- the wire ----

    def _send(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._to_browser, data)
            data = data[n:]

    def _read_message(self, deadline):
        """The next message, or None at the deadline."""
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise CdpError("chromium closed the DevTools pipe (see its log)")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=30):
        self._next_id += 1
        mid = self._next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._send(msg)
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m is None:
                raise CdpError("%s: no answer within %d s" % (method, timeout))
            if m.get("id") == mid:
                if "error" in m:
                    raise CdpError("%s: %s" % (method, m["error"].get("message")))
                return m.get("result", {})
            if "method" in m:
                self._events.append(m)

    def pump(self, seconds=0.0):
        """Reads the events that arrive within `seconds` (none: those waiting)."""
        deadline = time.monotonic() + seconds
        while True:
            m = self._read_message(deadline)
            if m is None:
                return
            if "method" in m:
                self._events.append(m)

    def take_events(self, session):
        mine = [e for e in self._events if e.get("sessionId") == session]
        self._events = [e for e in self._events if e.get("sessionId") != session]
        return mine

    def new_page(self, width=1920, height=1080):
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(domain + ".enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                  session=session)
        return page

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except (CdpError, OSError):
            pass
        for _ in range(50):
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        os.close(self._to_browser)
        os.close(self._from_browser)


class Page:
    """One tab. `errors` collects, as text, every console error, uncaught
    exception and failed load (Log entries of level error: network
    failures, CSP violations) seen so far; `requests` every URL asked for."""

    def __init__(self, browser, session):
        self.b = browser
        self.session = session
        self.errors = []
        self.requests = []  # every URL the page asked for, in order

    def call(self, method, params=None, timeout=30):
        r = self.b.call(method, params, session=self.session, timeout=timeout)
        self._collect()
        return r

    def _collect(self):
        for e in self.b.take_events(self.session):
            p = e.get("params", {})
            m = e["method"]
            if m == "Network.requestWillBeSent":
                self.requests.append(p.get("request", {}).get("url", ""))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                ex = d.get("exception", {})
                self.errors.append("exception: %s (%s:%s)" % (
                    ex.get("description") or d.get("text"), d.get("url", ""), d.get("lineNumber", "")))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                self.errors.append("console.%s: %s" % (p["type"], args))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                self.errors.append("%s: %s %s" % (entry.get("source"), entry.get("text"),
                                                  entry.get("url", "")))

    def take_errors(self):
        self.b.pump()
        self._collect()
        errs, self.errors = self.errors, []
        return errs

    def navigate(self, url):
        self.call("Page.navigate", {"url": url})

    def reload(self):
        self.call("Page.reload", {"ignoreCache": False})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CdpError("evaluate %s: %s" % (expr, d.get("exception", {}).get("description", d.get("text"))))
        return r.get("result", {}).get("value")

    def wait_for(self, expr, seconds):
        """Evaluates expr until it is truthy; its value, or None after seconds."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                v = self.eval(expr)
            except CdpError:
                v = None  # the page is between documents
            if v:
                return v
            if time.monotonic() >= deadline:
                return None
            self.b.pump(0.2)
            self._collect()

    def click(self, selector):
        """A real mouse click in the middle of the element."""
        box = self.eval("(() => { const r = document.querySelector(%s).getBoundingClientRect();"
                        " return [r.left + r.width / 2, r.top + r.height / 2]; })()" % json.dumps(selector))
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def type_into(self, selector, text):
        self.eval("document.querySelector(%s).focus()" % json.dumps(selector))
        self.call("Input.insertText", {"text": text})

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
