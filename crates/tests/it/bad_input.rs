//! Bad input on every endpoint: malformed, oversized, deeply nested,
//! wrong-typed, wrong-content-type, empty and non-UTF-8 bodies. Every answer is
//! a 4xx (for `assessment.cancel`, which Ashby documents only with HTTP 200,
//! Ashby's error envelope at 200) that says what is wrong, in the surface's own form: the vendor API's
//! `{"error": {"code", "message"}}`, Ashby's envelope on the partner API, an
//! HTML page in the UI. Never a 5xx, never a dropped connection.
//!
//! The vendor API's routes, and each field of each body, come from the
//! generated OpenAPI document, so a new endpoint is covered without touching
//! this file. The partner API and the UI's form posts are listed here.
//!
//! Also here: strict URL validation, and the committed fuzz corpora replayed
//! through the fuzz targets' properties (`screenhub::bad_input`).

use reqwest::header::{CONTENT_TYPE, COOKIE};
use reqwest::Method;
use screenhub_tests::{start_body, World};
use serde_json::{json, Value};

/// The hub refuses bodies over `max_body_bytes` (1 MiB by default).
const OVERSIZED: usize = 1024 * 1024 + 1024;

/// How an endpoint answers errors.
#[derive(Clone, Copy, Debug)]
enum Surface {
    /// `{"error": {"code", "message"}}`
    Vendor,
    /// Ashby's `{"success": false, "errorInfo": {"code", "message"}}`, or
    /// `{"message"}` for a refused start.
    Partner,
    /// `assessment.cancel`, which Ashby documents only with HTTP 200: its
    /// error envelope, at 200.
    PartnerCancel,
    /// An HTML page.
    Page,
    /// Greenhouse's partner API: `{"error": {"code", "message"}}`, with a
    /// Greenhouse account's token as the Basic username.
    Greenhouse,
}

/// One request the hub must refuse.
struct Case {
    surface: Surface,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    what: String,
    /// The message must mention this (a field name, say).
    mentions: Option<String>,
}

struct Tester<'a> {
    w: &'a World,
    /// A dashboard session cookie.
    cookie: String,
    /// A Greenhouse account's token.
    greenhouse_token: String,
    tried: usize,
    /// The OpenAPI responses of the vendor API operation under test: every
    /// answer it gives must be documented there.
    documented: Option<Value>,
}

