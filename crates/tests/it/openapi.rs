//! The committed `openapi.json` must match what the code generates.
//! Regenerate with `UPDATE_OPENAPI=1 cargo test --workspace --test it openapi`.

#[test]
fn committed_openapi_matches_the_code() {
    let generated = screenhub::api::openapi().to_pretty_json().unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json is out of date with the code; run `UPDATE_OPENAPI=1 cargo test --workspace --test it openapi` and commit it"
    );
}

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every `$ref` in `value` that does not point at something in `doc`.
fn dangling_refs(doc: &Value, value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let resolves = target
                    .strip_prefix('#')
                    .is_some_and(|pointer| doc.pointer(pointer).is_some());
                if !resolves {
                    found.push(target.clone());
                }
            }
            map.values().for_each(|v| dangling_refs(doc, v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| dangling_refs(doc, v, found)),
        _ => {}
    }
}

/// What a validator checks, and what the hub promises on top: parameters
/// where the route template says, references that resolve, every answer the
/// server can give on each operation, and the limits it enforces. Each
/// problem is listed, so one run shows them all.
fn problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut say = |p: String| problems.push(p);
    if !doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1."))
    {
        say("`openapi` must be 3.1.x".into());
    }
    for field in ["title", "version"] {
        if !doc["info"][field].is_string() {
            say(format!("info.{field} is missing"));
        }
    }
    let mut dangling = Vec::new();
    dangling_refs(doc, doc, &mut dangling);
    for target in dangling {
        say(format!("$ref `{target}` points at nothing"));
    }
    let mut operation_ids = HashSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let template: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(name, _)| name))
            .collect();
        for (method, op) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let at = format!("{} {path}", method.to_uppercase());
            if let Some(id) = op["operationId"].as_str() {
                if !operation_ids.insert(id.to_owned()) {
                    say(format!("{at}: operationId `{id}` is used twice"));
                }
            }
            let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
            let mut seen = HashSet::new();
            let mut in_path = BTreeSet::new();
            for p in &params {
                let (name, place) = (
                    p["name"].as_str().unwrap_or(""),
                    p["in"].as_str().unwrap_or(""),
                );
                if !["query", "header", "path", "cookie"].contains(&place) {
                    say(format!("{at}: parameter `{name}` is in `{place}`"));
                }
                if !seen.insert((name, place)) {
                    say(format!(
                        "{at}: parameter `{name}` in {place} is declared twice"
                    ));
                }
                if place == "path" {
                    in_path.insert(name);
                    if p["required"] != true {
                        say(format!("{at}: path parameter `{name}` must be required"));
                    }
                }
                if p["schema"].is_null() && p["content"].is_null() {
                    say(format!("{at}: parameter `{name}` has no schema"));
                }
            }
            if in_path != template {
                say(format!(
                    "{at}: path parameters {in_path:?} do not match the template's {template:?}"
                ));
            }
            let responses = op["responses"].as_object();
            if responses.is_none_or(|r| r.is_empty()) {
                say(format!("{at}: no responses"));
            }
            let codes: BTreeSet<&str> = responses
                .into_iter()
                .flatten()
                .map(|(code, _)| code.as_str())
                .collect();
            for code in &codes {
                let valid = *code == "default"
                    || (code.len() == 3
                        && code.parse::<u16>().is_ok_and(|c| (100..600).contains(&c)));
                if !valid {
                    say(format!("{at}: `{code}` is not a status code"));
                }
            }
            // What the server answers by the shape of the operation.
            let mut expected = vec!["401", "429", "500"];
            if params.iter().any(|p| p["in"] == "query") {
                expected.push("400");
            }
            if !template.is_empty() {
                expected.extend(["400", "404"]);
            }
            if !op["requestBody"].is_null() {
                expected.extend(["400", "413", "415", "422"]);
            }
            if method == "post" {
                expected.extend(["400", "409", "413", "422"]);
            }
            for code in expected {
                if !codes.contains(code) {
                    say(format!("{at}: the {code} it can answer is not documented"));
                }
            }
            for (name, p) in params.iter().map(|p| (p["name"].as_str().unwrap_or(""), p)) {
                if name == "limit" && (p["schema"]["minimum"] != 1 || p["schema"]["maximum"] != 100)
                {
                    say(format!("{at}: `limit` must say minimum 1, maximum 100"));
                }
            }
        }
    }
    // The limits the server enforces on bodies.
    let schemas = &doc["components"]["schemas"];
    for (pointer, key, value) in [
        (
            "/RotateToken/properties/grace_period_seconds",
            "maximum",
            Value::from(2_592_000),
        ),
        (
            "/RotateSecret/properties/grace_period_seconds",
            "maximum",
            Value::from(604_800),
        ),
        (
            "/StatusReport/properties/status",
            "pattern",
            Value::from("^(in_progress|failed)$"),
        ),
        (
            "/StatusReport/properties/label",
            "maxLength",
            Value::from(200),
        ),
        (
            "/StatusReport/properties/reason",
            "maxLength",
            Value::from(500),
        ),
        (
            "/CreateAccount/properties/name",
            "maxLength",
            Value::from(200),
        ),
        (
            "/ResultReport/properties/report_url",
            "maxLength",
            Value::from(2048),
        ),
        (
            "/ResultReport/properties/summary",
            "maxLength",
            Value::from(4000),
        ),
        (
            "/CreateConnectSession/properties/expires_in",
            "maximum",
            Value::from(2_592_000),
        ),
    ] {
        if schemas.pointer(pointer).map(|s| &s[key]) != Some(&value) {
            say(format!(
                "components.schemas{pointer}: `{key}` should be {value}"
            ));
        }
    }
    // Bodies the server accepts empty are not marked required.
    for path in [
        "/v1/accounts/{id}/rotate-token",
        "/v1/webhook-endpoints/{id}/rotate-secret",
    ] {
        if doc["paths"][path]["post"]["requestBody"]["required"] == true {
            say(format!(
                "POST {path}: its body is optional but marked required"
            ));
        }
    }
    problems
}

#[test]
fn the_openapi_document_is_valid() {
    let doc = serde_json::to_value(screenhub::api::openapi()).unwrap();
    let problems = problems(&doc);
    assert!(
        problems.is_empty(),
        "the OpenAPI document has {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_validity_check_catches_what_it_is_for() {
    let mut doc = serde_json::to_value(screenhub::api::openapi()).unwrap();
    assert!(problems(&doc).is_empty());
    let list = &mut doc["paths"]["/v1/orders"]["get"];
    list["parameters"][0]["in"] = "path".into();
    list["responses"].as_object_mut().unwrap().remove("429");
    doc["paths"]["/v1/orders/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["$ref"] = "#/components/schemas/Nothing".into();
    doc["components"]["schemas"]["RotateToken"]["properties"]["grace_period_seconds"]
        .as_object_mut()
        .unwrap()
        .remove("maximum");
    let found = problems(&doc).join("\n");
    for needle in [
        "GET /v1/orders: path parameters",
        "GET /v1/orders: the 429",
        "#/components/schemas/Nothing",
        "RotateToken/properties/grace_period_seconds",
    ] {
        assert!(found.contains(needle), "{needle} not caught:\n{found}");
    }
}
