#!/usr/bin/env python3
"""Setup for bench/storage.sh, through each system's public API (standard library only).

coglex: sign up and sign in one user through the gateway (a real session token), create the
        {_owner, category} index through the admin route, insert N items as that user.
parse:  create the Item class with the same fields and a {category} index through the
        schemas API (master key), sign up one Parse user, insert N items as that user through
        /parse/batch with an ACL readable and writable by that user only.

Both sides then check that a category query returns a full page, and write into OUT_DIR:
<side>.token (session token), <side>.ids (one id a line) and, for parse, parse.acl.
"""
import json
import os
import sys
import urllib.parse
import urllib.request

CATEGORIES = 20


def call(method, url, headers, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    for k, v in headers.items():
        req.add_header(k, v)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        sys.exit(f"seed.py: {method} {url} answered {e.code}: {e.read()[:500]!r}")


def items(n):
    return [{"name": f"item-{i}", "category": f"c{i % CATEGORIES}", "price": i,
             "tags": ["bench", "seed"]} for i in range(n)]


def write(out, name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


def coglex(base, key, admin_key, n, out):
    auth = f"{base}/service/auth/v1"
    store = f"{base}/service/storage/v1"
    h = {"X-API-Key": key}
    cred = {"_key": "bench@example.com", "_password": "bench-password-1234567890"}
    status, _ = call("POST", f"{auth}/signup", h, {**cred, "document": {}})
    assert status == 201, status
    _, signin = call("POST", f"{auth}/signin", h, cred)
    token = signin["token"]
    status, _ = call("POST", f"{store}/_indexes/items", {"X-API-Key": admin_key},
                     {"keys": {"category": 1}, "name": "owner_category"})
    assert status == 201, status
    ua = {**h, "Authorization": f"Bearer {token}"}
    ids = []
    docs = items(n)
    for i in range(0, n, 500):
        status, body = call("POST", f"{store}/items", ua, {"documents": docs[i:i + 500]})
        assert status == 201, status
        ids += body["inserted_ids"]
    q = urllib.parse.quote(json.dumps({"category": "c3"}, separators=(",", ":")))
    _, found = call("GET", f"{store}/items?query={q}&limit=20", ua)
    assert len(found) == 20, f"coglex query returned {len(found)} documents"
    _, one = call("GET", f"{store}/items/{ids[7]}", ua)
    assert one["name"] == "item-7", one
    write(out, "coglex.token", token)
    write(out, "coglex.ids", "\n".join(ids) + "\n")


def parse(base, app_id, rest_key, master_key, n, out):
    h = {"X-Parse-Application-Id": app_id, "X-Parse-REST-API-Key": rest_key}
    status, _ = call("POST", f"{base}/parse/schemas/Item",
                     {"X-Parse-Application-Id": app_id, "X-Parse-Master-Key": master_key},
                     {"className": "Item",
                      "fields": {"name": {"type": "String"}, "category": {"type": "String"},
                                 "price": {"type": "Number"}, "tags": {"type": "Array"}},
                      "indexes": {"category_1": {"category": 1}}})
    assert status in (200, 201), status
    status, user = call("POST", f"{base}/parse/users", h,
                        {"username": "bench@example.com", "password": "bench-password-1234567890"})
    assert status == 201, status
    token, uid = user["sessionToken"], user["objectId"]
    acl = {uid: {"read": True, "write": True}}
    ua = {**h, "X-Parse-Session-Token": token}
    ids = []
    docs = items(n)
    for i in range(0, n, 100):
        reqs = [{"method": "POST", "path": "/parse/classes/Item", "body": {**d, "ACL": acl}}
                for d in docs[i:i + 100]]
        _, results = call("POST", f"{base}/parse/batch", ua, {"requests": reqs})
        for r in results:
            if "success" not in r:
                sys.exit(f"seed.py: parse batch item failed: {r}")
            ids.append(r["success"]["objectId"])
    q = urllib.parse.quote(json.dumps({"category": "c3"}, separators=(",", ":")))
    _, found = call("GET", f"{base}/parse/classes/Item?where={q}&limit=20", ua)
    assert len(found["results"]) == 20, f"parse query returned {len(found['results'])} objects"
    _, one = call("GET", f"{base}/parse/classes/Item/{ids[7]}", ua)
    assert one["name"] == "item-7", one
    write(out, "parse.token", token)
    write(out, "parse.ids", "\n".join(ids) + "\n")
    write(out, "parse.acl", json.dumps(acl, separators=(",", ":")))


if __name__ == "__main__":
    side, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    e = os.environ
    if side == "coglex":
        coglex(e["COGLEX_URL"], e["API_KEY"], e["ADMIN_KEY"], n, out)
    elif side == "parse":
        parse(e["PARSE_URL"], e["PARSE_APP_ID"], e["PARSE_REST_KEY"], e["PARSE_MASTER_KEY"], n, out)
    else:
        sys.exit(f"seed.py: unknown side {side}")
