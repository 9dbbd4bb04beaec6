#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into fuzz/seeds/<target>/, from the OpenAPI
examples in the simulator's fixtures, the documentation's examples and the tests' inputs.
`scripts/fuzz --seed` runs it and merges the seeds into the committed corpora (cargo fuzz
cmin keeps only what adds coverage). Raw seeds start with byte 0 and a kind byte (see
fuzz/src/lib.rs)."""
import base64, hashlib, hmac, json, os, re, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "seeds")


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def raw(target, kind, data):
    if isinstance(data, str):
        data = data.encode()
    write(target, bytes([0, kind]) + data[:16384])


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def blocks(markdown, lang):
    return re.findall(r"```" + lang + r"\n(.*?)```", markdown, re.S)


# Jira answers: the OpenAPI examples.
spec = json.loads(read("crates/jiralink-sim/tests/fixtures/openapi/jira-platform-v3.openapi.json"))
def example(path, method, status):
    r = spec["paths"][path][method]["responses"][status]
    return r["content"]["application/json"]["example"]
search = example("/rest/api/3/search/jql", "post", "200")
raw("jira_responses", 0, search)
page = json.loads(search)
page["isLast"] = False
page["nextPageToken"] = "CAEaAggD"
raw("jira_responses", 0, json.dumps(page))
raw("jira_responses", 0, json.dumps(page, indent=1))
raw("jira_responses", 0, '{"issues":[{"id":"10001","key":"ED-1","fields":{"updated":"2026-01-05T09:30:00.000+0000"}},{"id":10002,"fields":{}}],"isLast":false,"nextPageToken":"t2"}')
raw("jira_responses", 0, '{"issues":[],"isLast":true}')
raw("jira_responses", 1, example("/rest/api/3/issue/{issueIdOrKey}", "get", "200"))
raw("jira_responses", 3, example("/rest/api/3/issue/bulk", "post", "201"))
raw("jira_responses", 4, example("/rest/api/3/issue/bulk", "post", "400"))
raw("jira_responses", 2, '{"access_token":"CANARY-access","refresh_token":"CANARY-refresh","expires_in":3600,"scope":"read:jira-work offline_access","token_type":"Bearer"}')
raw("jira_responses", 2, '{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}')

# Rate limits.
for v in ["120", "0", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT", "Mon, 05 Jan 2026 09:31:00 GMT", " 30 ", "-1", "1e3"]:
    raw("rate_limit_headers", 0, v)
for v in ["2026-01-05T09:31:00Z", "2026-01-05T09:31:00.123+01:00"]:
    raw("rate_limit_headers", 1, v)

# Webhooks: events as Jira sends them, and signed tokens.
events = [
    {"timestamp": 1767605400000, "webhookEvent": "jira:issue_updated", "issue": {"id": "10001", "key": "ED-1", "fields": {"updated": "2026-01-05T09:30:00.000+0000"}}, "changelog": {"items": [{"field": "summary", "fieldId": "summary"}]}},
    {"timestamp": 1767605400000, "webhookEvent": "comment_created", "comment": {"id": "20001"}, "issue": {"id": "10001"}},
    {"timestamp": 1767605400000, "webhookEvent": "worklog_updated", "worklog": {"id": "30001", "issueId": "10001"}},
    {"timestamp": 1767605400000, "webhookEvent": "issuelink_created", "issueLink": {"sourceIssueId": 10001, "destinationIssueId": 10002}},
    {"timestamp": 1767605400000, "webhookEvent": "issue_property_set"},
]
for e in events:
    raw("webhook_delivery", 0, json.dumps(e))
def b64(v):
    return base64.urlsafe_b64encode(json.dumps(v).encode()).rstrip(b"=").decode()
for header in [{"alg": "HS256", "typ": "JWT"}, {"alg": "none"}]:
    signing = b64(header) + "." + b64({"iss": "site", "aud": "app", "iat": 1767605400, "exp": 1767605580, "jti": "j1"})
    tag = hmac.new(b"webhook-secret", signing.encode(), hashlib.sha256).digest()
    raw("webhook_delivery", 1, signing + "." + base64.urlsafe_b64encode(tag).rstrip(b"=").decode())

# Export JQL: the documentation's and tests' queries.
for jql in ["project = ED", "project = ED AND status != Done", 'summary ~ "order by"', "summary ~ order\\ by",
            "(project = ED OR project = OPS) AND labels in (a, b)", "assignee = currentUser() AND updated >= -7d",
            'text ~ "\\"quoted\\""', "project = 'E\\'D'"]:
    for kind in range(4):
        raw("export_jql", kind, jql)

# Vault: the frozen vector, key texts.
raw("sealed_blob", 0, "enc:v1:aa43cf4e9d7472c6:oKGio6Slpqeoqaqrp0w9eRH4evkEIsHjKhyysQrJNz3k0iEY83wq_pBRDQtJETDh6Kbn70ZB")
key = bytes(range(32))
raw("sealed_blob", 1, base64.b64encode(key))
raw("sealed_blob", 1, base64.urlsafe_b64encode(key).rstrip(b"="))
raw("sealed_blob", 1, key.hex() + "\n")

# Connections: drafts as the REST API takes them.
drafts = [
    {"name": "Demo", "api_type": "cloud-platform", "subdomain": "https://Demo.atlassian.net/jira", "auth_type": "basic", "username": "ann@example.com"},
    {"name": "Acme", "api_type": "cloud-platform", "subdomain": "acme", "auth_type": "oauth2", "oauth_client": "atlassian-app", "scopes": ["read:jira-work write:jira-work", "read:jira-user,manage:jira-webhook"], "concurrency_level": "5", "rate_limit_auto_recover": "off", "rate_limit_max_retries": "2"},
    {"name": "Service", "api_type": "customer-service-management", "oauth_client": "atlassian-app", "scopes": ["read:csm-product:csm"]},
    {"name": "CANARY-name", "api_type": "CANARY", "subdomain": "CANARY.example.com", "auth_type": "CANARY", "scopes": ["CANARY:scope"]},
]
for d in drafts:
    raw("connection_input", 0, json.dumps(d))

# Imports: the documentation's mappings and inputs.
imports = read("docs/imports.md")
for t in blocks(imports, "toml"):
    raw("mapping_file", 0, t)
for t in blocks(imports, "json"):
    raw("import_input", 1, t)
raw("import_input", 0, '{"summary":"Printer on fire","labels":"a, b"}\n\n{"summary":"Second"}\n')
raw("import_input", 1, '[{"summary":"a"},\n {"summary":"b","n":[1,2]}]')
raw("import_input", 2, 'summary,description,labels\n"Printer on fire","line one\nline two",a;b\n\nsecond,,\n')
raw("import_input", 2, '\ufeffsummary;x\r\nA;1\r\n')

# Markdown: the documentation itself, file by file (the target reads text as it is).
for name in sorted(os.listdir(os.path.join(ROOT, "docs"))):
    text = read(os.path.join("docs", name))
    for part in text.split("\n## ")[:6]:
        write("markdown_adf", part[:4000])
write("markdown_adf", "- [ ] task\n- [x] done\n\n| a | b |\n|---|---|\n| *x* | `y` |\n\n> quote\n\n~~gone~~ [link](https://example.com)\n")