impl Tester<'_> {
    async fn check(&mut self, case: Case) {
        let Case {
            surface,
            method,
            path,
            content_type,
            body,
            what,
            mentions,
        } = case;
        let hub = &self.w.hub;
        let mut req = hub
            .http
            .request(method.clone(), format!("{}{path}", hub.url()));
        req = match surface {
            Surface::Vendor => req.bearer_auth(&hub.api_key),
            Surface::Partner | Surface::PartnerCancel => req.basic_auth(&self.w.token, Some("")),
            Surface::Greenhouse => req.basic_auth(&self.greenhouse_token, None::<&str>),
            Surface::Page => req.header(COOKIE, &self.cookie),
        };
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        let label = format!("{method} {path} with {what}");
        let res = req
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{label}: no answer ({e})"));
        let status = res.status();
        let ct = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = res.text().await.unwrap_or_default();
        match surface {
            Surface::PartnerCancel => assert!(
                status == 200 && text.contains(r#""success":false"#),
                "{label}: expected Ashby's error envelope at HTTP 200, got {status}: {text}"
            ),
            _ => assert!(
                status.is_client_error(),
                "{label}: expected a 4xx, got {status}: {text}"
            ),
        }
        if let (Surface::Vendor, Some(responses)) = (surface, &self.documented) {
            assert!(
                !responses[status.as_str()].is_null(),
                "{label}: answered {status}, which its OpenAPI operation does not document"
            );
        }
        let message = match surface {
            Surface::Vendor | Surface::Greenhouse => {
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{label}: {status} is not JSON ({ct}): {text}"));
                assert!(
                    v["error"]["code"].as_str().is_some_and(|c| !c.is_empty()),
                    "{label}: no error code: {text}"
                );
                v["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }
            Surface::Partner | Surface::PartnerCancel => {
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{label}: {status} is not JSON ({ct}): {text}"));
                v["errorInfo"]["message"]
                    .as_str()
                    .or(v["message"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            }
            Surface::Page => {
                assert!(
                    ct.starts_with("text/html") && text.contains("<html"),
                    "{label}: {status} is not an HTML page ({ct}): {text}"
                );
                text.clone()
            }
        };
        assert!(
            !message.trim().is_empty(),
            "{label}: {status} does not say what is wrong: {text}"
        );
        if let Some(needle) = mentions {
            assert!(
                message.contains(&needle),
                "{label}: `{message}` should mention `{needle}`"
            );
        }
        self.tried += 1;
    }

    /// The body-independent bad inputs, for a route that reads a body of `kind`.
    async fn generic(&mut self, surface: Surface, method: Method, path: &str, kind: BodyKind) {
        let json = Some("application/json");
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let mut oversized = b"{\"padding\": \"".to_vec();
        oversized.resize(OVERSIZED, b'x');
        oversized.extend_from_slice(b"\"}");
        let mut cases: Vec<(Option<&'static str>, Vec<u8>, &str)> = vec![
            (json, b"{\"name\": ".to_vec(), "truncated JSON"),
            (json, b"{'name': 'x'}".to_vec(), "single-quoted JSON"),
            (json, b"{} trailing".to_vec(), "trailing garbage"),
            (json, b"\"a string\"".to_vec(), "a string for an object"),
            (json, b"null".to_vec(), "null"),
            (json, b"42".to_vec(), "a number"),
            (json, deep.into_bytes(), "10,000 levels of nesting"),
            (json, oversized, "a body over 1 MiB"),
            (
                json,
                b"{\"name\": \"\xff\xfe\"}".to_vec(),
                "non-UTF-8 bytes",
            ),
            (json, b"\xef\xbb\xbf{}".to_vec(), "a byte-order mark"),
        ];
        match kind {
            BodyKind::Json => cases.extend([
                (
                    Some("text/plain"),
                    b"{}".to_vec(),
                    "Content-Type text/plain",
                ),
                (None, b"{}".to_vec(), "no Content-Type"),
                (json, vec![], "an empty body"),
            ]),
            // Read as JSON whatever it is labelled (Ashby always sends JSON).
            BodyKind::AshbyJson => cases.extend([
                (
                    Some("application/x-www-form-urlencoded"),
                    b"assessment_id=x".to_vec(),
                    "a form body",
                ),
                (json, vec![], "an empty body"),
            ]),
            BodyKind::Form => {
                let form = Some("application/x-www-form-urlencoded");
                let mut big = b"api_key=".to_vec();
                big.resize(OVERSIZED, b'k');
                cases = vec![
                    (json, b"{\"api_key\": \"x\"}".to_vec(), "a JSON body"),
                    (
                        Some("text/plain"),
                        b"api_key=x".to_vec(),
                        "Content-Type text/plain",
                    ),
                    (form, big, "a form over 1 MiB"),
                    (
                        form,
                        b"api_key=%ff%fe&csrf=\xff".to_vec(),
                        "non-UTF-8 bytes",
                    ),
                    (form, b"api_key".to_vec(), "a field without a value"),
                    (form, vec![], "an empty body"),
                ];
            }
        }
        for (content_type, body, what) in cases {
            self.check(Case {
                surface,
                method: method.clone(),
                path: path.to_owned(),
                content_type,
                body,
                what: what.to_owned(),
                mentions: None,
            })
            .await;
        }
    }
}

#[derive(Clone, Copy)]
enum BodyKind {
    Json,
    AshbyJson,
    Form,
}

/// Follow a `$ref` within the document.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} is not in the document")),
        None => schema,
    }
}

/// The JSON types a schema admits (`null` left out).
fn types(doc: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut out: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => vec![],
    };
    for member in schema["oneOf"].as_array().into_iter().flatten() {
        out.extend(types(doc, member));
    }
    out.retain(|t| t != "null");
    out
}

/// A value of the wrong JSON type for the schema, if it names its types.
fn wrong_value(doc: &Value, schema: &Value) -> Option<Value> {
    let types = types(doc, schema);
    let has = |t: &str| types.iter().any(|x| x == t);
    if types.is_empty() {
        None
    } else if has("string") {
        Some(json!(12345))
    } else if has("integer") || has("number") {
        Some(json!("not a number"))
    } else if has("boolean") {
        Some(json!("yes"))
    } else {
        Some(json!("not a list or object"))
    }
}

/// For each field (and the fields of nested objects), a body with that field
/// alone, of the wrong type, and the path an error message should name.
fn wrong_typed_bodies(doc: &Value, schema: &Value, depth: usize) -> Vec<(Value, String)> {
    let schema = resolve(doc, schema);
    // An optional body is `oneOf: [null, the body]`.
    if let Some(body) = schema["oneOf"]
        .as_array()
        .and_then(|members| members.iter().find(|m| m["type"] != "null"))
    {
        return wrong_typed_bodies(doc, body, depth);
    }
    let mut out = vec![];
    if let Some(items) = schema
        .get("items")
        .filter(|_| types(doc, schema) == ["array"])
    {
        for (body, path) in wrong_typed_bodies(doc, items, depth) {
            out.push((json!([body]), path));
        }
        return out;
    }
    let Some(properties) = schema["properties"].as_object() else {
        return out;
    };
    for (name, field) in properties {
        if let Some(wrong) = wrong_value(doc, field) {
            out.push((json!({ name: wrong }), name.clone()));
        }
        if depth == 0 {
            continue;
        }
        let inner: Vec<&Value> = std::iter::once(field)
            .chain(field["oneOf"].as_array().into_iter().flatten())
            .collect();
        for member in inner {
            let member = resolve(doc, member);
            if member["properties"].is_object() || member.get("items").is_some() {
                for (body, path) in wrong_typed_bodies(doc, member, depth - 1) {
                    out.push((json!({ name: body }), format!("{name}.{path}")));
                }
            }
        }
    }
    out
}

/// A path with its parameters filled in with ids that exist nowhere: the
/// body is read before anything is looked up.
fn fill(path: &str) -> String {
    path.replace("{id}", "0190f5c2-7a1e-7b3c-9d4e-5f6a7b8c9d0e")
}

#[tokio::test]
async fn every_endpoint_refuses_bad_input_with_a_clear_4xx() {
    // Hundreds of refusals from one address must not trip the failed-sign-in brake.
    let hub = screenhub_tests::TestHub::spawn_with(|c| c.auth_failure_limit = 1_000_000).await;
    let w = World::with_hub(hub).await;
    let (_, doc) = w.hub.get("/openapi.json").await;
    let (_, cookie) = w.hub.dashboard_session().await;
    let (status, greenhouse) = w
        .hub
        .post(
            "/v1/accounts",
            json!({"name": "Greenhouse Co", "ats": "greenhouse"}),
        )
        .await;
    assert_eq!(status, 201, "{greenhouse}");
    let mut t = Tester {
        w: &w,
        cookie,
        greenhouse_token: greenhouse["external_trigger_token"]
            .as_str()
            .unwrap()
            .to_owned(),
        tried: 0,
        documented: None,
    };

    // The vendor API, route by route from its OpenAPI document.
    let mut routes = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            routes += 1;
            t.documented = Some(op["responses"].clone());
            let concrete = fill(path);
            // A malformed id in the path, and wrong-typed query parameters.
            if path.contains("{id}") {
                for bad in ["%FF%FE", &"x".repeat(5000)] {
                    t.check(Case {
                        surface: Surface::Vendor,
                        method: method.clone(),
                        path: path.replace("{id}", bad),
                        content_type: Some("application/json"),
                        body: b"{}".to_vec(),
                        what: "a malformed id".into(),
                        mentions: None,
                    })
                    .await;
                }
            }
            // Query parameters: a number that is not one, and one nobody knows.
            let query: Vec<&Value> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .collect();
            let mut bad_queries: Vec<(String, String)> = query
                .iter()
                .filter(|p| types(&doc, &p["schema"]) == ["integer"])
                .map(|p| {
                    let name = p["name"].as_str().unwrap().to_owned();
                    (format!("{name}=many"), name)
                })
                .collect();
            if !query.is_empty() {
                bad_queries.push(("colour=red".into(), "colour".into()));
            }
            for (q, name) in bad_queries {
                t.check(Case {
                    surface: Surface::Vendor,
                    method: method.clone(),
                    path: format!("{concrete}?{q}"),
                    content_type: None,
                    body: vec![],
                    what: format!("a bad `{name}`"),
                    mentions: Some(name),
                })
                .await;
            }
            let Some(schema) = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|_| &op["requestBody"]["content"]["application/json"]["schema"])
            else {
                continue;
            };
            t.generic(Surface::Vendor, method.clone(), &concrete, BodyKind::Json)
                .await;
            let bodies = wrong_typed_bodies(&doc, schema, 2);
            assert!(!bodies.is_empty(), "{method} {path}: no fields found");
            for (body, field) in bodies {
                t.check(Case {
                    surface: Surface::Vendor,
                    method: method.clone(),
                    path: concrete.clone(),
                    content_type: Some("application/json"),
                    body: body.to_string().into_bytes(),
                    what: format!("`{field}` of the wrong type: {body}"),
                    mentions: Some(field.rsplit('.').next().unwrap().to_owned()),
                })
                .await;
            }
        }
    }
    t.documented = None;
    assert!(routes >= 30, "only {routes} routes in the OpenAPI document");

    // The partner API: every method Ashby calls.
    let partner = "/ats/ashby";
    for (method, surface) in [
        ("assessment.start", Surface::Partner),
        ("assessment.cancel", Surface::PartnerCancel),
    ] {
        let path = format!("{partner}/{method}");
        t.generic(surface, Method::POST, &path, BodyKind::AshbyJson)
            .await;
    }
    let valid = start_body(&w.type_id, "app-bad-input", "zoe@example.com");
    for field in [
        "/assessment_type_id",
        "/candidate",
        "/candidate/ashby_id",
        "/candidate/first_name",
        "/candidate/last_name",
        "/candidate/email",
        "/candidate/ashby_profile_url",
        "/application",
        "/application/ashby_id",
        "/application/status",
        "/job",
        "/job/ashby_id",
        "/job/name",
        "/job/ashby_job_url",
        "/job/hiringTeam",
        "/additional_fields",
    ] {
        // null is "left out" for the optional ones.
        let optional = ["/job/hiringTeam", "/additional_fields"].contains(&field);
        let wrongs = [json!(12345), json!(["a list"]), Value::Null];
        for wrong in wrongs.into_iter().filter(|v| !(optional && v.is_null())) {
            let mut body = valid.clone();
            *body.pointer_mut(field).unwrap() = wrong.clone();
            t.check(Case {
                surface: Surface::Partner,
                method: Method::POST,
                path: format!("{partner}/assessment.start"),
                content_type: Some("application/json"),
                body: body.to_string().into_bytes(),
                what: format!("`{field}` = {wrong}"),
                mentions: None,
            })
            .await;
        }
    }
    // Loose input: every string Ashby sends has a length limit, and names, ids
    // and emails carry no control characters. Refused with the 422 whose
    // message Ashby shows the recruiter, naming the field.
    let long = |n: usize| json!("x".repeat(n));
    for (field, value) in [
        ("/assessment_type_id", long(256)),
        ("/candidate/ashby_id", long(10_000)),
        ("/candidate/first_name", long(100_000)),
        ("/candidate/first_name", json!("Zo\u{0}ë")),
        ("/candidate/last_name", json!("Ñúñez\u{1b}[31m")),
        (
            "/candidate/email",
            json!(format!("{}@example.com", "z".repeat(400))),
        ),
        (
            "/candidate/ashby_profile_url",
            json!(format!("https://app.ashbyhq.com/{}", "c".repeat(3000))),
        ),
        ("/application/ashby_id", json!("app\u{7}")),
        ("/application/status", long(300)),
        ("/job/ashby_id", json!("job\n1")),
        ("/job/name", long(1_000)),
        ("/job/req_id", long(300)),
        (
            "/job/ashby_job_url",
            json!(format!("https://app.ashbyhq.com/jobs/{}", "j".repeat(3000))),
        ),
        ("/job/hiringTeam/0/userId", json!("u\u{0}1")),
        ("/job/hiringTeam/0/firstName", long(500)),
        ("/job/hiringTeam/0/email", json!("ana\u{8}@acme.test")),
        ("/job/hiringTeam/0/role", json!("Recruiter\u{0}")),
        ("/additional_fields/cf-1", long(20_000)),
        ("/additional_fields/cf-1", json!("night\u{0}shift")),
    ] {
        let mut body = valid.clone();
        *body.pointer_mut(field).unwrap() = value.clone();
        let named = field
            .trim_start_matches('/')
            .replace("/0/", "[0].")
            .replace('/', ".");
        let shown = value.as_str().unwrap().chars().take(12).collect::<String>();
        let res = w
            .hub
            .http
            .post(format!("{}{partner}/assessment.start", w.hub.url()))
            .basic_auth(&w.token, Some(""))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "`{field}` = {shown:?}…");
        let message = res.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // An email too long to be valid gets the email's own message.
        let said = if field == "/candidate/email" {
            message.contains("no valid email address")
        } else {
            message.contains(&named)
        };
        assert!(said, "`{field}`: {message}");
        t.tried += 1;
    }
    let mut crowded = valid.clone();
    crowded["additional_fields"] = (0..101)
        .map(|i| (format!("cf-{i}"), json!("x")))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let (status, body) = w.hub.ats(&w.token, "assessment.start", crowded).await;
    assert_eq!(status, 422, "{body}");
    t.check(Case {
        surface: Surface::PartnerCancel,
        method: Method::POST,
        path: format!("{partner}/assessment.cancel"),
        content_type: Some("application/json"),
        body: json!({ "assessment_id": "a".repeat(10_000) })
            .to_string()
            .into_bytes(),
        what: "a 10,000-character assessment_id".into(),
        mentions: Some("assessment_id".into()),
    })
    .await;
    for wrong in [json!(12345), json!(""), Value::Null, json!({})] {
        t.check(Case {
            surface: Surface::PartnerCancel,
            method: Method::POST,
            path: format!("{partner}/assessment.cancel"),
            content_type: Some("application/json"),
            body: json!({ "assessment_id": wrong }).to_string().into_bytes(),
            what: format!("assessment_id = {wrong}"),
            mentions: None,
        })
        .await;
    }
    // Greenhouse's send_test and response_error: JSON whatever the label.
    let greenhouse = "/ats/greenhouse";
    t.generic(
        Surface::Greenhouse,
        Method::POST,
        &format!("{greenhouse}/send_test"),
        BodyKind::AshbyJson,
    )
    .await;
    let valid = json!({"partner_test_id": "basic",
        "candidate": {"first_name": "Zoë", "last_name": "Núñez", "email": "zoe@example.com",
            "greenhouse_profile_url": "https://app.greenhouse.io/people/1?application_id=2"},
        "url": "https://app.greenhouse.io/integrations/testing_partners/take_home_tests/1"});
    for field in [
        "/partner_test_id",
        "/candidate",
        "/candidate/email",
        "/candidate/first_name",
        "/url",
    ] {
        let texts_are_fine = field == "/candidate/first_name";
        let wrongs = [
            json!(["a list"]),
            json!({"an": "object"}),
            json!("ftp://x y"),
        ];
        for wrong in wrongs
            .into_iter()
            .filter(|w| !(texts_are_fine && w.is_string()))
        {
            let mut body = valid.clone();
            *body.pointer_mut(field).unwrap() = wrong.clone();
            t.check(Case {
                surface: Surface::Greenhouse,
                method: Method::POST,
                path: format!("{greenhouse}/send_test"),
                content_type: Some("application/json"),
                body: body.to_string().into_bytes(),
                what: format!("`{field}` = {wrong}"),
                mentions: None,
            })
            .await;
        }
    }
    t.check(Case {
        surface: Surface::Greenhouse,
        method: Method::GET,
        path: format!("{greenhouse}/test_status"),
        content_type: None,
        body: vec![],
        what: "no partner_interview_id".into(),
        mentions: Some("partner_interview_id".into()),
    })
    .await;
    // Methods that take no parameters ignore the body (Ashby sends `{}`), but
    // a body over the limit is still refused before it is read into memory.
    for method in [
        "assessment.list",
        "customField.list",
        "assessment.customField.list",
        "customFields.fetch",
    ] {
        let res = w
            .hub
            .http
            .post(format!("{}{partner}/{method}", w.hub.url()))
            .basic_auth(&w.token, Some(""))
            .header(CONTENT_TYPE, "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{method} ignores its body");
    }

    // The UI's form posts: the connect page and the dashboard's.
    let (_, link) = w
        .hub
        .post(
            "/v1/connect-sessions",
            json!({ "account_id": w.account_id }),
        )
        .await;
    let link = link["url"].as_str().unwrap();
    let connect = &link[link.find("/connect/").unwrap()..];
    let (_, account) = w.hub.get(&format!("/v1/accounts/{}", w.account_id)).await;
    let form_posts = [
        connect.to_owned(),
        "/dashboard/sign-in".into(),
        "/dashboard/sign-out".into(),
        "/dashboard/deliveries/dlv_01J00000000000000000000000/retry".into(),
        format!(
            "/dashboard/accounts/{}/disable",
            account["id"].as_str().unwrap()
        ),
        "/dashboard/packages/basic/deactivate".into(),
        "/dashboard/endpoints/whep_01J00000000000000000000000/disable".into(),
    ];
    for path in &form_posts {
        t.generic(Surface::Page, Method::POST, path, BodyKind::Form)
            .await;
    }

    // Nothing got through: the account is still active, the link still usable.
    let (_, account) = w.hub.get(&format!("/v1/accounts/{}", w.account_id)).await;
    assert_eq!(account["status"], "active", "{account}");
    let res = w
        .hub
        .http
        .get(format!("{}{connect}", w.hub.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the connect link is unused");

    println!(
        "bad input: {} cases on {routes} vendor API routes, 6 partner API methods and {} form posts; every one a clear refusal (a 4xx; for assessment.cancel, the envelope at 200)",
        t.tried,
        form_posts.len()
    );
    assert!(t.tried >= 350, "only {} cases", t.tried);
}

/// Every URL the hub stores or calls must be an absolute http(s) URL.
#[tokio::test]
async fn urls_must_be_http_or_https() {
    let w = World::new().await;
    let (_, endpoint) = w.hub.get("/v1/webhook-endpoints").await;
    let endpoint_id = endpoint["data"][0]["id"].as_str().unwrap().to_owned();
    let order = "0190f5c2-7a1e-7b3c-9d4e-5f6a7b8c9d0e";
    let bad = [
        "ftp://vendor.example/r/1",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,<script>alert(1)</script>",
        "mailto:ops@vendor.example",
        "gopher://vendor.example",
        "//vendor.example/r/1",
        "/r/1",
        "vendor.example/r/1",
        "http://",
        "https://user:password@vendor.example/r/1",
        "",
        "   ",
    ];
    let too_long = format!("https://vendor.example/{}", "r".repeat(3000));
    let mut tried = 0;
    for url in bad.iter().copied().chain([too_long.as_str()]) {
        let cases = [
            (
                Method::POST,
                "/v1/webhook-endpoints".to_owned(),
                json!({ "url": url }),
                "url",
            ),
            (
                Method::PATCH,
                format!("/v1/webhook-endpoints/{endpoint_id}"),
                json!({ "url": url }),
                "url",
            ),
            (
                Method::PUT,
                format!("/v1/orders/{order}/result"),
                json!({ "outcome": "pass", "report_url": url }),
                "report_url",
            ),
            (
                Method::POST,
                "/v1/accounts".to_owned(),
                json!({ "name": "X", "ats": "ashby", "ats_api_base_url": url }),
                "ats_api_base_url",
            ),
        ];
        for (method, path, body, field) in cases {
            let (status, answer) = w.hub.request(method.clone(), &path, Some(body)).await;
            assert_eq!(status, 422, "{method} {path} with `{url}`: {answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(field),
                "{method} {path} with `{url}`: `{message}` should name {field}"
            );
            tried += 1;
        }
    }
    // A good URL passes the same checks: the order is simply not there.
    let (status, _) = w
        .hub
        .put(
            &format!("/v1/orders/{order}/result"),
            json!({ "outcome": "pass", "report_url": "https://vendor.example/r/1" }),
        )
        .await;
    assert_eq!(status, 404);
    println!("url validation: {tried} bad URLs refused");
}

/// Every committed fuzz input (seeds, and crashes found so far) goes through
/// the same property the fuzz target checks, on every `cargo test`.
#[test]
fn fuzz_corpora_replay_cleanly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for (target, check) in screenhub::bad_input::TARGETS {
        for dir in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                if std::panic::catch_unwind(|| check(&data)).is_err() {
                    panic!("{target} fails on {}", path.display());
                }
                replayed += 1;
            }
        }
    }
    assert!(replayed >= 40, "only {replayed} corpus files found");
    println!("fuzz corpora: {replayed} inputs replayed");
}
