#!/usr/bin/python3
"""A small Kubernetes API server for floe's tests, shaped like the real one
for the requests the inventory makes (SPEC 6, "Kubernetes API used"):

  GET /api/v1/namespaces?labelSelector=...        NamespaceList
  GET /apis/apps/v1/namespaces/{ns}/deployments   DeploymentList
  GET /apis/apps/v1/namespaces/{ns}/statefulsets  StatefulSetList

Errors are Kubernetes Status objects (401 Unauthorized without the right
bearer token, 403 Forbidden for a namespace in "forbid", 400 BadRequest for
a selector it cannot parse, 404 NotFound for any other path).

  kube_fake.py --port P --state STATE.json --token-file TOKEN [--cert C --key K] [--log LOG]

STATE.json is read again at every request, so a test changes the cluster by
rewriting it:
  {"namespaces": [{"name": "shop", "labels": {...}, "annotations": {...},
                   "deployments": [{"name": "web", "replicas": 2,
                                    "pod_annotations": {...}, "claims": ["data"]}],
                   "statefulsets": [...]}],
   "forbid": ["ns", ...]}
TOKEN holds the one bearer token accepted now (read at every request, so a
test rotates it by rewriting the file). Every request is appended to LOG as
one JSON line: method, path, query, and the token it carried.
"""
import argparse
import json
import ssl
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
log_lock = threading.Lock()


def status(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return code, body


def selector_matches(selector, labels):
    """Equality-based selectors: k=v, k==v, k!=v, k, !k; comma = and."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def selector_valid(selector):
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key = term.lstrip("!").replace("!=", "=").replace("==", "=").split("=", 1)[0]
        if not key or " " in key or any(c in key for c in "()<>"):
            return False
    return True


def namespace_object(ns):
    labels = dict(ns.get("labels", {}))
    labels["kubernetes.io/metadata.name"] = ns["name"]
    meta = {"name": ns["name"], "uid": "uid-" + ns["name"], "resourceVersion": "1001",
            "creationTimestamp": "2026-01-05T10:00:00Z", "labels": labels}
    if ns.get("annotations"):
        meta["annotations"] = ns["annotations"]
    return {"metadata": meta, "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": ns.get("phase", "Active")}}


def controller_object(ns, c, kind):
    labels = {"app": c["name"]}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [
        {"name": c["name"], "image": "registry.example.org/%s:1" % c["name"],
         "resources": {}, "terminationMessagePath": "/dev/termination-log",
         "imagePullPolicy": "IfNotPresent"}], "restartPolicy": "Always"}}
    if c.get("pod_annotations"):
        template["metadata"]["annotations"] = c["pod_annotations"]
    spec = {"selector": {"matchLabels": labels}, "template": template}
    if "replicas" in c:
        spec["replicas"] = c["replicas"]
    claims = c.get("claims", [])
    if kind == "StatefulSet":
        spec["serviceName"] = c["name"]
        if claims:
            spec["volumeClaimTemplates"] = [
                {"metadata": {"name": cl}, "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "10Gi"}}}} for cl in claims]
    elif claims:
        template["spec"]["volumes"] = [{"name": cl, "persistentVolumeClaim": {"claimName": cl}}
                                       for cl in claims]
    return {"metadata": {"name": c["name"], "namespace": ns, "uid": "uid-%s-%s" % (ns, c["name"]),
                         "resourceVersion": "2002", "generation": 1,
                         "creationTimestamp": "2026-01-05T10:01:00Z", "labels": labels,
                         "annotations": {"deployment.kubernetes.io/revision": "1"}
                         if kind == "Deployment" else {}},
            "spec": spec,
            "status": {"replicas": c.get("replicas", 1), "readyReplicas": c.get("replicas", 1),
                       "observedGeneration": 1}}


def answer(method, path, query):
    with open(args.state) as f:
        state = json.load(f)
    if method != "GET":
        return status(405, "MethodNotAllowed", "the server does not allow this method on the "
                      "requested resource")
    parts = path.strip("/").split("/")
    if parts == ["api", "v1", "namespaces"]:
        selector = query.get("labelSelector", [""])[0]
        if not selector_valid(selector):
            return status(400, "BadRequest", "unable to parse requirement: invalid label "
                          "selector: %r" % selector)
        items = [namespace_object(ns) for ns in state.get("namespaces", [])
                 if selector_matches(selector, ns.get("labels", {}))]
        return 200, {"kind": "NamespaceList", "apiVersion": "v1",
                     "metadata": {"resourceVersion": "5005"}, "items": items}
    if (len(parts) == 6 and parts[:4] == ["apis", "apps", "v1", "namespaces"]
            and parts[5] in ("deployments", "statefulsets")):
        ns, resource = parts[4], parts[5]
        if ns in state.get("forbid", []):
            return status(403, "Forbidden",
                          '%s.apps is forbidden: User "system:serviceaccount:floe:floe" cannot '
                          'list resource "%s" in API group "apps" in the namespace "%s"'
                          % (resource, resource, ns),
                          {"group": "apps", "kind": resource})
        kind = "Deployment" if resource == "deployments" else "StatefulSet"
        found = [n for n in state.get("namespaces", []) if n["name"] == ns]
        items = [controller_object(ns, c, kind) for c in (found[0].get(resource, []) if found else [])]
        return 200, {"kind": kind + "List", "apiVersion": "apps/v1",
                     "metadata": {"resourceVersion": "5006"}, "items": items}
    return status(404, "NotFound", "the server could not find the requested resource",
                  {})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        if args.log:
            with log_lock, open(args.log, "a") as f:
                f.write(json.dumps({"method": method, "path": url.path, "query": query,
                                    "token": token}) + "\n")
        with open(args.token_file) as f:
            accepted = f.read().strip()
        if token != accepted:
            code, body = status(401, "Unauthorized", "Unauthorized")
        else:
            code, body = answer(method, url.path, query)
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--token-file", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--log")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("listening", args.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
