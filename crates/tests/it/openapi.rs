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
